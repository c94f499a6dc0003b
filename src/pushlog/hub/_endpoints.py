"""Push endpoint validation: no SSRF through device registrations.

A Web Push endpoint must be ``https://`` and its host must resolve only to globally reachable
addresses: :func:`address_problem` names loopback, private (RFC 1918, ULA), link-local, multicast,
unspecified, reserved and shared/CGNAT addresses, then refuses anything else ``ipaddress`` does not
call ``is_global`` plus the few special-purpose ranges Python 3.11's table misses (:data:`_SPECIAL`).
An IPv6 address that carries an IPv4 address (IPv4-mapped and -compatible, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``, Teredo ``2001::/32``) is judged by the IPv4 address it leads to as well, so
``2002:7f00:1::`` (6to4 for 127.0.0.1) is loopback. ``allow_private`` (the hub's development flag)
lifts both rules so local stand-in push services can be used.

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

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Special-purpose ranges (IANA registries) that Python 3.11's ``is_global`` still calls global.
_SPECIAL: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("192.88.99.0/24"),  # 6to4 relay anycast (deprecated)
)


class EndpointError(ValueError):
    """The endpoint is not acceptable; the message says why in one line."""


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (blocking; call it off the event loop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, bool] | None:
    """The IPv4 address an IPv6 form leads to: ``(form, ipv4, wrapper_counts)``, or ``None``.

    ``wrapper_counts`` says whether the IPv6 address itself must also be global: for 6to4 and Teredo
    it is routed as IPv6 first; IPv4-mapped/-compatible and NAT64 addresses only stand for the
    IPv4 one (and ``ipaddress`` calls those IPv6 ranges reserved).
    """
    if address.ipv4_mapped is not None:
        return ("IPv4-mapped", address.ipv4_mapped, False)
    if address in _NAT64:
        return ("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), False)
    if address.sixtofour is not None:
        return ("6to4", address.sixtofour, True)
    if address.teredo is not None:
        return ("Teredo", address.teredo[1], True)
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, but not :: and ::1
        return ("IPv4-compatible", ipaddress.IPv4Address(int(address)), False)
    return None


def _own_problem(address: IPAddress) -> str | None:
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared (CGNAT)", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("special-purpose", any(address in net for net in _SPECIAL if net.version == address.version)),
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` may not be a push endpoint, or ``None`` when it is globally reachable."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            form, inner, wrapper_counts = embedded
            problem = _own_problem(inner)
            if problem:
                return f"{problem} ({form} form of {inner})"
            return _own_problem(address) if wrapper_counts else None
    return _own_problem(address)


def parse_address(text: str) -> IPAddress | None:
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
