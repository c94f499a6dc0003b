"""docs/integrations.md's structlog snippets run as printed, in fresh processes against a stand-in hub:
each event arrives once and no log line shows pushlog's marker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import StandInHub
from tests.integrations.recipes import recipe_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks between the heading ``section`` and the next heading of the same level."""
    text = DOC.read_text()
    level = section.split(" ", 1)[0]
    start = text.index(f"\n{section}\n")
    rest = text[start + len(section) + 2 :]
    following = re.search(rf"^{level} ", rest, flags=re.MULTILINE)
    body = rest[: following.start()] if following else rest
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


SNIPPETS = python_blocks("## structlog")


def test_the_structlog_section_has_its_three_setups() -> None:
    assert len(SNIPPETS) == 3, SNIPPETS
    assert "drop_marker" in SNIPPETS[0] and "JSONRenderer" in SNIPPETS[0]
    assert "wrap_for_formatter" in SNIPPETS[1] and "render_to_log_kwargs" in SNIPPETS[2]
    for code in SNIPPETS:
        assert "..." not in code, "a snippet must run as printed"


@pytest.mark.parametrize(
    "n", range(3), ids=["processor-chain", "processor-formatter", "render-to-log-kwargs"]
)
def test_snippet_runs_as_printed(hub: StandInHub, n: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SNIPPETS[n]],
        env=recipe_env(hub.dsn),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout + proc.stderr
    assert "Payment failed" in printed
    assert "_pushlog_sent" not in printed, printed
    hub.wait_for(lambda: len(hub.accepted_events()) >= 1)
    (event,) = hub.accepted_events()
    assert (event["title"], event["level"]) == ("Payment failed", "warning")
    assert event["metadata"]["user_id"] == 42


def test_every_integration_and_recipe_ends_with_a_check_it_arrived_step() -> None:
    text = DOC.read_text()
    sections = re.split(r"^(?=#{2,3} )", text, flags=re.MULTILINE)
    named = {s.splitlines()[0]: s for s in sections if s.startswith("#")}
    wanted = [
        h for h in named if h.startswith("### ") or h in ("## structlog", "## OpenTelemetry", "## Sentry")
    ]
    assert len(wanted) >= 9, wanted
    missing = [h for h in wanted if "Check it arrived" not in named[h]]
    assert not missing, missing
    celery = next(s for h, s in named.items() if h.startswith("### Celery"))
    assert "memory://" in celery and "CELERY_BROKER_URL" in celery  # why a separate worker needs a broker
