"""Respecting people's attention: preferences, quiet hours, frequency caps, digests.

Pure decisions, no database: :func:`decide` is the one gate every sender of deliveries goes through
(``store/outbox.enqueue`` calls it for each device before a delivery row exists);
:mod:`pushlog.hub.store.preferences` keeps the documents, ``hub/_attention.py`` runs the periodic
release of held pushes. docs/preferences.md describes the behaviour.
"""

from ._gate import (
    DELIVER,
    PERIODS,
    Decision,
    Deliver,
    Digest,
    Hold,
    PushFacts,
    Recipient,
    SentWithin,
    Skip,
    decide,
    release_at,
)
from ._link import LinkError, make_link_token, verify_link_token
from ._prefs import (
    CATEGORY_NAME,
    DEFAULT_DOCUMENT,
    WEEKDAYS,
    Cap,
    Category,
    CategoryMode,
    DigestSchedule,
    PreferenceDocument,
    QuietHours,
    Reason,
    check_timezone,
    zone,
)
from ._schedule import next_digest, quiet_until
from ._summary import make_summary, summary_fields

__all__ = [
    "CATEGORY_NAME",
    "DEFAULT_DOCUMENT",
    "DELIVER",
    "PERIODS",
    "WEEKDAYS",
    "Cap",
    "Category",
    "CategoryMode",
    "Decision",
    "Deliver",
    "Digest",
    "DigestSchedule",
    "Hold",
    "LinkError",
    "PreferenceDocument",
    "PushFacts",
    "QuietHours",
    "Reason",
    "Recipient",
    "SentWithin",
    "Skip",
    "check_timezone",
    "decide",
    "make_link_token",
    "make_summary",
    "next_digest",
    "quiet_until",
    "release_at",
    "summary_fields",
    "verify_link_token",
    "zone",
]
