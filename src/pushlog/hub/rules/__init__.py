"""Rules over the event stream (docs/rules.md): expectations, thresholds and quiet-time resolution,
evaluated on the hub as events are ingested and as time passes, with their state in the database.

Cut: ``_spec.py`` (a declaration, checked), ``_match.py`` (a rule's match compiled), ``_engine.py``
(evaluation on ingest and ``run_due``), ``_task.py`` (the periodic pass), ``_file.py`` (the TOML
rules file). The rows are ``store/rules.py``'s; resolving alerts is ``store/alerts.py``'s.
"""

from __future__ import annotations

from ._engine import Compiled, Due, RulesEngine, alert_fingerprint, declare
from ._file import RulesFile, RulesFileError, apply_rules_file, read_rules_file
from ._spec import KINDS, RuleSpec, parse_rule, spec_from_request
from ._task import RulesTask

__all__ = [
    "KINDS",
    "Compiled",
    "Due",
    "RuleSpec",
    "RulesEngine",
    "RulesFile",
    "RulesFileError",
    "RulesTask",
    "alert_fingerprint",
    "apply_rules_file",
    "declare",
    "parse_rule",
    "read_rules_file",
    "spec_from_request",
]
