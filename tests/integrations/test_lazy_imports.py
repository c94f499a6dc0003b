"""The adapters never import their library: ``import pushlog`` (and the adapters themselves) work in an
app that has none of structlog, sentry-sdk or OpenTelemetry, and cost nothing there."""

from __future__ import annotations

import subprocess
import sys


def test_adapters_do_not_import_their_libraries() -> None:
    script = (
        "import sys, logging, pushlog\n"
        "import pushlog.integrations.structlog, pushlog.integrations.sentry\n"
        "import pushlog.integrations.opentelemetry\n"
        "logging.getLogger('x').addHandler(pushlog.PushHandler('http://k@127.0.0.1:9', flush_timeout=0))\n"
        "logging.getLogger('x').error('an event while nothing is installed')\n"
        "libs = ('structlog', 'sentry_sdk', 'opentelemetry')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in libs))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
