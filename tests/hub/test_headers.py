"""Security headers on the web app and the API, and a web app the Content-Security-Policy cannot break."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from tests.support.hub_server import ThreadHub

from pushlog.hub._headers import CONTENT_SECURITY_POLICY
from pushlog.hub.app import STATIC_DIR

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_the_policy_allows_only_the_hub_itself_and_no_framing() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/", None),
        ("/app.js", None),
        ("/sw.js", None),
        ("/healthz", None),
        ("/openapi.json", None),
        ("/v1/events", "read"),
        ("/v1/events", None),  # 401
        ("/no-such-file", None),  # 404
    ],
)
def test_every_response_carries_the_security_headers(hub: ThreadHub, path: str, key: str | None) -> None:
    with hub.client(hub.read_key if key else None) as client:
        response = client.get(path)
    assert response.status_code in (200, 401, 404)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (path, name)


def test_the_stream_carries_them_too(hub: ThreadHub) -> None:
    with hub.client(hub.read_key) as client, client.stream("GET", "/v1/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]


def test_the_web_app_has_no_inline_script_or_style_the_policy_would_block() -> None:
    finder = _InlineFinder()
    finder.feed((STATIC_DIR / "index.html").read_text())
    assert finder.found == []
    for module in [STATIC_DIR / "app.js", *sorted((STATIC_DIR / "js").glob("*.js"))]:
        text = module.read_text()
        assert not re.search(r"\.style\b|\binnerHTML\b|\beval\(|new Function\(", text), module.name
