"""The name in a path (segments, templates, triggers): one rule, one 400 message."""

from __future__ import annotations

from starlette.requests import Request

from .._errors import ApiError
from .._models import NAME_RE


def path_name(request: Request) -> str:
    """``{name}`` of the request's path; 400 ``invalid_name`` when it is not a name."""
    name = str(request.path_params["name"])
    if not NAME_RE.fullmatch(name):
        raise ApiError(
            400,
            "invalid_name",
            "name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name
