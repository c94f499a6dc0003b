"""A rule's declaration: :class:`RuleSpec`, checked once from a :class:`~pushlog.hub._models.RuleRequest`
whichever way it came (API, rules file, ``pushlog.expect``), and stored as JSON in ``rules.spec``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from ..._levels import Level, parse_level
from .._errors import ApiError
from .._models import RuleMatch, RuleRequest, describe, duration_field, invalid
from ..store.heartbeats import default_grace

KINDS: Final = ("expect", "threshold", "resolve", "escalate")
#: The fields each kind needs (first) and may take.
_NEEDS: Final = {
    "expect": ("every",),
    "threshold": ("count", "within"),
    "resolve": ("quiet",),
    "escalate": ("steps",),
}
_TAKES: Final = {
    "expect": ("every", "grace", "level", "title"),
    "threshold": ("count", "within", "rate", "level", "title"),
    "resolve": ("quiet",),
    "escalate": ("steps",),
}
DEFAULT_ALERT_LEVEL: Final = Level.ERROR
_A: Final = {"expect": "an", "threshold": "a", "resolve": "a", "escalate": "an"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSpec:
    """A checked rule declaration (durations in seconds)."""

    kind: str
    match: dict[str, Any] = field(default_factory=dict)
    every_s: float | None = None
    grace_s: float | None = None
    count: int | None = None
    within_s: float | None = None
    #: threshold: the window must also hold ``rate`` times its usual count (docs/rules.md).
    rate: float | None = None
    quiet_s: float | None = None
    level: str | None = None
    title: str | None = None
    #: escalate: ``[{"after_s", "group"}]``, in order of ``after_s``.
    steps: list[dict[str, Any]] | None = None
    #: Not evaluated (neither on ingest nor as time passes) until declared again without it.
    paused: bool = False

    @property
    def alert_level(self) -> Level:
        return parse_level(self.level) if self.level else DEFAULT_ALERT_LEVEL

    def to_json(self) -> dict[str, Any]:
        """The stored form (``rules.spec``): only what is set."""
        data: dict[str, Any] = {"match": dict(self.match)}
        for name in ("every_s", "grace_s", "count", "within_s", "rate", "quiet_s", "level", "title", "steps"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.paused:  # stored only when set: a running rule's spec stays what it was without the field
            data["paused"] = True
        return data

    @classmethod
    def from_json(cls, kind: str, data: dict[str, Any]) -> RuleSpec:
        return cls(kind=kind, **{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS: Final = frozenset(
    (
        "match",
        "every_s",
        "grace_s",
        "count",
        "within_s",
        "rate",
        "quiet_s",
        "level",
        "title",
        "steps",
        "paused",
    )
)


def _seconds(value: float | str | None, name: str) -> float | None:
    return duration_field(value, name, at_least=1.0)


def spec_from_request(request: RuleRequest) -> RuleSpec:
    """Check the kind's fields (422 naming the field) and normalise durations and defaults."""
    given = {
        name
        for name in ("every", "grace", "count", "within", "rate", "quiet", "level", "title", "steps")
        if getattr(request, name) is not None
    }
    for name in _NEEDS[request.kind]:
        if name not in given:
            raise invalid(name, f"required for {_A[request.kind]} {request.kind} rule")
    for name in sorted(given - set(_TAKES[request.kind])):
        raise invalid(name, f"not used by {_A[request.kind]} {request.kind} rule")
    every = _seconds(request.every, "every")
    grace = _seconds(request.grace, "grace")
    if request.kind == "expect" and grace is None and every is not None:
        grace = default_grace(every)
    if request.kind == "threshold" and (request.count or 0) < 2:
        raise invalid("count", "must be at least 2 (one event is already pushed by its level)")
    match = msgspec.to_builtins(request.match) if request.match is not None else {}
    steps: list[dict[str, Any]] | None = None
    if request.steps is not None:
        steps = []
        last = 0.0
        for index, step in enumerate(request.steps):
            after = _seconds(step.after, f"steps[{index}].after") or 0.0
            if after <= last:
                raise invalid(f"steps[{index}].after", "must be later than the step before")
            steps.append({"after_s": after, "group": step.group})
            last = after
    return RuleSpec(
        kind=request.kind,
        match=match,
        every_s=every,
        grace_s=grace,
        count=request.count,
        within_s=_seconds(request.within, "within"),
        rate=request.rate,
        quiet_s=_seconds(request.quiet, "quiet"),
        level=request.level,
        title=request.title,
        steps=steps,
        paused=bool(request.paused),
    )


def parse_rule(data: Any, where: str = "") -> RuleSpec:
    """A rule from plain data (a TOML table, CLI options): 422-style :class:`ApiError` when invalid."""
    try:
        request = msgspec.convert(data, RuleRequest)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", describe(exc, where)) from None
    return spec_from_request(request)


def match_model(spec: RuleSpec) -> RuleMatch:
    return msgspec.convert(spec.match, RuleMatch)
