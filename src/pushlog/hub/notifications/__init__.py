"""Notifications to an app's users (DESIGN §8): rendering per user (:mod:`._render`), schedules in
each recipient's time zone (:mod:`._schedule`), and the duty that expands due notifications into
the outbox (:mod:`._runner`). The store side is ``store/notifications.py``."""

from ._render import Rendered, RenderError, pick_locale, render, syntax_error

__all__ = ["RenderError", "Rendered", "pick_locale", "render", "syntax_error"]
