"""Push endpoint validation: no SSRF through device registrations.

A Web Push endpoint must be ``https://`` and its host must resolve only to public unicast addresses:
loopback, private (RFC 1918, ULA), link-local, multicast, unspecified, reserved and shared/CGNAT
addresses are refused, including IPv4-mapped IPv6 forms. ``allow_private`` (the hub's development
flag) lifts both rules so local stand-in push services can be used.

The same rules hold at send time: :func:`check_url` (everything but DNS) runs before every Web Push
request, and the sender's connector resolves through a guard that keeps only addresses for which
:func:`address_problem` finds nothing, so a host that re-resolves to a private address later (DNS
rebinding) is never connected to.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable

Resolver = Callable[[str, int], Iterable[str]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class EndpointError(ValueError):
    """The endpoint is not acceptable; the message says why in one line."""


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (blocking; call it off the event loop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``address`` may not be a push endpoint, or ``None`` when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared (CGNAT)", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an IP address (an IPv6 zone ``%eth0`` is dropped), or ``None`` for a host name."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def check_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The checks that need no DNS: scheme, shape, port, and a literal or ``localhost`` host.

    Returns the host and port still to be resolved; raises :class:`EndpointError` otherwise. The
    hub runs this at registration (before resolving) and again before every Web Push send.
    """
    if len(url) > 2048:
        raise EndpointError("endpoint is longer than 2048 characters")
    parts = urllib.parse.urlsplit(url)
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise EndpointError("endpoint must be an https:// URL")
    host = parts.hostname
    if not host:
        raise EndpointError("endpoint has no host")
    if parts.username or parts.password:
        raise EndpointError("endpoint must not contain credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointError("endpoint has an invalid port") from None
    if allow_private:
        return host, port
    literal = parse_address(host)
    if literal is not None:
        problem = address_problem(literal)
        if problem:
            raise EndpointError(f"endpoint host {host} is a {problem} address ({literal})")
    elif host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        raise EndpointError(f"endpoint host {host} is a loopback address")
    return host, port


def validate_endpoint(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> str:
    """Return ``url`` if it is an acceptable push endpoint; raise :class:`EndpointError` otherwise."""
    host, port = check_url(url, allow_private=allow_private)
    if allow_private or parse_address(host) is not None:
        return url
    try:
        resolved = list(resolver(host, port))
    except OSError as exc:
        raise EndpointError(f"endpoint host {host} does not resolve ({exc})") from None
    if not resolved:
        raise EndpointError(f"endpoint host {host} does not resolve")
    for text in resolved:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        problem = address_problem(address)
        if problem:
            raise EndpointError(f"endpoint host {host} is a {problem} address ({address})")
    return url
