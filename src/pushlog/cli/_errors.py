"""The one exception CLI commands raise to fail with a one-line message."""

from __future__ import annotations


class CLIError(Exception):
    """Printed as ``pushlog: <message>`` with exit code ``exit_code`` (default 1)."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
