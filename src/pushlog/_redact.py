"""Secret masking, applied to every event before it leaves the process (hub, spool, CLI or a capture).

Rules (the data lives in :mod:`pushlog._redact_rules`; docs/client.md "What redaction covers"):

* **key names**: a metadata key, at any depth, whose name says it holds a secret (``password``,
  ``privateKey``, ``X-Api-Key``, ``accessKeyId``, ``pin``, ``cvv``...) has its value replaced by
  :data:`MASK`. Keys are split at camelCase, ``_``, ``-``, ``.`` and spaces before matching.
* **the same names inside text**: ``password=...``, ``password: ...``, ``'password': '...'`` and
  ``"password": "..."`` (what ``%r`` of a dict and JSON look like), query parameters
  (``?access_token=...``, ``&client_secret=...``, ``&sig=...``) and header lines
  (``Authorization: ...``, ``Cookie: ...``, masked to the end of the line).
* **secret formats** anywhere in text: URL credentials (``scheme://user:[redacted]@host``, a key used
  as the user name), PEM private keys, JWTs, ``Bearer``/``Basic`` credentials, well-known provider
  tokens (AWS, GitHub, Stripe, Slack, ...), and payment card numbers (13-19 digits passing the Luhn
  check, separated by spaces, dashes, dots or nothing, in text or as an integer).

Every field is covered: title, body, channel, tags, link, image, actions, metadata keys and values,
fingerprint and source. Nesting depth is unlimited; the work is bounded by :data:`MAX_NODES` values per
event (past it the rest of the metadata is masked, never sent unread). A field that grew past its size
limit because of a mask is cut again, and a URL field that is no longer a URL after masking is dropped.

Redaction runs on the client's worker thread, never on the thread that logs.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, Final

from ._event import (
    MAX_BODY,
    MAX_CHANNEL,
    MAX_FINGERPRINT,
    MAX_METADATA_VALUE,
    MAX_TAG,
    MAX_TITLE,
    MAX_URL,
    TRUNCATION_MARKER,
    Event,
    truncate,
)
from ._redact_rules import (
    CARD_FIRST_DIGITS,
    DESCRIPTIVE_LAST_WORDS,
    HEADER_LINE_KEYS,
    KEY_FRAGMENTS,
    KEY_HINTS,
    KEY_WORDS,
    TOKEN_RULES,
    URL_SECRET_PARAMS,
)

MASK: Final = "[redacted]"
#: The mask inside a URL's authority, where brackets would make it unparseable (they mean IPv6).
URL_MASK: Final = "redacted"

#: Values (container items and scalars) visited per metadata tree; beyond it the rest is masked.
MAX_NODES: Final = 10_000

#: Every :data:`~pushlog._redact_rules.TOKEN_RULES` pattern, compiled, in table order.
_TOKENS: Final = tuple((rule, re.compile(rule.pattern)) for rule in TOKEN_RULES)
#: ``(hint, index into _TOKENS)`` for every hint, and the rules without hints (always tried).
_HINTS: Final = tuple((hint, index) for index, (rule, _) in enumerate(_TOKENS) for hint in rule.hints)
_ALWAYS: Final = tuple(index for index, (rule, _) in enumerate(_TOKENS) if not rule.hints)
#: No token rule matches fewer characters ("Basic " and an 8-character credential).
_SHORTEST_TOKEN: Final = 14
#: Texts up to this length have their result remembered (``Redactor._texts``), and the lines of
#: longer multi-line texts their hints (``Redactor._line_hints``): traceback frames repeat.
_CACHED_TEXT: Final = 256
#: Entries per text cache (cleared when full): at most about a megabyte each.
_TEXT_CACHE_SIZE: Final = 2048

#: A bare value: masks a format rule already put there, or ordinary characters (an opening bracket
#: only after the first one: a value that starts with one is a structure).
_BARE: Final = (
    "(?:"
    + re.escape(MASK)
    + r"""|[^\s&#;,'"<>()\[\]{}])(?:"""
    + re.escape(MASK)
    + r"""|[^\s&#;,'"<>)\]}])*"""
)

#: ``key<sep>value`` in text. The key is quoted (``'k'``, ``"k"``, ``\\"k\\"`` inside JSON-in-a-string)
#: or bare; the value is quoted (up to its closing quote, or the end of the line when a cut removed
#: it), an opening bracket (the callback finds the matching one), or a bare run of characters (which
#: may hold a mask already put there by a format rule).
_PAIR: Final = re.compile(
    r"""(?:(?P<kq>\\{0,2}["'])(?P<qkey>[^"'\\\r\n]{1,64})(?P=kq)|(?<![\w.])(?P<bkey>[A-Za-z_][\w.\-]{0,63}))"""
    r"""[ \t]*(?P<sep>=>|:=|[:=])[ \t]*"""
    r"""(?:(?P<vq>\\{0,2}["'])(?P<inner>(?:\\.|[^\\\r\n])*?)(?:(?P=vq)|(?=[\r\n])|\Z)"""
    r"""|(?P<open>[\[{(])"""
    r"""|(?P<bare>""" + _BARE + "))"
)

#: ``scheme://user[:password]@``: the password is masked, and the user too when it looks like a key.
_USERINFO: Final = re.compile(
    r"""(?i)\b(?P<scheme>[a-z][a-z0-9+.\-]{1,30}://)(?P<user>[^\s/?#@:'"<>]*)(?::(?P<pw>[^\s/?#@'"<>]*))?@"""
)

#: 13-19 digits, optionally separated by single spaces, dashes or dots, starting like a card number;
#: not a part of a longer number, word, hex id, version or decimal.
#: (The lookbehind comes after the first digit, so the search skips to candidate digits at C speed.)
_CARD: Final = re.compile(
    rf"[{CARD_FIRST_DIGITS}](?<![\w.+\-][{CARD_FIRST_DIGITS}])(?:[ .\-]?\d){{12,18}}(?![\w]|[.\-]\d)"
)
_CARD_SEPARATORS: Final = re.compile(r"[ .\-]")

#: ``--password hunter2`` (a command line's option and its value, separated by a space). The first
#: dash comes before the lookbehind (no word or dash before it), so the search jumps between dashes.
_OPTION: Final = re.compile(
    r"""-(?<![\w-]-)-?(?P<key>[A-Za-z][\w-]{1,63})[ \t]+(?P<q>['"]?)(?P<val>[^\s'"]+)"""
)

#: A long token-like word cut short by a size limit (``ghp_abc…[truncated]``), with the token-like
#: lines right before it (a key's body): too short for its rule to recognise, too much to send.
_CUT_WORD: Final = re.compile(
    r"(?<![A-Za-z0-9_\-.~+/=:])(?:[A-Za-z0-9_\-.~+/=:]{16,}(?:\r?\n|\\n))*[A-Za-z0-9_\-.~+/=:]{16,}(?="
    + re.escape(TRUNCATION_MARKER)
    + ")"
)

_CAMEL_LOWER: Final = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_UPPER: Final = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
_BRACKETS: Final = {"[": "]", "{": "}", "(": ")"}
_KEY_CACHE_SIZE: Final = 4096


def _alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words``, written as a trie (``a(?:b|cd)``): the regex
    engine rejects a position after one character comparison per first letter instead of trying every
    word, and prefers the longest word at a position."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class _Screen:
    """One pass over a lowercased text that finds every hint in it (token-rule hints and key-name
    hints together), instead of one substring search per hint.

    The lookahead tries every position and reports the longest hint starting there; the shorter hints
    starting at the same position are its prefixes, so each reported hint stands for itself and its
    prefixes (:attr:`rules`, :attr:`keyed`). Exact: the same hints are seen as by ``hint in text``."""

    def __init__(self, key_hints: Iterable[str]) -> None:
        by_hint: dict[str, set[int]] = {}
        for hint, index in _HINTS:
            by_hint.setdefault(hint, set()).add(index)
        keys = frozenset(key_hints)
        hints = sorted(by_hint.keys() | keys)
        self.pattern = re.compile("(?=(" + _alternation(hints) + "))")
        #: token rule indices for a reported hint (its own and its prefixes'), in table order
        self.rules: dict[str, tuple[int, ...]] = {}
        #: whether a reported hint (or one of its prefixes) is a key-name hint
        self.keyed: dict[str, bool] = {}
        for hint in hints:
            prefixes = [hint[:n] for n in range(1, len(hint) + 1)]
            self.rules[hint] = tuple(sorted({i for p in prefixes for i in by_hint.get(p, ())}))
            self.keyed[hint] = any(p in keys for p in prefixes)


def _sub_at_line_starts(pattern: re.Pattern[str], text: str) -> str:
    """``pattern.sub(MASK, text)`` for a pattern whose every match begins at a line start (see
    :attr:`~pushlog._redact_rules.TokenRule.line_start`): the same result, trying those places only
    (``match`` at a position still sees the text before it, as the pattern's lookbehinds need)."""
    starts = {0}
    for newline in ("\n", "\\n"):
        at = text.find(newline)
        while at >= 0:
            starts.add(at + len(newline))
            at = text.find(newline, at + 1)
    out: list[str] = []
    pos = 0  # everything before pos is in out
    for start in sorted(starts):
        if start < pos:
            continue
        match = pattern.match(text, start)
        if match is not None:
            out += (text[pos:start], MASK)
            pos = match.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (payment card numbers do)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def key_words(key: str) -> list[str]:
    """A key's words, lowercase: ``accessKeyId`` -> ``['access', 'key', 'id']``, ``X-API-Key`` ->
    ``['x', 'api', 'key']``, ``db.password`` -> ``['db', 'password']``."""
    spaced = _CAMEL_LOWER.sub(r"\1_\2", _CAMEL_UPPER.sub(r"\1_\2", key)).lower()
    return [word for word in _NOT_WORD.split(spaced) if word]


def card_number(value: int) -> bool:
    """Whether an integer is written like a payment card number (see :data:`_CARD`)."""
    if not 10**12 <= value < 10**19:
        return False
    digits = str(value)
    return digits[0] in CARD_FIRST_DIGITS and luhn_ok(digits)


def matching_rules(text: str) -> list[str]:
    """Names of the :data:`~pushlog._redact_rules.TOKEN_RULES` that match somewhere in ``text``."""
    return [rule.name for rule, pattern in _TOKENS if pattern.search(text)]


def _mask_card(match: re.Match[str]) -> str:
    digits = _CARD_SEPARATORS.sub("", match.group(0))
    return MASK if luhn_ok(digits) else match.group(0)


def _mask_cut_word(match: re.Match[str]) -> str:
    word = match.group(0)
    letters = any(c.isalpha() for c in word)
    random_looking = (letters and any(c.isdigit() for c in word)) or (
        len(word) >= 24 and any(c.isupper() for c in word) and any(c.islower() for c in word)
    )
    return MASK if random_looking else word


def _looks_like_key(user: str) -> bool:
    """A URL user name that is really a credential (``pl_publish_...@``, ``ghp_...@``, a Sentry key)."""
    return len(user) >= 16 or any(c.isdigit() or c == "_" for c in user)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, password = match.group("user"), match.group("pw")
    if password is None:
        return match.group(0) if not user or not _looks_like_key(user) else f"{match.group('scheme')}{MASK}@"
    shown = MASK if len(user) >= 16 else user  # beside a password, only a long user name is a key
    return f"{match.group('scheme')}{shown}:{MASK if password else ''}@"


def _bracket_end(text: str, start: int) -> int:
    """Index just past the bracket matching ``text[start]`` (quotes respected), or ``len(text)``."""
    stack = [_BRACKETS[text[start]]]
    quote = ""
    index = start + 1
    end = len(text)
    while index < end:
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in _BRACKETS:
            stack.append(_BRACKETS[char])
        elif char == stack[-1]:
            stack.pop()
            if not stack:
                return index + 1
        index += 1
    return end


def _http_url(text: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a malformed authority
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _url_field(redactor: Redactor, value: str | None, limit: int = MAX_URL) -> str | None:
    """A URL field (link, image, action url): redacted, and dropped if masking left no http(s) URL."""
    if not value:
        return value
    masked = _encoded_query_values(redactor, value) if "?" in value else value
    masked = redactor.text(masked)
    if masked == value:
        return value
    if not _http_url(masked):
        masked = masked.replace(MASK, URL_MASK)
    return masked if len(masked) <= limit and _http_url(masked) else None


def _encoded_query_values(redactor: Redactor, url: str) -> str:
    """Mask query values whose decoded form holds a secret (``?next=postgres%3A%2F%2Fu%3Apw%40db``,
    ``?q=Token+abc123...``), which the text rules cannot see in their encoded form."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    pieces = parts.query.split("&")
    changed = False
    for index, piece in enumerate(pieces):
        name, sep, encoded = piece.partition("=")
        if "%" not in encoded and "+" not in encoded:
            continue
        decoded = urllib.parse.unquote_plus(encoded)
        if redactor.text(decoded) != decoded:
            pieces[index] = f"{name}{sep}{MASK}"
            changed = True
    return urllib.parse.urlunsplit(parts._replace(query="&".join(pieces))) if changed else url


class Redactor:
    """Masks secrets in events. Thread-safe: after construction only bounded caches change (keys judged,
    keys left clean or plain, short texts masked; single dict and set operations, atomic under the GIL)."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        keys: Iterable[str] = (),
        patterns: Iterable[str] = (),
    ) -> None:
        self.enabled = enabled
        extra = ["".join(key_words(k)) for k in keys]
        self._fragments = re.compile("|".join([*KEY_FRAGMENTS, *(re.escape(e) for e in extra if e)]))
        self._screen = _Screen((*KEY_HINTS, *(word for k in keys for word in key_words(k))))
        try:
            self._patterns = tuple(re.compile(p) for p in patterns)
        except re.error as exc:
            raise ValueError(f"bad redact pattern: {exc}") from None
        self._key_cache: dict[str, bool] = {}
        self._clean_keys: set[str] = set()  # dict keys text() leaves as they are (never a secret)
        self._plain_keys: set[Any] = set()  # dict keys neither secret nor changed by text()
        #: results of text() for short texts (logger names, channels, repeated titles and values)
        self._texts: dict[str, str] = {}
        #: hints the screen finds in a line of a long multi-line text
        self._line_hints: dict[str, list[str]] = {}

    # ---- keys ---------------------------------------------------------------------------------
    def sensitive_key(self, key: str) -> bool:
        """Whether a key (a metadata key, a ``key=value`` key, a header or parameter name) names a
        secret."""
        hit = self._key_cache.get(key)
        if hit is None:
            hit = self._judge_key(key)
            if len(self._key_cache) >= _KEY_CACHE_SIZE:
                self._key_cache.clear()
            self._key_cache[key] = hit
        return hit

    def _judge_key(self, key: str) -> bool:
        words = key_words(key)
        if not words:
            return False
        if len(words) > 1 and words[-1] in DESCRIPTIVE_LAST_WORDS:
            return False
        if any(word in KEY_WORDS for word in words):
            return True
        return self._fragments.search("".join(words)) is not None

    # ---- text ---------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        """Mask secret-looking parts of ``value``; ordinary text comes back unchanged."""
        if not self.enabled or len(value) < 6:
            return value
        if len(value) > _CACHED_TEXT:
            return self._text(value)
        masked = self._texts.get(value)
        if masked is None:
            masked = self._text(value)
            if len(self._texts) >= _TEXT_CACHE_SIZE:
                self._texts.clear()
            self._texts[value] = masked
        return masked

    def _hints(self, lower: str) -> list[str]:
        """What :class:`_Screen` reports for ``lower``. A long multi-line text is screened line by
        line (no hint but ``"\\n"`` itself spans a line break), with short lines' results cached."""
        find = self._screen.pattern.findall
        if len(lower) <= _CACHED_TEXT or "\n" not in lower:
            return find(lower)
        cache = self._line_hints
        found = ["\n"]
        for line in lower.split("\n"):
            hints = cache.get(line)
            if hints is None:
                hints = find(line)
                if len(line) <= _CACHED_TEXT:
                    if len(cache) >= _TEXT_CACHE_SIZE:
                        cache.clear()
                    cache[line] = hints
            found += hints
        return found

    def _text(self, value: str) -> str:
        screen = self._screen
        found = self._hints(value.lower())
        if len(value) >= _SHORTEST_TOKEN and (found or _ALWAYS):
            hinted = {index for hint in found for index in screen.rules[hint]}
            for index in sorted(hinted.union(_ALWAYS)):
                rule, pattern = _TOKENS[index]
                at_line_starts = rule.line_start
                value = _sub_at_line_starts(pattern, value) if at_line_starts else pattern.sub(MASK, value)
        if "@" in value and "://" in value:
            value = _USERINFO.sub(_mask_userinfo, value)
        if any(screen.keyed[hint] for hint in found):  # else no key in the text can name a secret
            if ":" in value or "=" in value:
                value = self._pairs(value)
            if "-" in value:
                value = _OPTION.sub(self._mask_option, value)
        for pattern in self._patterns:
            value = pattern.sub(MASK, value)
        if len(value) >= 13:
            value = _CARD.sub(_mask_card, value)
        if TRUNCATION_MARKER in value:
            value = _CUT_WORD.sub(_mask_cut_word, value)
        return value

    def _mask_option(self, match: re.Match[str]) -> str:
        if match.group("val") == MASK or not self.sensitive_key(match.group("key")):
            return match.group(0)
        return match.group(0)[: match.start("val") - match.start()] + MASK

    def _pairs(self, text: str) -> str:
        out: list[str] = []
        pos = 0  # everything before pos is in out
        search = 0
        while True:
            match = _PAIR.search(text, search)
            if match is None:
                break
            key = match.group("qkey") or match.group("bkey")
            start = match.start()
            in_url = start > 0 and text[start - 1] in "?&;"
            secret = self.sensitive_key(key) or (in_url and key.lower() in URL_SECRET_PARAMS)
            if not secret:
                search = match.end("sep")  # the value may hold pairs of its own
                continue
            if match.group("vq") is not None:
                cut, resume = match.start("inner"), match.end("inner")
            elif match.group("open") is not None:
                cut = match.start("open")
                resume = _bracket_end(text, cut)
            else:
                cut, resume = match.start("bare"), match.end("bare")
                quote = text[start - 1] if start > 0 and match.group("bkey") else ""
                if quote in ("'", '"'):  # 'password=two words': the quotes delimit the pair
                    line_end = text.find("\n", cut)
                    closing = text.find(quote, cut, len(text) if line_end < 0 else line_end)
                    resume = max(resume, closing)
                if match.group("sep") == ":" and key.lower() in HEADER_LINE_KEYS:
                    newline = text.find("\n", cut)
                    resume = len(text) if newline < 0 else newline
                    if text[resume - 1 : resume] == "\r":
                        resume -= 1
            if text[cut:resume] != MASK:
                out.append(text[pos:cut])
                out.append(MASK)
                pos = resume
            search = max(resume, match.end("sep") + 1)
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    # ---- structures ---------------------------------------------------------------------------
    def value(self, value: Any) -> Any:
        """A masked copy of a metadata value (strings, numbers, lists and dicts at any depth)."""
        return self._walk(value, [MAX_NODES])

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int) and not isinstance(value, bool) and card_number(value):
            return MASK
        return value

    def _walk(self, root: Any, budget: list[int]) -> Any:
        """Iterative (no recursion, any depth); ``budget[0]`` values may be visited in total.

        The common case (a key already judged plain, a ``str``/``int``/``float``/``bool``/``None``
        value) is handled inline: a metadata tree of short scalars costs a few dictionary lookups."""
        if not isinstance(root, dict | list | tuple):
            budget[0] -= 1
            return self._scalar(root)
        out_root: dict[str, Any] | list[Any] = {} if isinstance(root, dict) else []
        stack: list[tuple[Any, Any]] = [(root, out_root)]
        plain, text, left = self._plain_keys, self.text, budget[0]
        while stack:
            source, target = stack.pop()
            if isinstance(source, dict):
                for key, item in source.items():
                    left -= 1
                    if left < 0:
                        target["…"] = MASK
                        break
                    name = key
                    if key not in plain and isinstance(key, str):
                        if self.sensitive_key(key):
                            # None and booleans say nothing secret ("password": None): kept
                            target[self._key(key, target)] = (
                                item if item is None or isinstance(item, bool) else MASK
                            )
                            continue
                        name = self._key(key, target)
                        if name == key:
                            if len(plain) >= _KEY_CACHE_SIZE:
                                plain.clear()
                            plain.add(key)
                    kind = type(item)
                    if kind is str:
                        target[name] = text(item)
                    elif kind is int:
                        target[name] = MASK if card_number(item) else item
                    elif item is None or kind is float or kind is bool:
                        target[name] = item
                    else:
                        target[name] = self._child(item, stack)
            else:
                for item in source:
                    left -= 1
                    if left < 0:
                        target.append(MASK)
                        break
                    target.append(text(item) if type(item) is str else self._child(item, stack))
        budget[0] = left
        return out_root

    def _child(self, item: Any, stack: list[tuple[Any, Any]]) -> Any:
        if isinstance(item, dict):
            copy: dict[str, Any] = {}
            stack.append((item, copy))
            return copy
        if isinstance(item, list | tuple):
            items: list[Any] = []
            stack.append((item, items))
            return items
        return self._scalar(item)

    def _key(self, key: str, target: dict[str, Any]) -> str:
        """A dict key with secrets in it masked (kept distinct from the keys already in ``target``)."""
        if key in self._clean_keys:
            return key
        masked = self.text(key)
        if masked == key:
            if len(self._clean_keys) >= _KEY_CACHE_SIZE:
                self._clean_keys.clear()
            self._clean_keys.add(key)
            return key
        candidate, n = masked, 1
        while candidate in target:
            n += 1
            candidate = f"{masked} #{n}"
        return candidate

    # ---- events -------------------------------------------------------------------------------
    def event(self, event: Event) -> Event:
        """Mask secrets in every field of ``event`` in place and return it. Idempotent.

        Raises only if something unforeseen breaks, and then only after blanking every free-text
        field, so an event that could not be redacted can never be sent as it was."""
        if not self.enabled:
            return event
        try:
            self._event(event)
        except BaseException:
            event.title, event.body, event.channel, event.tags = "[redaction failed]", None, None, []
            event.link = event.image = event.fingerprint = None
            event.actions, event.metadata, event.source = [], {}, {}
            raise
        return event

    def _event(self, event: Event) -> None:
        event.title = truncate(self.text(event.title), MAX_TITLE) or MASK
        if event.body:
            event.body = truncate(self.text(event.body), MAX_BODY)
        if event.channel:
            event.channel = truncate(self.text(event.channel), MAX_CHANNEL)
        if event.tags:
            event.tags = [truncate(self.text(tag), MAX_TAG) for tag in event.tags]
        event.link = _url_field(self, event.link)
        event.image = _url_field(self, event.image)
        if event.actions:
            event.actions = [self._action(action) for action in event.actions]
        if event.fingerprint:
            event.fingerprint = truncate(self.text(event.fingerprint), MAX_FINGERPRINT)
        if event.metadata:
            budget = [MAX_NODES]
            metadata = self._walk(event.metadata, budget)
            for key, item in metadata.items():
                if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE:
                    metadata[key] = _fit_value(item)
            event.metadata = metadata
        if event.source:
            event.source = self._walk(event.source, [MAX_NODES])

    def _action(self, action: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, item in action.items():
            if key == "url":
                url = _url_field(self, item)
                if url:
                    out[key] = url
            elif self.sensitive_key(key):
                out[key] = MASK
            else:
                out[key] = self.text(item) if isinstance(item, str) else item
        return out


def _fit_value(value: Any) -> Any:
    """A metadata value within the wire limit (JSON length), cut to text if masking made it longer."""
    if isinstance(value, str):
        return truncate(value, MAX_METADATA_VALUE)
    if not isinstance(value, dict | list):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_METADATA_VALUE:
        return value
    return truncate(text, MAX_METADATA_VALUE)


#: The default rules, for events that do not go through a :class:`~pushlog.Client` (``pushlog send``,
#: ``pushlog run``, ``pushlog.job``).
DEFAULT_REDACTOR: Final = Redactor()


def redact_event(event: Event) -> Event:
    """Mask secrets in ``event`` (in place, returned) with the default rules."""
    return DEFAULT_REDACTOR.event(event)


def redact_text(text: str) -> str:
    """``text`` with secrets masked by the default rules."""
    return DEFAULT_REDACTOR.text(text)
