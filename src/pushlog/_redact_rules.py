"""What counts as a secret: the data tables behind :mod:`pushlog._redact`.

Data only, no logic: :mod:`pushlog._redact` compiles these once at import. To add a rule, add a line
here (and a case to the table in ``tests/test_redact.py``):

* a secret **format** (a provider token with a recognisable prefix or shape): a :class:`TokenRule`
  in :data:`TOKEN_RULES`; whatever the pattern matches is replaced by the mask, anywhere in any text;
* a secret **key name** (``extra={"foo_secret": ...}``, ``foo_secret=...`` or ``"foo_secret": "..."``
  in text): a fragment in :data:`KEY_FRAGMENTS` (matched inside the key with separators removed) or a
  whole word in :data:`KEY_WORDS` (matched against one word of the key, for short words such as
  ``pin`` that occur inside ordinary words).

The provider formats follow the public gitleaks default rule set (``config/gitleaks.toml``; a rule
standing for one of theirs keeps its id as name, one merging several of theirs, such as
``github-token``, or one they lack, such as ``pushlog-key`` or ``discord-webhook-url``, has a name of
its own), restricted to formats recognisable on their own: gitleaks rules that need a keyword next to
the value (``<vendor>_key = ...``) are covered here by the key-name rules instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class TokenRule:
    """A named secret format: every match of ``pattern`` (a Python regular expression) is masked.

    ``hints``: lowercase strings of which the text (lowercased) must contain one for the pattern to be
    tried at all, so a text pays a few substring checks per rule instead of a regular expression scan;
    empty means always try.

    ``line_start``: every match begins where a line does (the text's start, after a line break, or
    after an escaped ``\\n``), so the pattern is tried at those places only, not at every character."""

    name: str
    pattern: str
    hints: tuple[str, ...]
    line_start: bool = False


#: Secret formats masked wherever they appear (title, body, metadata keys and values, tags, link...).
TOKEN_RULES: Final[tuple[TokenRule, ...]] = (
    # ---- generic shapes ----------------------------------------------------------------------------
    TokenRule(
        "private-key",
        r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]*?(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        ("-----begin",),
    ),
    # the key's body without its BEGIN line (the title took the first line, or a size limit cut):
    # base64 words up to an END line (lines may be joined by spaces or written as \n escapes in a
    # repr), or two or more PEM-wrapped base64 lines (60-76 characters) even without an END line
    TokenRule(
        "private-key-body",
        r"(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/=]{16,}(?:\s|\\[rn]){1,4}){1,200}"
        r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
        ("-----end",),
    ),
    TokenRule(
        "private-key-lines",
        r"(?m:(?:(?:^|(?<=\\n))[A-Za-z0-9+/]{60,76}[ \t]*(?:\r?\n|\\r\\n|\\n)){2,}"
        r"(?:[A-Za-z0-9+/=]{1,76}(?=[ \t]*(?:\r?\n|\\[rn]|$|\u2026)))?)",
        ("\n", "\\n"),  # a real line break, or one escaped in a repr or JSON text
        line_start=True,
    ),
    TokenRule("jwt", r"\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_\-+/=]*", ("eyj",)),
    TokenRule("jwt-base64", r"\bZXlK[A-Za-z0-9+/]{40,}={0,2}", ("zxlk",)),
    # "Bearer <credential>", "Basic <base64>", "Token <key>": the credential must contain a digit or
    # be 20+ characters, so "Token expired" or "Bearer authentication failed" stay readable.
    TokenRule(
        "authorization-scheme",
        r"(?i:\b(?:bearer|basic|token|digest|negotiate)[ \t]+['\"]?"
        r"(?=[A-Za-z0-9\-._~+/]*[0-9]|[A-Za-z0-9\-._~+/]{20})[A-Za-z0-9\-._~+/]{8,}=*)",
        ("bearer", "basic", "token", "digest", "negotiate"),
    ),
    # ---- pushlog's own keys (``pl_<scope>_<32 url-safe characters>``) -------------------------------
    TokenRule("pushlog-key", r"\bpl_[a-z]{3,12}_[A-Za-z0-9_\-]{32}(?![\w-])", ("pl_",)),
    # ---- cloud providers -----------------------------------------------------------------------------
    TokenRule(
        "aws-access-token",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
        ("a3t", "akia", "asia", "abia", "acca"),
    ),
    TokenRule("aws-amazon-bedrock-api-key-long-lived", r"\bABSK[A-Za-z0-9+/]{109,269}={0,2}", ("absk",)),
    TokenRule(
        "azure-ad-client-secret",
        r"(?<![\w~.-])[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34}(?![\w~.-])",
        ("q~",),
    ),
    TokenRule("gcp-api-key", r"\bAIza[\w-]{35}(?![\w-])", ("aiza",)),
    TokenRule("google-oauth-access-token", r"\bya29\.[0-9A-Za-z_\-]{20,}", ("ya29.",)),
    TokenRule("alibaba-access-key-id", r"\bLTAI[A-Za-z0-9]{20}\b", ("ltai",)),
    TokenRule("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", ("_v1_",)),
    TokenRule("cloudflare-origin-ca-key", r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ("v1.0-",)),
    TokenRule("heroku-api-key-v2", r"\bHRKU-AA[0-9a-zA-Z_-]{58}", ("hrku-aa",)),
    TokenRule(
        "flyio-access-token",
        r"\b(?:fo1_[\w-]{43}|fm1[ar]_[a-zA-Z0-9+/]{100,}={0,3}|fm2_[a-zA-Z0-9+/]{100,}={0,3})",
        ("fo1_", "fm1", "fm2_"),
    ),
    TokenRule(
        "hashicorp-tf-api-token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9\-_=]{60,70}", (".atlasv1.",)
    ),
    TokenRule(
        "vault-token",
        r"\b(?:hvs\.[\w-]{90,120}|hvb\.[\w-]{138,300})\b",
        ("hvs.", "hvb."),
    ),
    TokenRule("doppler-api-token", r"\bdp\.pt\.[A-Za-z0-9]{43}", ("dp.pt.",)),
    TokenRule("pulumi-api-token", r"\bpul-[a-f0-9]{40}\b", ("pul-",)),
    TokenRule("scalingo-api-token", r"\btk-us-[\w-]{48}", ("tk-us-",)),
    TokenRule("openshift-user-token", r"\bsha256~[\w-]{43}(?![\w-])", ("sha256~",)),
    TokenRule("databricks-api-token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b", ("dapi",)),
    TokenRule("planetscale-token", r"\bpscale_(?:tkn|oauth|pw)_[\w=.\-]{32,64}", ("pscale_",)),
    TokenRule(
        "age-secret-key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", ("age-secret-key-1",)
    ),
    TokenRule(
        "1password-secret-key",
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
        ("a3-",),
    ),
    TokenRule("1password-service-account-token", r"\bops_eyJ[a-zA-Z0-9+/]{250,}={0,3}", ("ops_eyj",)),
    # ---- code hosting, CI, package registries --------------------------------------------------------
    TokenRule("github-token", r"\bgh[pousr]_[0-9a-zA-Z]{36}\b", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    TokenRule("github-fine-grained-pat", r"\bgithub_pat_\w{82}", ("github_pat_",)),
    TokenRule(
        "gitlab-token",
        r"\b(?:glpat|gldt|glffct|glft|glimt|glagent|gloas|glptt|glrt|glsoat)-[0-9A-Za-z_\-.]{20,300}",
        ("glpat-", "gldt-", "glffct-", "glft-", "glimt-", "glagent-", "gloas-", "glptt-", "glrt-", "glsoat-"),
    ),
    TokenRule("gitlab-cicd-job-token", r"\bglcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}", ("glcbt-",)),
    TokenRule("gitlab-rrt", r"\bGR1348941[\w-]{20}", ("gr1348941",)),
    TokenRule("npm-access-token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    TokenRule("pypi-upload-token", r"\bpypi-AgEIcHlwaS5vcmc[\w-]{50,1000}", ("pypi-ageichlwas5vcmc",)),
    TokenRule("rubygems-api-token", r"\brubygems_[a-f0-9]{48}\b", ("rubygems_",)),
    TokenRule("clojars-api-token", r"(?i:\bCLOJARS_[a-z0-9]{60})", ("clojars_",)),
    TokenRule("artifactory-api-key", r"\bAKCp[A-Za-z0-9]{69}\b", ("akcp",)),
    TokenRule("artifactory-reference-token", r"\bcmVmd[A-Za-z0-9]{59}\b", ("cmvmd",)),
    TokenRule("docker-personal-access-token", r"\bdckr_pat_[A-Za-z0-9_-]{27,}", ("dckr_pat_",)),
    TokenRule("prefect-api-token", r"\bpnu_[a-zA-Z0-9]{36}\b", ("pnu_",)),
    TokenRule("readme-api-token", r"\brdme_[a-z0-9]{70}\b", ("rdme_",)),
    TokenRule(
        "harness-api-key",
        r"\b(?:pat|sat)\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9]{24}\.[a-zA-Z0-9]{20}",
        ("pat.", "sat."),
    ),
    TokenRule("infracost-api-token", r"\bico-[a-zA-Z0-9]{32}\b", ("ico-",)),
    # ---- payments ------------------------------------------------------------------------------------
    TokenRule(
        "stripe-access-token",
        r"\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}\b",
        ("_test_", "_live_", "_prod_"),
    ),
    TokenRule("stripe-webhook-secret", r"\bwhsec_[A-Za-z0-9]{24,}\b", ("whsec_",)),
    TokenRule(
        "square-access-token", r"\b(?:EAAA|sq0atp-|sq0csp-)[\w-]{22,60}", ("eaaa", "sq0atp-", "sq0csp-")
    ),
    TokenRule("shippo-api-token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b", ("shippo_",)),
    TokenRule("flutterwave-secret-key", r"\bFLWSECK_TEST-[a-hA-H0-9]{32}-X", ("flwseck_test-",)),
    TokenRule("duffel-api-token", r"\bduffel_(?:test|live)_[A-Za-z0-9_\-=]{43}", ("duffel_",)),
    TokenRule("easypost-api-token", r"\bEZ[AT]K[A-Za-z0-9]{54}\b", ("ezak", "eztk")),
    # ---- messaging, email, chat ------------------------------------------------------------------------
    TokenRule("slack-token", r"\bxox[abeoprs](?:\.xox[bp])?-[0-9A-Za-z\-]{10,}", ("xox",)),
    TokenRule("slack-app-token", r"(?i:\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)", ("xapp-",)),
    TokenRule(
        "slack-webhook-url",
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
        ("hooks.slack.com",),
    ),
    TokenRule(
        "discord-webhook-url",
        r"(?:https?://)?(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{20,}",
        ("/api/webhooks/",),
    ),
    TokenRule(
        "microsoft-teams-webhook",
        r"https://[a-z0-9]+\.webhook\.office\.com/webhookb2/[\w@/-]{60,}",
        (".webhook.office.com",),
    ),
    TokenRule("telegram-bot-api-token", r"\b[0-9]{5,16}:A[a-zA-Z0-9_\-]{34}(?![\w-])", (":a",)),
    TokenRule("twilio-api-key", r"SK[0-9a-fA-F]{32}\b", ("sk",)),
    TokenRule("sendgrid-api-token", r"\bSG\.[A-Za-z0-9=_\-.]{66}", ("sg.",)),
    TokenRule("sendinblue-api-token", r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b", ("xkeysib-",)),
    TokenRule("mailgun-private-api-token", r"\bkey-[a-f0-9]{32}\b", ("key-",)),
    TokenRule("mailchimp-api-key", r"\b[a-f0-9]{32}-us\d{1,2}\b", ("-us",)),
    TokenRule("facebook-page-access-token", r"\bEAA[MC][A-Za-z0-9]{100,}", ("eaam", "eaac")),
    TokenRule("postman-api-token", r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b", ("pmak-",)),
    TokenRule("linear-api-key", r"\blin_api_[A-Za-z0-9]{40}", ("lin_api_",)),
    TokenRule("notion-api-token", r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b", ("ntn_",)),
    TokenRule("atlassian-api-token", r"\bATATT3[A-Za-z0-9_\-=]{186}", ("atatt3",)),
    TokenRule("airtable-personal-access-token", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b", ("pat",)),
    # ---- observability -----------------------------------------------------------------------------------
    TokenRule("sentry-user-token", r"\bsntryu_[a-f0-9]{64}\b", ("sntryu_",)),
    TokenRule("sentry-org-token", r"\bsntrys_eyJpYXQiO[A-Za-z0-9+/=_]{20,}", ("sntrys_",)),
    TokenRule("grafana-api-key", r"\beyJrIjoi[A-Za-z0-9]{70,400}={0,3}", ("eyjrijoi",)),
    TokenRule("grafana-cloud-api-token", r"\bglc_[A-Za-z0-9+/]{32,400}={0,3}", ("glc_",)),
    TokenRule("grafana-service-account-token", r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b", ("glsa_",)),
    TokenRule(
        "new-relic-key",
        r"\bNR(?:AK-[A-Za-z0-9]{27}|JS-[a-f0-9]{19}|II-[A-Za-z0-9-]{32})\b",
        ("nrak-", "nrjs-", "nrii-"),
    ),
    TokenRule("dynatrace-api-token", r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}", ("dt0c01.",)),
    # ---- AI and data APIs --------------------------------------------------------------------------------
    TokenRule("anthropic-api-key", r"\bsk-ant-(?:api03|admin01)-[a-zA-Z0-9_\-]{93}AA(?![\w-])", ("sk-ant-",)),
    TokenRule(
        "openai-api-key",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{58,74}T3BlbkFJ[A-Za-z0-9_-]{58,74}"
        r"|[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})(?![\w-])",
        ("sk-",),
    ),
    TokenRule("huggingface-access-token", r"\b(?:hf_|api_org_)[A-Za-z]{34}\b", ("hf_", "api_org_")),
    TokenRule("perplexity-api-key", r"\bpplx-[a-zA-Z0-9]{48}\b", ("pplx-",)),
    TokenRule("maxmind-license-key", r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b", ("_mmk",)),
    TokenRule("settlemint-token", r"\bsm_(?:aat|pat|sat)_[a-zA-Z0-9]{16}\b", ("sm_",)),
    TokenRule("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", ("shp",)),
)

#: A key is secret when, lowercased with separators removed (``privateKey`` -> ``privatekey``,
#: ``X-Api-Key`` -> ``xapikey``), it contains one of these (regular expression fragments).
KEY_FRAGMENTS: Final[tuple[str, ...]] = (
    "passw(?:or)?d",  # password, passwd
    "passphrase",
    "passcode",
    "secret(?!ar[iy])",  # not secretary
    "token(?!s|i[sz])",  # not prompt_tokens, max_tokens, tokenizer
    "credential",
    "(?:api|access|account|secret|private|signing|encryption|master|session|auth|license|client|app"
    "|ssh|gpg|pgp|deploy|webhook|hmac|consumer|priv)key",
    "authorization",
    "cookie",
    "sessionid",
    "csrf",
    "xsrf",
    "dsn",
    "connectionstring",
    "connstr",
    "cardnumber",
    "ccnumber",
    "creditcard",
    "cvv",
    "cvc",
    "mnemonic",
    "seedphrase",
    "mfacode",
    "socialsecurity",
)

#: A key is also secret when one of its words (split at ``_ - . space`` and camelCase) is one of these.
KEY_WORDS: Final[frozenset[str]] = frozenset(
    {"pwd", "pw", "pass", "pin", "pincode", "otp", "totp", "ssn", "auth", "jwt", "bearer", "creds", "cred"}
    | {"signature", "hmac", "sid", "cvn"}
)

#: ...unless its last word says it describes a secret rather than holds one (``token_count``,
#: ``password_changed_at``, ``auth_method``, ``secret_name``); such values still go through the text rules.
DESCRIPTIVE_LAST_WORDS: Final[frozenset[str]] = frozenset(
    {"count", "counts", "total", "len", "length", "size", "limit", "max", "min", "used", "type", "kind"}
    | {"at", "ttl", "expiry", "expires", "enabled", "required", "set", "policy", "method", "mode"}
    | {"scheme", "provider", "status", "url", "uri", "endpoint", "path", "file", "name", "version"}
)

#: Lowercase pieces of which a text must contain one for the key-name rules to look at it: every key
#: that KEY_FRAGMENTS, KEY_WORDS or URL_SECRET_PARAMS accept contains one, lowercased as written
#: (``X-Api-Key`` -> ``key``, ``sessionId`` -> ``session``, ``cc_number`` -> ``number``).
KEY_HINTS: Final[tuple[str, ...]] = (
    *("pass", "pw", "secret", "token", "cred", "key", "auth", "cookie", "session", "csrf", "xsrf", "dsn"),
    *("conn", "number", "credit", "cvv", "cvc", "cvn", "mnemonic", "seed", "mfa", "social", "pin", "otp"),
    *("ssn", "jwt", "bearer", "sig", "hmac", "sid", "code"),
)

#: Query parameter names that hold secrets in URLs only (``?key=``, ``&sig=``, OAuth's ``?code=``),
#: on top of every secret key name above (``?access_token=``, ``&client_secret=``...).
URL_SECRET_PARAMS: Final[frozenset[str]] = frozenset({"key", "sig", "code"})

#: Keys whose ``Name: value`` form is a header line: the whole rest of the line is the secret
#: (``Authorization: Basic ...``, ``Cookie: a=1; b=2``), compared lowercase.
HEADER_LINE_KEYS: Final[tuple[str, ...]] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
)

#: First digits of payment card numbers (2: Mastercard 2-series, 3: Amex/Diners/JCB, 4: Visa,
#: 5: Mastercard/Maestro, 6: Discover/UnionPay/Maestro). Numbers starting otherwise (Unix timestamps
#: in ms start with 1, phone numbers with 0 or +) are never cards, however their Luhn check comes out.
CARD_FIRST_DIGITS: Final = "23456"
