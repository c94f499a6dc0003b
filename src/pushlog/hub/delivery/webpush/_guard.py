"""Send-time SSRF guard: the sender's connector only ever connects to public addresses.

A device's endpoint is validated at registration (:mod:`pushlog.hub._endpoints`), but DNS can answer
differently later (DNS rebinding: a host that resolved to a public address at registration resolves
to 127.0.0.1, 10.x or 169.254.169.254 at send time). :class:`PublicOnlyResolver` wraps aiohttp's
resolver for the sender's :class:`aiohttp.TCPConnector`: it drops every resolved address that
:func:`~pushlog.hub._endpoints.address_problem` objects to and raises :class:`RefusedAddress` (an
``OSError``, which aiohttp reports as ``ClientConnectorDNSError``) when none is left, so the
connection is never opened. aiohttp does not ask the resolver for IP-literal hosts; those, like the
scheme, are checked before each request with :func:`~pushlog.hub._endpoints.check_url`.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ..._endpoints import address_problem, parse_address


class RefusedAddress(OSError):
    """Every address the endpoint's host resolved to is private, loopback, link-local or similar."""


class PublicOnlyResolver(AbstractResolver):
    """Resolve with ``inner`` (default: aiohttp's ``DefaultResolver``), keeping public addresses only."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refused: list[str] = []
        for answer in answers:
            address = parse_address(answer["host"])
            problem = "not an IP address" if address is None else address_problem(address)
            if problem is None:
                kept.append(answer)
            else:
                refused.append(f"{answer['host']} ({problem})")
        if not kept:
            raise RefusedAddress(
                f"refused endpoint: {host} resolves only to non-public addresses: "
                + (", ".join(refused) or "none")
            )
        return kept

    async def close(self) -> None:
        await self._inner.close()
