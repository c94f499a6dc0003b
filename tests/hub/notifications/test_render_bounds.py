"""What one template render may cost (``hub/notifications/_render.py``): loop iterations and calls,
amplifying string operations and each field's output are bounded, and a render beyond a bound is a
:class:`RenderError` that names the field and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from pushlog._event import MAX_TITLE
from pushlog.hub.notifications import RenderError, _render, render
from pushlog.hub.notifications._render import MAX_PRODUCT, MAX_RENDER_SECONDS, MAX_STEPS


@pytest.fixture(autouse=True)
def stopped_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render deadlines on a clock that stands still: the step bounds are tested whatever the load."""
    monkeypatch.setattr(_render, "_monotonic", lambda: 0.0)


def _title(source: str, **custom: Any) -> str:
    template = {"default_locale": "en", "locales": {"en": {"title": source}}}
    return render(template, user={"id": "u1", "custom": custom}, data={}, locale=None).title


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{% for i in range(100000) %}{% endfor %}x", f"more than {MAX_STEPS} loop iterations and calls"),
        (
            "{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}x",
            f"more than {MAX_STEPS} loop iterations and calls",
        ),
        (
            "{% macro f() %}{% endmacro %}{% for i in range(6000) %}{{ f() }}{% endfor %}x",
            f"more than {MAX_STEPS} loop iterations and calls",  # 6,000 iterations and 6,000 calls
        ),
        ("{{ 'x' | center(1000000000) }}", f"longer than {MAX_PRODUCT} characters"),
        ("{{ 'x' | indent(1000000000, true) }}", f"longer than {MAX_PRODUCT} characters"),
        ("{{ '%1000000000s' % 'x' }}", "a % format width"),
        ("{{ '%*s' % (1000000000, 'x') }}", "a % format width"),
        ("{{ '%1000000000d' | format(1) }}", "a % format width"),
        ("{{ '{:>1000000000}'.format('x') }}", "a format width"),
        ("{{ ('a' * 1000) | replace('', 'y' * 1000) }}", "a replace result"),
        ("{{ 'x' * 10000000 }}", "a product longer than"),
    ],
)
def test_a_costly_template_is_a_render_error_with_the_reason(source: str, reason: str) -> None:
    with pytest.raises(RenderError) as refused:
        _title(source)
    assert str(refused.value).startswith("en.title: ") and reason in str(refused.value)


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ 'x' | center(5) }}|", "x  |"),
        ("{{ '%05d' % 42 }} {{ '%s-%s' | format(1, 2) }} {{ '{:>3}'.format(7) }}", "00042 1-2   7"),
        ("Order 1234567: {{ 'aXb' | replace('X', '--') }}", "Order 1234567: a--b"),
        ("{% for x in range(3) recursive %}{{ x }}{% endfor %}", "012"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, shown: str) -> None:
    assert _title(source) == shown


def test_output_past_a_fields_limit_is_never_built() -> None:
    """Twice the step budget of one-character iterations: generation stops at the title's limit, so
    the render succeeds with the text the push would have been cut to anyway."""
    source = "  {% for i in range(" + str(2 * MAX_STEPS) + ") %}x{% endfor %}"
    assert _title(source) == "x" * MAX_TITLE


def test_the_budget_is_per_render_not_per_process() -> None:
    source = "{% for i in range(" + str(MAX_STEPS // 2) + ") %}{% endfor %}{{ user.id }}"
    for _ in range(3):
        assert _title(source) == "u1"


def test_a_render_past_its_deadline_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step reads the clock; here every read is a second later than the one before."""
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(_render, "_monotonic", lambda: float(next(ticks)))
    with pytest.raises(RenderError, match=f"takes longer than {MAX_RENDER_SECONDS} s"):
        _title("{% for i in range(5) %}{% endfor %}x")
