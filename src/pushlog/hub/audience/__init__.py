"""Audiences of notifications to app users: the filter language (:mod:`._parse`), its compilation to
SQL over users and their devices (:mod:`._compile`) and the queries built on it (:mod:`._query`).
The language is documented in docs/notifications.md."""

from ._compile import EFFECTIVE_LOCALE, EFFECTIVE_TIMEZONE, FIELDS, RECIPIENTS, USER_ID, compile_filter
from ._parse import MAX_FILTER, FilterError, Node, parse_filter
from ._query import MAX_USER_IDS, Reach, audience_condition, audience_node, count, device_rows, sample

__all__ = [
    "EFFECTIVE_LOCALE",
    "EFFECTIVE_TIMEZONE",
    "FIELDS",
    "MAX_FILTER",
    "MAX_USER_IDS",
    "RECIPIENTS",
    "USER_ID",
    "FilterError",
    "Node",
    "Reach",
    "audience_condition",
    "audience_node",
    "compile_filter",
    "count",
    "device_rows",
    "parse_filter",
    "sample",
]
