"""Apple Push Notification service: token-based (.p8 key) provider auth over HTTP/2.

The provider JWT is signed with PyJWT (ES256 through ``cryptography``) and sent over httpx's HTTP/2
client (``h2``), the same libraries the FCM sender uses.
"""

from ._payload import MAX_PAYLOAD_BYTES, collapse_id, interruption_level
from ._sender import HOSTS, ApnsSender
from ._status import CONFIG_REASONS, classify, reason_of
from ._token import MAX_AGE, MIN_AGE, RENEW_AFTER, ApnsKeyError, ProviderToken, load_key, load_key_file

__all__ = [
    "CONFIG_REASONS",
    "HOSTS",
    "MAX_AGE",
    "MAX_PAYLOAD_BYTES",
    "MIN_AGE",
    "RENEW_AFTER",
    "ApnsKeyError",
    "ApnsSender",
    "ProviderToken",
    "classify",
    "collapse_id",
    "interruption_level",
    "load_key",
    "load_key_file",
    "reason_of",
]
