"""OAuth2 for FCM HTTP v1: a Google service account's JWT assertion exchanged for an access token.

The service-account JSON (Firebase console > Project settings > Service accounts) holds the
``project_id``, ``client_email``, an RSA ``private_key`` with its ``private_key_id`` and the
``token_uri``. :class:`AccessTokens` signs an RS256 assertion (RFC 7523: ``iss`` the client email,
``scope`` firebase.messaging, ``aud`` the ``token_uri``, one hour of validity) with PyJWT, posts it to
``token_uri`` with httpx, caches the access token and fetches a new one ``refresh_margin`` seconds
before it expires (or at once after :meth:`AccessTokens.invalidate`, when FCM answered 401).
Concurrent senders share one exchange through a lock.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import jwt

SCOPE: Final = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME: Final = 3600


class CredentialsError(ValueError):
    """The service-account file is unusable, or Google refused its assertion (a configuration error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: str
    private_key_id: str
    token_uri: str

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> ServiceAccount:
        if info.get("type") != "service_account":
            raise CredentialsError("not a service-account key file (type must be 'service_account')")
        fields = ("project_id", "client_email", "private_key", "private_key_id", "token_uri")
        missing = [name for name in fields if not isinstance(info.get(name), str) or not info[name]]
        if missing:
            raise CredentialsError(f"service-account file lacks {', '.join(missing)}")
        return cls(**{name: info[name] for name in fields})

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccount:
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read the FCM service-account file {path}: {exc}") from None
        if not isinstance(info, dict):
            raise CredentialsError(f"{path} is not a JSON object")
        return cls.from_info(info)

    def assertion(self, now: float) -> str:
        """The signed RS256 JWT exchanged at ``token_uri``."""
        issued = int(now)
        claims = {
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
        }
        try:
            return jwt.encode(
                claims, self.private_key, algorithm="RS256", headers={"kid": self.private_key_id}
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise CredentialsError(f"the service account's private_key cannot sign: {exc}") from None


class AccessTokens:
    """Cached OAuth2 access tokens for one service account."""

    def __init__(
        self,
        account: ServiceAccount,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = 300.0,
    ) -> None:
        self._account = account
        self._client = client
        self._clock = clock
        self._margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.exchanges = 0  # how many assertions were exchanged (observability, tests)

    async def token(self) -> str:
        """A valid access token (raises :class:`CredentialsError` or ``httpx.HTTPError``)."""
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                self._token, self._expires_at = await self._exchange()
            return self._token

    def invalidate(self, token: str) -> None:
        """FCM refused ``token`` (401): the next :meth:`token` call exchanges a new assertion."""
        if self._token == token:
            self._token = None

    async def _exchange(self) -> tuple[str, float]:
        now = self._clock()
        response = await self._client.post(
            self._account.token_uri,
            data={"grant_type": GRANT_TYPE, "assertion": self._account.assertion(now)},
        )
        self.exchanges += 1
        if response.status_code >= 500:
            response.raise_for_status()  # transient: the sender retries
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not isinstance(answer.get("access_token"), str):
            said = answer.get("error_description") or answer.get("error") or response.text[:200]
            raise CredentialsError(f"the OAuth token endpoint refused the service account: {said}")
        lifetime = float(answer.get("expires_in") or ASSERTION_LIFETIME)
        return answer["access_token"], now + lifetime
