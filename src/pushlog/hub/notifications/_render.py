"""Notification text per user: Jinja2 templates in the sandboxed environment, per locale.

A template has sources (``title``, ``body``, ``link``, ``image``) per locale and a default locale.
:func:`pick_locale` chooses the sources for a recipient's locale: the exact locale, else its
language (``de-AT`` -> ``de``), else the default. Variables: ``user`` (``id``, ``locale``,
``timezone``, ``plan``, ``country``, ``custom``), ``data`` (the notification's ``data``) and
``locale`` (the one chosen). Undefined variables are errors (``{{ user.custom.name | default("there") }}``
for optional ones), so a template that does not fit a user fails that user's delivery with the reason
instead of sending a hole.

The sandbox refuses unsafe attribute access; on top of it, ``*`` and ``**`` are bounded so a
template cannot build a gigabyte string, and the rendered text is cut to the event limits.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..._event import MAX_BODY, MAX_TITLE, MAX_URL

#: Template fields and the most characters each renders to (longer output is cut).
FIELDS: Final = {"title": MAX_TITLE, "body": MAX_BODY, "link": MAX_URL, "image": MAX_URL}
#: Largest string/list a template may build with ``*``, and largest exponent of ``**``.
_MAX_PRODUCT: Final = 100_000
_MAX_EXPONENT: Final = 100


class RenderError(Exception):
    """A template that could not be rendered for one user; the message says where and why."""


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"exponent larger than {_MAX_EXPONENT}")
            return operator.pow(left, right)
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > _MAX_PRODUCT
            ):
                raise SecurityError(f"a product longer than {_MAX_PRODUCT} items")
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
    for field, limit in FIELDS.items():
        source = sources.get(field)
        if source is None:
            out[field] = None
            continue
        try:
            text = _compiled(source).render(context).strip()
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{chosen}.{field}: line {exc.lineno}: {exc.message}") from None
        except Exception as exc:  # undefined variables, sandbox refusals, errors in filters
            raise RenderError(f"{chosen}.{field}: {type(exc).__name__}: {exc}") from None
        if field in ("link", "image") and text and not text.lower().startswith(("https://", "http://")):
            raise RenderError(f"{chosen}.{field}: rendered {text[:80]!r}, not an http(s) URL")
        out[field] = text[:limit] or None
    title = out["title"]
    if not title:
        raise RenderError(f"{chosen}.title: rendered empty")
    return Rendered(chosen, title, out["body"], out["link"], out["image"])
