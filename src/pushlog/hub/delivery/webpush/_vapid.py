"""VAPID (RFC 8292): the application server's signed identity on every Web Push request.

A :class:`VapidSigner` holds the hub's P-256 private key and hands out ``Authorization`` header values
of the form ``vapid t=<JWT>,k=<public key>``. The JWT is ES256 with the claims ``aud`` (the push
endpoint's origin, ``scheme://host[:port]``), ``exp`` (at most 12 hours ahead; services reject more than
24 hours) and ``sub`` (a ``mailto:`` or ``https:`` contact).

Signing is cheap but not free, and Apple's service rate-limits new tokens, so one token is cached per
push-service origin and renewed once less than a quarter of its lifetime remains. Claims are built fresh
for each token: nothing the caller passed in is ever mutated (pywebpush's ``webpush()`` writes ``aud``
and ``exp`` into the caller's dict, so a shared dict keeps the first service's ``aud``).
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

#: Longest token lifetime we issue (RFC 8292 allows 24 h; we stay well inside it).
MAX_TOKEN_LIFETIME = 12 * 3600


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs and Web Push keys use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_vapid_keys() -> str:
    """A new VAPID private key as PKCS#8 PEM text (what the hub stores in its settings)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def load_private_key(private_pem: str) -> ec.EllipticCurvePrivateKey:
    """Load a PEM private key and insist it is a P-256 key; ValueError otherwise."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the VAPID key must be a P-256 (prime256v1) EC private key")
    return key


def _raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_key_b64(private_pem: str) -> str:
    """The ``applicationServerKey`` browsers subscribe with: base64url of the uncompressed point."""
    return b64url(_raw_public(load_private_key(private_pem)))


def origin_of(endpoint: str) -> str:
    """``scheme://host[:port]`` of a push endpoint (the JWT's ``aud``); default ports are dropped."""
    cut = endpoint.find("/", endpoint.find("//") + 2) if "//" in endpoint else -1
    return _origin(endpoint if cut < 0 else endpoint[:cut])


@functools.lru_cache(maxsize=1024)
def _origin(prefix: str) -> str:
    # Cached per scheme://netloc: a fan-out goes to thousands of endpoints on a handful of services.
    parts = urlsplit(prefix)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) push endpoint: {prefix!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def validate_subject(subject: str) -> str:
    """Check the ``sub`` claim: ``mailto:`` or ``https:``, no whitespace. Returns it unchanged."""
    if not subject.startswith(("mailto:", "https:")) or any(c.isspace() for c in subject):
        raise ValueError(f"VAPID subject must be a mailto: or https: URI without spaces, got {subject!r}")
    if subject in ("mailto:", "https:"):
        raise ValueError(f"VAPID subject is empty: {subject!r}")
    return subject


@dataclass(frozen=True, slots=True)
class _Token:
    header: str
    expires_at: float


class VapidSigner:
    """Issues and caches VAPID ``Authorization`` headers per push-service origin.

    ``clock`` returns Unix seconds (``time.time`` by default; tests inject their own).
    """

    def __init__(
        self,
        private_pem: str,
        subject: str,
        *,
        lifetime: int = MAX_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 60 <= lifetime <= MAX_TOKEN_LIFETIME:
            raise ValueError(f"VAPID token lifetime must be 60..{MAX_TOKEN_LIFETIME} s, got {lifetime}")
        self._key = load_private_key(private_pem)
        self._subject = validate_subject(subject)
        self._public = b64url(_raw_public(self._key))
        self._lifetime = lifetime
        self._clock = clock
        self._cache: dict[str, _Token] = {}
        self.tokens_signed = 0

    @property
    def public_key(self) -> str:
        return self._public

    def authorization(self, endpoint: str) -> str:
        """The ``Authorization`` header value for a request to ``endpoint``."""
        aud = origin_of(endpoint)
        now = self._clock()
        token = self._cache.get(aud)
        # Renew when less than a quarter of the lifetime is left, so a token never expires in flight.
        if token is None or token.expires_at - now < self._lifetime / 4:
            token = self._sign(aud, now)
            self._cache[aud] = token
        return token.header

    def _sign(self, aud: str, now: float) -> _Token:
        exp = int(now) + self._lifetime
        header = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
        claims = {"aud": aud, "exp": exp, "sub": self._subject}
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        self.tokens_signed += 1
        jwt = f"{header}.{payload}.{signature}"
        return _Token(header=f"vapid t={jwt},k={self._public}", expires_at=float(exp))
