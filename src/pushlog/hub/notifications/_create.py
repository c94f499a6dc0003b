"""What a notification copies from its template when it is made (the API and triggers both do)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def template_content(template: Mapping[str, Any]) -> dict[str, Any]:
    """The ``content`` of a notification from a stored template (a copy: later edits do not change it)."""
    return {
        "template": template["name"],
        "locales": dict(template["locales"]),
        "default_locale": template["default_locale"],
    }
