"""The APNs provider authentication token: an ES256 JWT signed with the team's .p8 key.

Apple wants the same token reused for at least 20 minutes (renewing more often answers 429
TooManyProviderTokenUpdates) and refuses one older than 60 minutes (403 ExpiredProviderToken).
:class:`ProviderToken` signs one with PyJWT (header ``alg`` ES256 and ``kid`` the key id; claims ``iss``
the team id and ``iat``), hands the same string to every stream, and signs a new one once it is
:data:`RENEW_AFTER` seconds old. :meth:`ProviderToken.renew` replaces a token APNs called expired, but
only the token that was refused: when many streams are refused at once, the first renews and the others
get its new token, so a burst never causes TooManyProviderTokenUpdates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

MIN_AGE: Final = 20 * 60
MAX_AGE: Final = 60 * 60
#: Inside Apple's window, with ten minutes to spare for clock skew and in-flight requests.
RENEW_AFTER: Final = 50 * 60


class ApnsKeyError(ValueError):
    """The .p8 file is not an EC P-256 private key (a configuration error)."""


def load_key(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ApnsKeyError(f"the APNs key is not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ApnsKeyError("the APNs key must be an EC P-256 key (the AuthKey_XXXX.p8 from Apple)")
    return key


def load_key_file(path: str | Path) -> ec.EllipticCurvePrivateKey:
    try:
        return load_key(Path(path).read_bytes())
    except OSError as exc:
        raise ApnsKeyError(f"cannot read the APNs key {path}: {exc}") from None


class ProviderToken:
    """One shared provider JWT, renewed after :data:`RENEW_AFTER` seconds or when APNs calls it expired."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        key_id: str,
        team_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._key_id = key_id
        self._team_id = team_id
        self._clock = clock
        self._token = ""
        self._issued = 0.0
        self.signed = 0  # how many tokens were signed (observability, tests)

    def current(self) -> str:
        """The token to send now (signs a new one when there is none or it is due for renewal)."""
        if not self._token or self._clock() - self._issued >= RENEW_AFTER:
            self._sign()
        return self._token

    def renew(self, refused: str) -> str:
        """APNs answered ExpiredProviderToken for ``refused``: a new token (once per refused token)."""
        if refused == self._token:
            self._sign()
        return self._token

    def _sign(self) -> None:
        now = self._clock()
        issued = int(now)
        if self._token and issued <= int(self._issued):
            issued = int(self._issued) + 1  # a renewal within the same second must still differ
        self._token = jwt.encode(
            {"iss": self._team_id, "iat": issued}, self._key, algorithm="ES256", headers={"kid": self._key_id}
        )
        self._issued = now
        self.signed += 1
