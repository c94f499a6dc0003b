"""Firebase Cloud Messaging, HTTP v1 API, authorised by a Google service account (OAuth2 JWT bearer).

JWTs are signed with PyJWT and the token exchange and sends go through httpx (already the hub's HTTP
client), rather than google-auth: google-auth's transports are synchronous (requests) and its asyncio
support is experimental, while the exchange itself is one form POST; PyJWT also signs APNs' ES256
provider tokens, so one well-kept JWT library serves both native transports.
"""

from ._message import MAX_MESSAGE_BYTES, android_priority
from ._oauth import SCOPE, AccessTokens, CredentialsError, ServiceAccount
from ._sender import FCM_BASE_URL, FcmSender
from ._status import QUOTA_BACKOFF, classify, reason_of

__all__ = [
    "FCM_BASE_URL",
    "MAX_MESSAGE_BYTES",
    "QUOTA_BACKOFF",
    "SCOPE",
    "AccessTokens",
    "CredentialsError",
    "FcmSender",
    "ServiceAccount",
    "android_priority",
    "classify",
    "reason_of",
]
