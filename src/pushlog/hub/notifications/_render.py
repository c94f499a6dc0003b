"""Notification text per user: Jinja2 templates in the sandboxed environment, per locale.

A template has sources (``title``, ``body``, ``link``, ``image``) per locale and a default locale.
:func:`pick_locale` chooses the sources for a recipient's locale: the exact locale, else its
language (``de-AT`` -> ``de``), else the default. Variables: ``user`` (``id``, ``locale``,
``timezone``, ``plan``, ``country``, ``custom``), ``data`` (the notification's ``data``) and
``locale`` (the one chosen). Undefined variables are errors (``{{ user.custom.name | default("there") }}``
for optional ones), so a template that does not fit a user fails that user's delivery with the reason
instead of sending a hole.

The sandbox refuses unsafe attribute access. On top of it, one render (all fields for one user) is
bounded: :data:`MAX_STEPS` loop iterations and calls together (loops are counted by rewriting each
``for`` to iterate through :meth:`_BoundedSandbox.counted`), :data:`MAX_RENDER_SECONDS` of wall time
(checked at each step), operations that amplify a string (``*``, ``**``, widths of ``%``,
``str.format``, ``center``, ``indent``, and ``replace``) to :data:`MAX_PRODUCT` characters, and each
field's output stops being generated once it passes its limit (the event limits, :data:`FIELDS`). A
render beyond a bound raises :class:`RenderError` with the reason: that user's delivery fails, the
send goes on.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..._event import MAX_BODY, MAX_TITLE, MAX_URL

#: Template fields and the most characters each renders to (longer output is cut).
FIELDS: Final = {"title": MAX_TITLE, "body": MAX_BODY, "link": MAX_URL, "image": MAX_URL}
#: Largest string/list a template may build with ``*``, ``%``, ``format``, ``center``, ``indent`` or
#: ``replace``, and largest exponent of ``**``.
MAX_PRODUCT: Final = 100_000
_MAX_EXPONENT: Final = 100
#: Loop iterations plus calls one render (every field for one user) may make.
MAX_STEPS: Final = 10_000
#: Wall time one render may take (renders run on the dispatcher's event loop).
MAX_RENDER_SECONDS: Final = 0.2
#: Numbers in a printf-style conversion (``%-08.3f``: 8 and 3).
_PRINTF_SPEC: Final = re.compile(r"%[-+ #0]*(\*|\d*)(?:\.(\*|\d*))?[a-zA-Z%]")
#: Numbers in a ``str.format`` field's format spec (``{:>1000}``).
_FORMAT_SPEC: Final = re.compile(r"\{[^{}]*:[^{}\d]*(\d+)(?:\.(\d+))?")


class RenderError(Exception):
    """A template that could not be rendered for one user; the message says where and why."""


#: The clock of render deadlines (tests replace it).
_monotonic: Callable[[], float] = time.monotonic


class _Budget:
    """What is left of one render's work: steps and the deadline."""

    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.deadline = _monotonic() + MAX_RENDER_SECONDS

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise SecurityError(f"the template does more than {MAX_STEPS} loop iterations and calls")
        if _monotonic() > self.deadline:
            raise SecurityError(f"the template takes longer than {MAX_RENDER_SECONDS} s to render")


_BUDGET: Final[contextvars.ContextVar[_Budget | None]] = contextvars.ContextVar("render_budget", default=None)


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


def _check_size(size: int, what: str) -> None:
    if size > MAX_PRODUCT:
        raise SecurityError(f"{what} longer than {MAX_PRODUCT} characters")


def _check_widths(numbers: Iterable[str | None], what: str) -> None:
    for number in numbers:
        if number and number.isdigit():
            _check_size(int(number), what)


def _check_printf(template: Any, *args: Any, **kwargs: Any) -> None:
    """Refuse a printf-style format (``%`` or the ``format`` filter) whose widths build huge text."""
    specs = _PRINTF_SPEC.findall(str(template))
    _check_widths((n for spec in specs for n in spec), "a % format width")
    if any("*" in spec for spec in specs):  # widths taken from the arguments
        values = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        _check_widths((str(v) for v in values if isinstance(v, int)), "a % format width")


def _bounded_filter(original: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return original(*args, **kwargs)

    return bounded


def _check_width(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    if isinstance(width, int):
        _check_size(width, f"a width of {width}:")


def _check_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old_text, new_text = str(value), str(old), str(new)
    times = text.count(old_text) if count is None else min(int(count), text.count(old_text))
    _check_size(len(text) + times * max(0, len(new_text) - len(old_text)), "a replace result")


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters["center"] = _bounded_filter(self.filters["center"], _check_width)
        self.filters["indent"] = _bounded_filter(self.filters["indent"], _check_width)
        self.filters["replace"] = _bounded_filter(self.filters["replace"], _check_replace)
        self.filters["format"] = _bounded_filter(self.filters["format"], _check_printf)

    def compile(
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        """Compile with every ``for`` loop iterating through :meth:`counted`."""
        if isinstance(source, str):
            source = self.parse(source, name, filename)
            for loop in list(source.find_all(nodes.For)):
                loop.iter = nodes.Call(
                    nodes.EnvironmentAttribute("counted"), [loop.iter], [], None, None, lineno=loop.lineno
                )
        return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]

    def counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            _step()
            yield item

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_widths((n for spec in _FORMAT_SPEC.findall(value.__self__) for n in spec), "a format width")
        return wrapped

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "%":
            if isinstance(left, str):
                _check_printf(left, right)
            return operator.mod(left, right)
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"exponent larger than {_MAX_EXPONENT}")
            return operator.pow(left, right)
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > MAX_PRODUCT
            ):
                raise SecurityError(f"a product longer than {MAX_PRODUCT} items")
        return operator.mul(left, right)


_ENV: Final = _BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def syntax_error(source: str) -> str | None:
    """Why ``source`` is not a template (``line N: message``), or None when it parses."""
    try:
        _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def _normal(locale: str) -> str:
    return locale.replace("_", "-").lower()


def pick_locale(available: Mapping[str, Any], wanted: str | None, default: str) -> str:
    """The locale of ``available`` to use for a recipient who reads ``wanted``."""
    if wanted:
        by_normal = {_normal(name): name for name in available}
        exact = by_normal.get(_normal(wanted))
        if exact is not None:
            return exact
        language = _normal(wanted).split("-")[0]
        if language in by_normal:
            return by_normal[language]
    return default if default in available else next(iter(available))


@dataclass(frozen=True, slots=True)
class Rendered:
    locale: str
    title: str
    body: str | None
    link: str | None
    image: str | None


def render(
    content: Mapping[str, Any], *, user: Mapping[str, Any], data: Mapping[str, Any], locale: str | None
) -> Rendered:
    """One user's text. ``content`` is a template (``locales``, ``default_locale``) or literal
    (``title``, ``body``, not rendered). :class:`RenderError` names the field and the reason."""
    if "locales" not in content:
        return Rendered(locale or "", str(content["title"])[:MAX_TITLE], content.get("body"), None, None)
    locales: Mapping[str, Mapping[str, str]] = content["locales"]
    chosen = pick_locale(locales, locale, str(content["default_locale"]))
    sources = locales[chosen]
    context = {"user": dict(user), "data": dict(data), "locale": chosen}
    out: dict[str, str | None] = {}
    budget = _BUDGET.set(_Budget())
    try:
        for field, limit in FIELDS.items():
            out[field] = _field(sources.get(field), context, chosen, field, limit)
    finally:
        _BUDGET.reset(budget)
    title = out["title"]
    if not title:
        raise RenderError(f"{chosen}.title: rendered empty")
    return Rendered(chosen, title, out["body"], out["link"], out["image"])


def _generate(template: jinja2.Template, context: Mapping[str, Any], limit: int) -> str:
    """The template's text, generated only until it passes ``limit`` characters after its leading
    whitespace (what is cut anyway is never built)."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        parts.append(chunk)
        size += len(chunk)
        if size > limit and len("".join(parts).lstrip()) > limit:
            break
    return "".join(parts).strip()[:limit]


def _field(source: str | None, context: Mapping[str, Any], chosen: str, field: str, limit: int) -> str | None:
    """One field's text for one user, or None when the locale has no such field."""
    if source is None:
        return None
    try:
        text = _generate(_compiled(source), context, limit)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{chosen}.{field}: line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # undefined variables, sandbox refusals and bounds, errors in filters
        raise RenderError(f"{chosen}.{field}: {type(exc).__name__}: {exc}") from None
    if field in ("link", "image") and text and not text.lower().startswith(("https://", "http://")):
        raise RenderError(f"{chosen}.{field}: rendered {text[:80]!r}, not an http(s) URL")
    return text or None
