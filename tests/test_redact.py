"""Redaction: no secret in the table below leaves the process, in any of the contexts an event is built
from, and ordinary text stays as it was.

The secrets are fake but format-valid (generated from a fixed seed, so no real-looking token sits in
the repository); every named rule of ``pushlog._redact_rules.TOKEN_RULES`` is exercised by at least one.
Each context builds events through the real path (logger -> PushHandler -> worker -> HTTP to a
stand-in hub, or the CLI's own report builders) and checks the JSON the hub received.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import shlex
import string
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.cli.pushlog_cli import run_cli
from tests.conftest import StandInHub
from tests.support.hub_server import ThreadHub, hub_factory
from tests.support.push_service import PushService

from pushlog import Client, PushHandler, job
from pushlog._event import MAX_METADATA_VALUE, MAX_TITLE, Event
from pushlog._redact import (
    _TOKENS,
    MASK,
    MAX_NODES,
    Redactor,
    _sub_at_line_starts,
    key_words,
    luhn_ok,
    matching_rules,
    redact_event,
)
from pushlog._redact_rules import KEY_HINTS, KEY_WORDS, TOKEN_RULES
from pushlog.cli._run import Outcome, build_report
from pushlog.cli._send import build_event

__all__ = ["hub_factory"]  # a fixture, imported for the end-to-end test

# ---- the table of secrets -------------------------------------------------------------------------

_rng = random.Random(20261201)
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "_-"


def rnd(alphabet: str, n: int) -> str:
    """``n`` random characters that always include a digit and a letter when the alphabet has both."""
    while True:
        text = "".join(_rng.choice(alphabet) for _ in range(n))
        has_digit = any(c.isdigit() for c in alphabet)
        has_alpha = any(c.isalpha() for c in alphabet)
        if n < 4 or (
            (not has_digit or any(c.isdigit() for c in text))
            and (not has_alpha or any(c.isalpha() for c in text))
        ):
            return text


def digits(n: int) -> str:
    return str(_rng.randint(1, 9)) + "".join(_rng.choice(string.digits) for _ in range(n - 1))


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(_rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return next(body + d for d in string.digits if luhn_ok(body + d))


def grouped(number: str, sep: str, sizes: tuple[int, ...] = (4, 4, 4, 4, 3)) -> str:
    parts, i = [], 0
    for size in sizes:
        if i < len(number):
            parts.append(number[i : i + size])
            i += size
    return sep.join(parts)


@dataclass(frozen=True)
class Secret:
    """``secret`` must never leave the process; ``text`` is how it is written in free text; ``key`` (if
    any) is the name it is stored under in a dict (``{'password': 'hunter2'}``)."""

    name: str
    secret: str
    text: str
    key: str | None = None


def token(name: str, value: str) -> Secret:
    return Secret(name, value, value)


def written(name: str, secret: str, template: str, key: str | None = None) -> Secret:
    """``secret`` as it appears in ``template`` (at its ``{}``)."""
    return Secret(name, secret, template.replace("{}", secret), key)


def card(name: str, number: str, sep: str = "", sizes: tuple[int, ...] = (4, 4, 4, 4, 3)) -> Secret:
    return Secret(name, number, grouped(number, sep, sizes) if sep else number)


def jwt() -> str:
    head = b64url({"alg": "HS256", "typ": "JWT"})
    body = b64url({"sub": digits(10), "name": "Ada Lovelace", "iat": 1764619845})
    return f"{head}.{body}.{rnd(URLSAFE, 43)}"


def pem(kind: str) -> tuple[str, str]:
    body = [rnd(ALNUM + "+/", 64) for _ in range(3)]
    label = f"{kind} PRIVATE KEY".strip()
    return body[0], f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----"


def uuid_text() -> str:
    return str(uuid.UUID(int=_rng.getrandbits(128)))


_JWT = jwt()
_PEMS = [pem("RSA"), pem("EC"), pem("OPENSSH"), pem("")]
_PEM_BODY, _PEM_TEXT = pem("RSA")

TOKENS: list[Secret] = [
    token("jwt", _JWT),
    token("jwt-base64", base64.b64encode(_JWT.encode()).decode()),
    *(
        Secret(f"private-key {kind or 'PKCS8'}", body, text)
        for (body, text), kind in zip(_PEMS, ["RSA", "EC", "OPENSSH", ""], strict=True)
    ),
    Secret(
        "private-key-body (BEGIN line elsewhere)",
        _PEM_BODY,
        "key material follows:\n" + _PEM_TEXT.split("\n", 1)[1],
    ),
    written("authorization-scheme bearer", rnd(ALNUM + "-._~", 40), "called with Bearer {} (scope read)"),
    written("authorization-scheme token", rnd(HEX, 40), "Token {}"),
    token("pushlog-key", "pl_publish_" + rnd(URLSAFE, 32)),
    token("pushlog-key admin", "pl_admin_" + rnd(URLSAFE, 32)),
    token("aws-access-token", "AKIA" + rnd("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    token("aws-access-token sts", "ASIA" + rnd("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    token("aws-amazon-bedrock-api-key-long-lived", "ABSK" + rnd(ALNUM + "+/", 120)),
    token("azure-ad-client-secret", rnd(ALNUM, 3) + "8Q~" + rnd(ALNUM + "_~.", 31) + "a"),
    token("gcp-api-key", "AIza" + rnd(URLSAFE, 34) + "x"),
    token("google-oauth-access-token", "ya29." + rnd(URLSAFE, 60)),
    token("alibaba-access-key-id", "LTAI" + rnd(ALNUM, 20)),
    token("digitalocean-token", "dop_v1_" + rnd(HEX, 64)),
    token("cloudflare-origin-ca-key", "v1.0-" + rnd(HEX, 24) + "-" + rnd(HEX, 146)),
    token("heroku-api-key-v2", "HRKU-AA" + rnd(ALNUM, 58)),
    token("flyio-access-token", "fo1_" + rnd(ALNUM, 43)),
    token("hashicorp-tf-api-token", rnd(ALNUM, 14) + ".atlasv1." + rnd(ALNUM, 65)),
    token("vault-token", "hvs." + rnd(ALNUM, 100)),
    token("doppler-api-token", "dp.pt." + rnd(ALNUM, 43)),
    token("pulumi-api-token", "pul-" + rnd(HEX, 40)),
    token("scalingo-api-token", "tk-us-" + rnd(ALNUM, 48)),
    token("openshift-user-token", "sha256~" + rnd(ALNUM, 43)),
    token("databricks-api-token", "dapi" + rnd(HEX, 32)),
    token("planetscale-token", "pscale_tkn_" + rnd(ALNUM, 43)),
    token("age-secret-key", "AGE-SECRET-KEY-1" + rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
    token("1password-secret-key", "A3-" + "-".join(rnd(UPPER, n) for n in (6, 11, 5, 5, 5))),
    token("1password-service-account-token", "ops_eyJ" + rnd(ALNUM + "+/", 260)),
    token("github-token pat", "ghp_" + rnd(ALNUM, 36)),
    token("github-token oauth", "gho_" + rnd(ALNUM, 36)),
    token("github-token app", "ghs_" + rnd(ALNUM, 36)),
    token("github-fine-grained-pat", "github_pat_" + rnd(ALNUM + "_", 82)),
    token("gitlab-token", "glpat-" + rnd(URLSAFE, 20)),
    token("gitlab-cicd-job-token", "glcbt-" + rnd(ALNUM, 3) + "_" + rnd(ALNUM, 20)),
    token("gitlab-rrt", "GR1348941" + rnd(ALNUM, 20)),
    token("npm-access-token", "npm_" + rnd(ALNUM, 36)),
    token("pypi-upload-token", "pypi-AgEIcHlwaS5vcmc" + rnd(URLSAFE, 60)),
    token("rubygems-api-token", "rubygems_" + rnd(HEX, 48)),
    token("clojars-api-token", "CLOJARS_" + rnd(LOWER, 60)),
    token("artifactory-api-key", "AKCp" + rnd(ALNUM, 69)),
    token("artifactory-reference-token", "cmVmd" + rnd(ALNUM, 59)),
    token("docker-personal-access-token", "dckr_pat_" + rnd(ALNUM, 27)),
    token("prefect-api-token", "pnu_" + rnd(ALNUM, 36)),
    token("readme-api-token", "rdme_" + rnd(LOWER, 70)),
    token("harness-api-key", "pat." + rnd(ALNUM, 22) + "." + rnd(ALNUM, 24) + "." + rnd(ALNUM, 20)),
    token("infracost-api-token", "ico-" + rnd(ALNUM, 32)),
    token("stripe-access-token live", "sk_live_" + rnd(ALNUM, 24)),
    token("stripe-access-token restricted", "rk_test_" + rnd(ALNUM, 24)),
    token("stripe-webhook-secret", "whsec_" + rnd(ALNUM, 32)),
    token("square-access-token", "sq0atp-" + rnd(ALNUM, 22)),
    token("shippo-api-token", "shippo_live_" + rnd(HEX, 40)),
    token("flutterwave-secret-key", "FLWSECK_TEST-" + rnd("abcdefgh0123456789", 32) + "-X"),
    token("duffel-api-token", "duffel_live_" + rnd(ALNUM, 43)),
    token("easypost-api-token", "EZAK" + rnd(ALNUM, 54)),
    token("slack-token bot", f"xoxb-{digits(12)}-{digits(12)}-{rnd(ALNUM, 24)}"),
    token("slack-token user", f"xoxp-{digits(12)}-{digits(12)}-{digits(12)}-{rnd(HEX, 32)}"),
    token("slack-app-token", f"xapp-1-A{rnd(UPPER, 10)}-{digits(13)}-{rnd(HEX, 64)}"),
    token(
        "slack-webhook-url",
        f"https://hooks.slack.com/services/T{rnd(UPPER, 8)}/B{rnd(UPPER, 8)}/{rnd(ALNUM, 24)}",
    ),
    token("discord-webhook-url", f"https://discord.com/api/webhooks/{digits(18)}/{rnd(URLSAFE, 68)}"),
    token(
        "microsoft-teams-webhook",
        f"https://acme.webhook.office.com/webhookb2/{uuid_text()}@{uuid_text()}/IncomingWebhook/"
        f"{rnd(HEX, 32)}/{uuid_text()}",
    ),
    token("telegram-bot-api-token", f"{digits(10)}:AA{rnd(ALNUM, 33)}"),
    token("twilio-api-key", "SK" + rnd(HEX, 32)),
    token("sendgrid-api-token", "SG." + rnd(URLSAFE, 22) + "." + rnd(URLSAFE, 43)),
    token("sendinblue-api-token", "xkeysib-" + rnd(HEX, 64) + "-" + rnd(ALNUM, 16)),
    token("mailgun-private-api-token", "key-" + rnd(HEX, 32)),
    token("mailchimp-api-key", rnd(HEX, 32) + "-us14"),
    token("facebook-page-access-token", "EAAC" + rnd(ALNUM, 120)),
    token("postman-api-token", "PMAK-" + rnd(HEX, 24) + "-" + rnd(HEX, 34)),
    token("linear-api-key", "lin_api_" + rnd(ALNUM, 40)),
    token("notion-api-token", "ntn_" + digits(11) + rnd(ALNUM, 35)),
    token("atlassian-api-token", "ATATT3" + rnd(ALNUM, 186)),
    token("airtable-personal-access-token", "pat" + rnd(ALNUM, 14) + "." + rnd(HEX, 64)),
    token("sentry-user-token", "sntryu_" + rnd(HEX, 64)),
    token("sentry-org-token", "sntrys_eyJpYXQiO" + rnd(ALNUM + "+/", 100)),
    token("grafana-api-key", "eyJrIjoi" + rnd(ALNUM, 80)),
    token("grafana-cloud-api-token", "glc_" + rnd(ALNUM + "+/", 40) + "a"),
    token("grafana-service-account-token", "glsa_" + rnd(ALNUM, 32) + "_" + rnd(HEX, 8)),
    token("new-relic-key", "NRAK-" + rnd(UPPER, 27)),
    token("dynatrace-api-token", "dt0c01." + rnd(UPPER, 24) + "." + rnd(ALNUM, 64)),
    token("anthropic-api-key", "sk-ant-api03-" + rnd(URLSAFE, 93) + "AA"),
    token("openai-api-key", "sk-proj-" + rnd(URLSAFE, 74) + "T3BlbkFJ" + rnd(URLSAFE, 73) + "a"),
    token("huggingface-access-token", "hf_" + rnd(string.ascii_letters, 34)),
    token("perplexity-api-key", "pplx-" + rnd(ALNUM, 48)),
    token("maxmind-license-key", rnd(ALNUM, 6) + "_" + rnd(ALNUM, 29) + "_mmk"),
    token("settlemint-token", "sm_pat_" + rnd(ALNUM, 16)),
    token("shopify-token", "shpat_" + rnd(HEX, 32)),
]


def kv(name: str, key: str, value: str, text: str | None = None) -> Secret:
    return Secret(name, value, text if text is not None else f"{key}={value}", key)


NAMED: list[Secret] = [
    kv("password", "password", "hunter2!Q"),
    kv("db_password", "db_password", "Tr0ub4dor&3"),
    kv("passwd", "passwd", "s3cr3tPasswd"),
    kv("passphrase", "passphrase", "correct horse battery", "passphrase: 'correct horse battery'"),
    kv("pin", "pin", "8317", "pin=8317"),
    kv("cvv", "cvv", "731", "cvv: 731"),
    kv("privateKey camelCase", "privateKey", rnd(ALNUM, 24)),
    kv("accessKeyId camelCase", "accessKeyId", rnd(UPPER, 20)),
    kv("secretAccessKey camelCase", "secretAccessKey", rnd(ALNUM + "/+", 40)),
    kv("client_secret", "client_secret", rnd(ALNUM, 32)),
    kv("api-key kebab", "api-key", rnd(ALNUM, 28)),
    written("X-Api-Key header", rnd(ALNUM, 32), "X-Api-Key: {}", "X-Api-Key"),
    kv("refresh_token", "refresh_token", rnd(URLSAFE, 48)),
    kv("sessionId", "sessionId", rnd(HEX, 32)),
    kv("csrftoken", "csrftoken", rnd(ALNUM, 32)),
    written(
        "AccountKey (Azure connection string)",
        rnd(ALNUM + "+/", 86) + "==",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
        "AccountKey",
    ),
    kv("SENTRY_DSN env", "SENTRY_DSN", f"https://{rnd(HEX, 32)}@o1.ingest.sentry.io/42"),
    kv("otp", "otp", "492817", "otp=492817"),
    kv("auth tuple", "auth", "hunter2pw", "auth: hunter2pw"),
    kv("--password option", "password", "Pa55word9", "mysqldump --password Pa55word9 --user root shop"),
    kv(
        "mnemonic",
        "mnemonic",
        "abandon ability able about above absent",
        "mnemonic='abandon ability able about above absent'",
    ),
]

URLS: list[Secret] = [
    written("postgresql userinfo", rnd(ALNUM, 14), "postgresql://app:{}@db.internal:5432/shop"),
    written("mysql userinfo", rnd(ALNUM, 12), "mysql://root:{}@127.0.0.1/app"),
    written("redis password only", rnd(ALNUM, 20), "redis://:{}@cache:6379/0"),
    written("amqp userinfo", rnd(ALNUM, 16), "amqp://guest:{}@rabbit/%2f"),
    written("mongodb+srv userinfo", rnd(ALNUM, 16), "mongodb+srv://svc:{}@cluster0.abcde.mongodb.net/db"),
    written("https userinfo", rnd(ALNUM, 12), "https://deploy:{}@git.example.com/org/repo.git"),
    written("pushlog DSN", "pl_publish_" + rnd(URLSAFE, 32), "http://{}@hub.example.com:8080"),
    Secret("pushlog DSN short key", "pl_publish_xxx", "PUSHLOG_DSN=http://pl_publish_xxx@host"),
    written("query access_token", rnd(URLSAFE, 40), "https://api.example.com/me?access_token={}&fields=id"),
    written(
        "query client_secret", rnd(ALNUM, 32), "https://auth.example.com/token?client_id=abc&client_secret={}"
    ),
    written("query api_key", rnd(ALNUM, 32), "https://maps.example.com/geo?q=Paris&api_key={}"),
    written(
        "query sig (Azure SAS)",
        rnd(ALNUM + "%", 43),
        "https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&sig={}",
    ),
    written(
        "query X-Amz-Signature",
        rnd(HEX, 64),
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={}",
    ),
    written("query OAuth code", rnd(URLSAFE, 30), "https://app.example.com/callback?code={}&state=xyz"),
    written("query refresh_token", rnd(URLSAFE, 40), "https://api.example.com/refresh?refresh_token={}"),
]

_AUTH_BASIC = base64.b64encode(f"admin:{rnd(ALNUM, 12)}".encode()).decode()
HEADERS: list[Secret] = [
    written("Authorization Bearer header", rnd(ALNUM, 40), "Authorization: Bearer {}", "Authorization"),
    Secret("Authorization Basic header", _AUTH_BASIC, f"Authorization: Basic {_AUTH_BASIC}", "Authorization"),
    written("Cookie header", rnd(HEX, 32), "Cookie: theme=dark; sessionid={}; lang=en", "Cookie"),
    written(
        "Set-Cookie header",
        rnd(URLSAFE, 40),
        "Set-Cookie: __Host-sid={}; Path=/; Secure; HttpOnly",
        "Set-Cookie",
    ),
    written(
        "Proxy-Authorization header", rnd(ALNUM, 24), "Proxy-Authorization: Digest {}", "Proxy-Authorization"
    ),
]

CARDS: list[Secret] = [
    card("visa spaces", luhn_complete("4", 16), " "),
    card("visa dashes", luhn_complete("4", 16), "-"),
    card("visa dots", luhn_complete("4", 16), "."),
    card("visa plain", luhn_complete("4", 16)),
    card("visa 13 digits", luhn_complete("4", 13)),
    card("mastercard 2-series", luhn_complete("2221", 16), " "),
    card("mastercard 5", luhn_complete("51", 16)),
    card("amex", luhn_complete("37", 15), " ", (4, 6, 5)),
    card("discover", luhn_complete("6011", 16), "-"),
    card("jcb", luhn_complete("3528", 16)),
    card("diners", luhn_complete("36", 14), " ", (4, 6, 4)),
    card("unionpay 19", luhn_complete("62", 19)),
]

SECRETS: list[Secret] = [*TOKENS, *NAMED, *URLS, *HEADERS, *CARDS]
IDS = [s.name for s in SECRETS]


def test_the_table_is_big_and_covers_every_rule() -> None:
    assert len(SECRETS) >= 100
    names = [rule.name for rule in TOKEN_RULES]
    assert len(names) == len(set(names)), "rule names are unique"
    hit = {name for s in SECRETS for name in matching_rules(s.text)}
    assert set(names) - hit == set(), "every rule has a case in the table"


# ---- checking the wire -----------------------------------------------------------------------------


def leaked(secret: str, wire: str) -> str | None:
    """The part of ``secret`` found in ``wire``: the whole of it, or (for long secrets, which a size
    limit may cut) any 12 consecutive characters of it; also in URL-encoded form."""
    window = min(len(secret), 12)
    for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
        for start in range(len(form) - window + 1):
            piece = form[start : start + window]
            if piece in wire:
                return piece
    return None


#: Fields the client or hub makes (ids, times, pids, receipts): random digits a short secret such as a
#: PIN could match by chance, and never where a secret goes.
NOISE = frozenset({"id", "ts", "seq", "received_at", "event_id", "delivery_id", "receipt", "source", "pid"})


def wire_text(value: Any) -> str:
    """JSON of ``value`` (events, push payloads, lists of them) without the :data:`NOISE` fields."""

    def scrub(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: scrub(v) for k, v in item.items() if k not in NOISE and not k.endswith("_at")}
        if isinstance(item, list):
            return [scrub(v) for v in item]
        return item

    return json.dumps(scrub(value), ensure_ascii=False)


def assert_no_leaks(pairs: list[tuple[Secret, str]]) -> None:
    problems = []
    for s, wire in pairs:
        piece = leaked(s.secret, wire)
        if piece:
            at = wire.find(piece)
            problems.append(f"{s.name}: {piece!r} in ...{wire[max(0, at - 200) : at + 60]!r}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def wired(hub: StandInHub) -> Iterator[tuple[Client, logging.Logger]]:
    """A client that sends every event (no dedup, no push budget) and a logger feeding it."""
    client = Client(hub.dsn, linger=0.0, dedup_window=0, rate_limit=False)
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.redact.table")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield client, logger
    finally:
        logger.removeHandler(handler)
        client.close()


def wire_events(hub: StandInHub, client: Client, expected: int) -> dict[int, str]:
    """The JSON of each event the hub received, by the ``row`` number in its metadata."""
    assert client.flush(20)
    events = [e for request in hub.requests for e in request["json"]["events"]]
    by_row = {int(e["metadata"]["row"]): wire_text(e) for e in events}
    assert len(by_row) == expected, "every event arrived"
    return by_row


def nest(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = leaf
    for level in reversed(range(depth)):
        value = {f"level{level}": value}
    return value


def secret_dict(s: Secret) -> dict[str, Any]:
    return {"user": "ada", s.key: s.secret} if s.key else {"user": "ada", "detail": s.text}


def url_with(s: Secret) -> str:
    if s.text.startswith(("http://", "https://")):
        return s.text
    return "https://example.com/cb?" + urllib.parse.urlencode({"note": s.text})


def _raise(text: str) -> None:
    raise RuntimeError(f"upstream call failed: {text}")


LogContext = Callable[[logging.Logger, Client, int, Secret], object]


def _exception(logger: logging.Logger, client: Client, i: int, s: Secret) -> None:
    try:
        _raise(s.text)
    except RuntimeError:
        logger.exception("request failed", extra={"row": i})


LOG_CONTEXTS: dict[str, LogContext] = {
    "message text": lambda lg, c, i, s: lg.error("login failed: %s", s.text, extra={"row": i}),
    "%r of a dict": lambda lg, c, i, s: lg.error("payload %r", secret_dict(s), extra={"row": i}),
    "JSON text": lambda lg, c, i, s: lg.error("body %s", json.dumps(secret_dict(s)), extra={"row": i}),
    "extra value": lambda lg, c, i, s: lg.error("call", extra={"row": i, "detail": s.text}),
    "extra under its key": lambda lg, c, i, s: lg.error("call", extra={"row": i, **secret_dict(s)}),
    "extra key": lambda lg, c, i, s: lg.error("call", extra={"row": i, s.text: 1}),
    "nested 10 deep (logger)": lambda lg, c, i, s: lg.error(
        "x", extra={"row": i, "ctx": nest(10, secret_dict(s))}
    ),
    "nested 10 deep (event)": lambda lg, c, i, s: c.capture(
        Event(title="x", metadata={"row": i, "ctx": nest(10, secret_dict(s))})
    ),
    "multi-line body with headers": lambda lg, c, i, s: lg.error(
        "request failed\nPOST /v1/charge HTTP/1.1\nHost: api.example.com\n%s\nAccept: */*",
        s.text,
        extra={"row": i},
    ),
    "link": lambda lg, c, i, s: lg.error("see", extra={"row": i, "link": url_with(s)}),
    "image": lambda lg, c, i, s: lg.error("see", extra={"row": i, "image": url_with(s)}),
    "tags": lambda lg, c, i, s: lg.error("x", extra={"row": i, "tags": ["prod", s.text]}),
    "channel": lambda lg, c, i, s: lg.error("x", extra={"row": i, "channel": s.text}),
    "fingerprint": lambda lg, c, i, s: lg.error("x", extra={"row": i, "fingerprint": s.text}),
    "actions": lambda lg, c, i, s: lg.error(
        "x", extra={"row": i, "actions": [{"action": "open", "title": s.text, "url": url_with(s)}]}
    ),
    "exception text": _exception,
}


@pytest.mark.parametrize("context", list(LOG_CONTEXTS))
def test_no_secret_reaches_the_wire(
    context: str, hub: StandInHub, wired: tuple[Client, logging.Logger]
) -> None:
    client, logger = wired
    build = LOG_CONTEXTS[context]
    for i, s in enumerate(SECRETS):
        build(logger, client, i, s)
    by_row = wire_events(hub, client, len(SECRETS))
    assert_no_leaks([(s, by_row[i]) for i, s in enumerate(SECRETS)])


def shell_words(text: str) -> list[str]:
    """The arguments a shell makes of ``text`` typed on a command line."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _failed(stderr: list[str]) -> Outcome:
    return Outcome(exit_code=2, duration=1.5, stderr_tail=stderr)


CLI_CONTEXTS: dict[str, Callable[[Secret], Event]] = {
    "run: command line": lambda s: build_report(
        name="backup", command=["./backup.sh", *shell_words(s.text)], outcome=_failed([])
    ),
    "run: stderr tail": lambda s: build_report(
        name="backup",
        command=["./backup.sh"],
        outcome=_failed(["connecting", *s.text.splitlines(), "giving up"]),
    ),
    "send: -m": lambda s: build_event(_send_args(message=f"deploy failed: {s.text}")),
    "send: -d KEY=VALUE": lambda s: build_event(
        _send_args(message="deploy", data=[f"{s.key}={s.secret}" if s.key else f"detail={s.text}"])
    ),
}


def _send_args(*, message: str, data: list[str] | None = None) -> Any:
    import argparse

    return argparse.Namespace(
        message=message,
        title=None,
        channel=None,
        tags=None,
        link=None,
        data=data,
        level="error",
        fingerprint=None,
    )


@pytest.mark.parametrize("context", list(CLI_CONTEXTS))
def test_no_secret_in_cli_reports(context: str) -> None:
    """What ``pushlog run`` and ``pushlog send`` build goes through ``redact_event`` before it is sent
    (the subprocess tests below prove the commands do call it)."""
    pairs = [(s, wire_text(redact_event(CLI_CONTEXTS[context](s)).to_wire())) for s in SECRETS]
    assert_no_leaks(pairs)


def test_pushlog_send_and_run_redact_what_they_send(hub: StandInHub) -> None:
    sample = [SECRETS[i] for i in range(0, len(SECRETS), 9)]
    sent = run_cli(
        [
            "send",
            "--level",
            "error",
            "-m",
            "deploy failed\n" + "\n".join(s.text for s in sample),
            "-d",
            "password=hunter2!Q",
        ],
        env={"PUSHLOG_DSN": hub.dsn},
    )
    assert sent.returncode == 0, sent.stderr
    script = "import sys; sys.stderr.write(sys.argv[1] + '\\n'); sys.exit(3)"
    ran = run_cli(
        [
            "run",
            "--name",
            "job",
            "--",
            sys.executable,
            "-c",
            script,
            "\n".join(s.text for s in sample),
            *sample[0].text.split(),
        ],
        env={"PUSHLOG_DSN": hub.dsn},
    )
    assert ran.returncode == 3, ran.stderr
    wire = wire_text([e for request in hub.requests for e in request["json"]["events"]])
    assert wire.count('"title"') == 2, "both reports arrived"
    assert_no_leaks([(s, wire) for s in [*sample, NAMED[0]]])


# ---- ordinary text stays intact --------------------------------------------------------------------

ORDINARY = [
    "User ada signed up for the Pro plan (annual)",
    "order 0b6c0c1e-8f0e-4c1a-9a53-6d2f0b8f7d21 shipped",
    "deployed commit 4b1d3f5a9c1e2d3b4a5f6e7d8c9b0a1f2e3d4c5b to prod",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "started 2026-12-01T20:10:45.123456Z, took 12.5s",
    "ts=1764619845123 epoch_ns=1764619845123456789",
    "call +44 20 7946 0958 or (415) 555-2671",
    "phone 4155 5526 7144 3210",
    "order 4111111111111112 shipped",
    "ISBN 978-3-16-148410-0, version 3.11.7, host 10.0.12.7:8080",
    "prompt_tokens=120 completion_tokens=80 max_tokens: 300 token_count=5",
    "Token expired; Bearer authentication failed; basic plan selected",
    "password reset email sent to ada@example.com",
    "GET https://example.com/v1/events?limit=50&page=2&sort=desc 200 12ms",
    "ssh://git@github.com/org/repo.git",
    "sentry event 1cc58d8867ba4287916539991ae19772, trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "retry in 30s (attempt 3/8) at 10:30:15",
    "user=ada plan=pro region=eu-west-1",
    "Disk /dev/sda1 at 91% - cleanup --dry-run --verbose",
    "author: ada, shipping: express, key: cache:user:42",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_ordinary_metadata_is_left_alone(hub: StandInHub, wired: tuple[Client, logging.Logger]) -> None:
    client, logger = wired
    metadata = {
        "row": 0,
        "token_count": 5,
        "max_tokens": 300,
        "auth_method": "oauth",
        "password_changed_at": "2026-11-30T08:00:00Z",
        "author": "ada",
        "shipping": "express",
        "secretary": "bob",
        "cache_key": "user:42",
        "order_id": 4111111111111112,
        "amount_cents": 2900,
        "timestamp_ms": 1764619845123,
        "trace": {
            "ids": ["0b6c0c1e-8f0e-4c1a-9a53-6d2f0b8f7d21"],
            "commit": "4b1d3f5a9c1e2d3b4a5f6e7d8c9b0a1f2e3d4c5b",
        },
    }
    logger.warning(
        ORDINARY[0],
        extra={
            **metadata,
            "tags": ["billing", "eu-west-1"],
            "channel": "payments",
            "link": "https://example.com/o/42?tab=items",
        },
    )
    assert client.flush(20)
    (event,) = [e for request in hub.requests for e in request["json"]["events"]]
    assert event["metadata"] == metadata
    assert event["title"] == ORDINARY[0]
    assert (event["tags"], event["channel"], event["link"]) == (
        ["billing", "eu-west-1"],
        "payments",
        "https://example.com/o/42?tab=items",
    )


# ---- rules, one by one ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "words", "secret"),
    [
        ("privateKey", ["private", "key"], True),
        ("accessKeyId", ["access", "key", "id"], True),
        ("X-API-Key", ["x", "api", "key"], True),
        ("db.password", ["db", "password"], True),
        ("HTTPAuthorization", ["http", "authorization"], True),
        ("set-cookie", ["set", "cookie"], True),
        ("aws_secret_access_key", ["aws", "secret", "access", "key"], True),
        ("userPIN", ["user", "pin"], True),
        ("card_cvv2", ["card", "cvv2"], True),
        ("passphrase", ["passphrase"], True),
        ("sentryDsn", ["sentry", "dsn"], True),
        ("client_credentials", ["client", "credentials"], True),
        ("token_count", ["token", "count"], False),
        ("prompt_tokens", ["prompt", "tokens"], False),
        ("password_changed_at", ["password", "changed", "at"], False),
        ("shipping", ["shipping"], False),
        ("author", ["author"], False),
        ("primary_key", ["primary", "key"], False),
    ],
)
def test_key_names(key: str, words: list[str], secret: bool) -> None:
    assert key_words(key) == words
    assert Redactor().sensitive_key(key) is secret


@pytest.mark.parametrize(
    "key",
    [
        *("Passwd", "passPhrase", "passcode", "clientSecret", "authToken", "credentials", "apiKey"),
        *("Authorization", "setCookie", "sessionId", "csrf", "XSRF-TOKEN", "sentryDsn", "connectionString"),
        *("connStr", "cardNumber", "cc_number", "creditCard", "cvv", "cvc", "mnemonic", "seedPhrase"),
        *("mfaCode", "socialSecurityNumber", *sorted(KEY_WORDS)),
    ],
)
def test_every_secret_key_name_holds_a_hint(key: str) -> None:
    """The key-name rules only look at text holding one of KEY_HINTS: each kind of name must."""
    assert Redactor().sensitive_key(key)
    assert any(hint in key.lower() for hint in KEY_HINTS)


def test_secret_keys_mask_any_value_but_keep_none_and_booleans() -> None:
    value = {
        "password": "x",
        "pin": 1234,
        "apiKey": {"a": 1},
        "token": None,
        "secret_set": True,
        "auth": False,
    }
    assert Redactor().value(value) == {
        "password": MASK,
        "pin": MASK,
        "apiKey": MASK,
        "token": None,
        "secret_set": True,
        "auth": False,
    }


def test_card_numbers_as_integers() -> None:
    card = int(luhn_complete("4", 16))
    order = card + 1  # the neighbour of a Luhn-valid number never passes the check
    assert Redactor().value({"n": card, "order": order}) == {"n": MASK, "order": order}
    assert Redactor().value({"ts": 1764619845123}) == {"ts": 1764619845123}  # starts with 1: never a card


def test_any_depth_without_recursion() -> None:
    deep: Any = {"password": "hunter2"}
    for _ in range(5000):
        deep = [deep]
    masked = Redactor().value(deep)
    for _ in range(5000):
        masked = masked[0]
    assert masked == {"password": MASK}


def test_work_is_bounded_and_fails_closed() -> None:
    wide = {f"k{i}": "hunter2" for i in range(MAX_NODES + 10)}
    masked = Redactor().value(wide)
    assert masked["…"] == MASK and len(masked) <= MAX_NODES + 1
    loop: list[Any] = []
    loop.append(loop)
    Redactor().value(loop)  # a cycle ends at the budget instead of looping


def test_masks_never_push_a_field_past_its_limit() -> None:
    title = "x" * (MAX_TITLE - len(" pin=1234")) + " pin=1234"
    event = redact_event(
        Event(title=title, metadata={"v": {"pin": 1, "note": "y" * (MAX_METADATA_VALUE - 40)}})
    )
    assert len(event.title) <= MAX_TITLE and "1234" not in event.title
    assert len(json.dumps(event.metadata["v"])) <= MAX_METADATA_VALUE


def test_a_url_field_that_is_no_url_after_masking_is_dropped() -> None:
    webhook = SECRETS[IDS.index("slack-webhook-url")].secret
    event = redact_event(
        Event(
            title="x",
            link=webhook,
            image="https://cdn.example.com/a.png",
            actions=[{"action": "a", "title": "A", "url": webhook}],
        )
    )
    assert event.link is None and event.image == "https://cdn.example.com/a.png"
    assert event.actions == [{"action": "a", "title": "A"}]


def test_the_hint_screen_sees_what_substring_search_sees() -> None:
    """The one-pass screen (line by line for long texts, cached) tries exactly the rules, and sees a
    key hint exactly when, a substring search for every hint would."""
    redactor = Redactor(keys=["zork_id"])
    screen = redactor._screen
    key_hints = {*KEY_HINTS, "zork", "id"}
    frames = "\n".join(f'  File "/srv/app/mod_{i}.py", line {i}, in step' for i in range(12))
    texts = [*ORDINARY, *(s.text for s in SECRETS), *(f"{frames}\n{s.text}\n{frames}" for s in SECRETS)]
    for text in [*texts, *texts]:  # the second round reads the caches
        lower = text.lower()
        found = redactor._hints(lower)
        rules = {TOKEN_RULES[i].name for hint in found for i in screen.rules[hint]}
        assert rules == {rule.name for rule in TOKEN_RULES if any(h in lower for h in rule.hints)}, text
        keyed = any(screen.keyed[hint] for hint in found)
        assert keyed == any(hint in lower for hint in key_hints), text


def test_line_start_rules_match_only_at_line_starts() -> None:
    """A rule marked ``line_start`` is tried at line starts only; that must lose nothing."""
    frames = "\n".join(f'  File "/srv/app/mod_{i}.py", line {i}, in step' for i in range(3))
    forms = ("{}", frames + "\n{}", "{!r}: {}")
    texts = [form.format(s.text, json.dumps(s.text)) for s in SECRETS for form in forms]
    patterns = [pattern for rule, pattern in _TOKENS if rule.line_start]
    assert patterns, "the table has line_start rules"
    for pattern in patterns:
        for text in texts:
            assert _sub_at_line_starts(pattern, text) == pattern.sub(MASK, text), text


def test_cached_texts_are_masked_the_same_every_time() -> None:
    redactor = Redactor()
    for s in SECRETS:
        first = redactor.text(f"retry: {s.text}")
        assert redactor.text(f"retry: {s.text}") == first
        assert leaked(s.secret, first) is None, s.name


def test_text_rules_are_idempotent() -> None:
    redactor = Redactor()
    for s in SECRETS:
        once = redactor.text(s.text)
        assert redactor.text(once) == once, s.name


def test_a_redaction_failure_never_sends_the_event_as_it_was() -> None:
    class Broken(Redactor):
        def text(self, value: str) -> str:
            raise RuntimeError("boom")

    event = Event(title="password=x", body="b", tags=["t"], link="https://x.example", metadata={"a": 1})
    with pytest.raises(RuntimeError):
        Broken().event(event)
    assert (event.title, event.body, event.tags, event.link, event.metadata) == (
        "[redaction failed]",
        None,
        [],
        None,
        {},
    )


def test_configurable_extra_keys_patterns_and_off() -> None:
    custom = Redactor(keys=["ssn"], patterns=[r"ORD-\d+"])
    assert custom.value({"user_ssn": "123"}) == {"user_ssn": MASK}
    assert custom.text("ref ORD-991 done") == f"ref {MASK} done"
    off = Redactor(enabled=False)
    event = off.event(Event(title="password=hunter22", metadata={"password": "x"}))
    assert event.title == "password=hunter22" and event.metadata == {"password": "x"}
    with pytest.raises(ValueError, match="bad redact pattern"):
        Redactor(patterns=["("])


def test_options_reach_the_hub(hub: StandInHub) -> None:
    client = Client(hub.dsn, linger=0.0, redact_keys="ssn", redact_patterns=[r"ORD-\d+"])
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.redact")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error(
            "login failed for token=abc123def456\nAuthorization: Bearer sk_live_abcdefghijkl",
            extra={"password": "hunter22", "ssn": "078-05-1120", "note": "card 4111 1111 1111 1111, ORD-77"},
        )
        assert client.flush(5)
    finally:
        logger.removeHandler(handler)
        client.close()
    (request,) = hub.requests
    raw = str(request["json"])
    for secret in ("abc123def456", "sk_live", "hunter22", "078-05-1120", "4111", "ORD-77"):
        assert secret not in raw
    (event,) = request["json"]["events"]
    assert event["title"] == f"login failed for token={MASK}"
    assert event["metadata"] == {"password": MASK, "ssn": MASK, "note": f"card {MASK}, {MASK}"}


# ---- end to end: the hub's stored event and the decrypted push --------------------------------------


def test_a_logged_secret_reaches_neither_the_hub_nor_the_phone(hub_factory: Callable[..., ThreadHub]) -> None:
    """A real hub under uvicorn and a real Web Push round trip (the RFC 8030 stand-in decrypts)."""
    hub = hub_factory(allow_private_endpoints=True)
    sample = [SECRETS[i] for i in range(0, len(SECRETS), 5)]
    with PushService() as push_service:
        phone = push_service.subscribe()
        with hub.client(hub.read_key) as http:
            answer = http.post(
                "/v1/devices",
                json={
                    "kind": "webpush",
                    "subscription": phone.subscription(),
                    "preferences": {"min_level": "warning"},
                },
            )
        assert answer.status_code == 201, answer.text
        client = Client(hub.dsn, linger=0.0, dedup_window=0, rate_limit=False)
        handler = PushHandler(client=client)
        logger = logging.getLogger("app.redact.e2e")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for n, s in enumerate(sample):
                logger.error(
                    "charge failed: %s %r",
                    s.text,
                    secret_dict(s),
                    extra={"n": n, "detail": s.text, "tags": ["billing"], "link": url_with(s)},
                )
            assert client.flush(20)
        finally:
            logger.removeHandler(handler)
            client.close()
        pushes = push_service.wait_for(len(sample), timeout=30)
        with hub.client(hub.read_key) as http:
            stored = http.get("/v1/events", params={"limit": 200}).json()["events"]
    assert len(stored) == len(sample), "every event was accepted"
    stored_text = wire_text(stored)
    pushed_text = wire_text([p.payload for p in pushes])
    assert MASK in stored_text and MASK in pushed_text
    assert_no_leaks([(s, stored_text) for s in sample] + [(s, pushed_text) for s in sample])


def test_pushlog_job_redacts_its_failure_report_and_heartbeat(hub_factory: Callable[..., ThreadHub]) -> None:
    hub = hub_factory()
    sample = [SECRETS[i] for i in range(3, len(SECRETS), 11)]

    def backup() -> None:
        raise ConnectionError("cannot reach " + " ".join(s.text.replace("\n", " ") for s in sample))

    with pytest.raises(ConnectionError), job("backup", every="1d", dsn=hub.dsn):
        backup()
    with hub.client(hub.read_key) as http:
        events = http.get("/v1/events").json()["events"]
        beat = http.get("/v1/heartbeats/backup").json()
    assert len(events) == 1 and beat["last_message"]
    wire = wire_text([events, beat])
    assert_no_leaks([(s, wire) for s in sample])


def test_redaction_runs_on_the_worker_thread_not_the_callers(hub: StandInHub) -> None:
    threads: list[str] = []

    class Recording(Redactor):
        def event(self, event: Event) -> Event:
            threads.append(threading.current_thread().name)
            return super().event(event)

    client = Client(hub.dsn, linger=0.0)
    client.redactor = Recording()
    handler = PushHandler(client=client)
    logger = logging.getLogger("app.redact.thread")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("token=%s", "abc123def456ghi")
        assert client.flush(5)
    finally:
        logger.removeHandler(handler)
        client.close()
    assert threads == ["pushlog-worker"]
    (event,) = hub.accepted_events()
    assert event["title"] == f"token={MASK}"


def test_source_is_redacted_too() -> None:
    event = redact_event(Event(title="x", source={"logger": "db", "note": "postgresql://app:S3cretPw@db/x"}))
    assert event.source == {"logger": "db", "note": f"postgresql://app:{MASK}@db/x"}
