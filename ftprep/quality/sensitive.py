"""Finding secrets and personal data in text, with exact spans, without printing them.

Detectors (all offline, no model downloads):
- credentials: the regexes of Yelp's `detect-secrets` plugins (AWS, GitHub, GitLab, Slack,
  Stripe, JWT with its formal check, private keys, URL passwords...), plus the OpenAI key
  shapes it does not know yet (`sk-proj-…`, `sk-svcacct-…`, `sk-admin-…` without the
  `T3BlbkFJ` marker, and 48-character legacy keys);
- payment cards: digit runs checked with `python-stdnum`'s Luhn and an issuer prefix;
- IBANs: `python-stdnum`'s country length and mod-97 check;
- phone numbers: Google's libphonenumber (`phonenumbers`), run only around digit runs;
- IP addresses: the standard library's `ipaddress`, global addresses only (10.x, 127.x,
  192.168.x and documentation ranges are not about a person);
- e-mail addresses: one pattern (an address has no checksum to verify).
Every detector sits behind a cheap test (a character or a literal prefix), so text without
candidates costs one pass of a few C-level searches.
"""
from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ftprep.errors import UsageError

# Kinds: (label in messages, placeholder written by `convert --redact`)
OPENAI_KEY, AWS_KEY, GITHUB_TOKEN, JWT, PRIVATE_KEY = (
    "openai_key", "aws_key", "github_token", "jwt", "private_key")
SECRET, PASSWORD_IN_URL = "secret", "password_in_url"
EMAIL, PHONE, CARD, IBAN, IP = "email", "phone", "card_number", "iban", "ip_address"

LABELS: dict[str, str] = {
    OPENAI_KEY: "OpenAI API key", AWS_KEY: "AWS access key", GITHUB_TOKEN: "GitHub token",
    JWT: "JSON Web Token", PRIVATE_KEY: "private key", SECRET: "API token",
    PASSWORD_IN_URL: "password in a URL", EMAIL: "e-mail address", PHONE: "phone number",
    CARD: "payment card number", IBAN: "IBAN", IP: "IP address",
}
PLACEHOLDERS: dict[str, str] = {kind: f"<{kind.upper()}>" for kind in LABELS}
PLACEHOLDERS[SECRET] = "<API_TOKEN>"
CREDENTIALS = frozenset({OPENAI_KEY, AWS_KEY, GITHUB_TOKEN, JWT, SECRET, PASSWORD_IN_URL})

# detect-secrets plugin (module, class) → kind. Left out: high-entropy and keyword plugins
# (they flag ordinary hashes and prose), Artifactory (its `AP…` pattern matches words such as
# "APEXtrading"), IBM/Cloudant/SoftLayer (need a keyword context).
_PLUGINS: tuple[tuple[str, str, str], ...] = (
    ("openai", "OpenAIDetector", OPENAI_KEY),
    ("aws", "AWSKeyDetector", AWS_KEY),
    ("github_token", "GitHubTokenDetector", GITHUB_TOKEN),
    ("jwt", "JwtTokenDetector", JWT),
    ("private_key", "PrivateKeyDetector", PRIVATE_KEY),
    ("basic_auth", "BasicAuthDetector", PASSWORD_IN_URL),
    ("gitlab_token", "GitLabTokenDetector", SECRET),
    ("slack", "SlackDetector", SECRET),
    ("stripe", "StripeDetector", SECRET),
    ("twilio", "TwilioKeyDetector", SECRET),
    ("sendgrid", "SendGridDetector", SECRET),
    ("npm", "NpmDetector", SECRET),
    ("pypi_token", "PypiTokenDetector", SECRET),
    ("discord", "DiscordBotTokenDetector", SECRET),
    ("telegram_token", "TelegramBotTokenDetector", SECRET),
    ("azure_storage_key", "AzureStorageKeyDetector", SECRET),
    ("mailchimp", "MailchimpDetector", SECRET),
    ("square_oauth", "SquareOAuthDetector", SECRET),
)
# OpenAI key shapes detect-secrets 1.5 does not match (it requires the T3BlbkFJ marker).
_OPENAI_EXTRA = re.compile(r"(?<![\w-])sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"
                           r"|[A-Za-z0-9]{48})(?![\w-])")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_START = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
                    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*"
                    r"\.[A-Za-z]{2,24}(?![\w-])")
# Printed card numbers: one run of digits, or groups of four (4-6-5 for Amex) with one separator.
_CARD = re.compile(r"(?<![\d.,$#-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})"
                   r"(?![\d-]|[.,]\d)")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[068]|35|6011|64[4-9]|65|62")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,7}:?(?:[0-9A-Fa-f]{1,4}:?){0,7}"
                   r"(?![0-9A-Fa-f:])")
_PHONE_RUN = re.compile(r"(?<![\w+$#.,-])\+?\(?\d[\d ().\-]{5,}\d(?![\w]|[.,]\d)")
PHONE_REGION = "US"  # numbers without a +country code are read as this region's


@dataclass(frozen=True, slots=True)
class Span:
    """One sensitive value in a text: its kind and [start, end) offsets."""

    kind: str
    start: int
    end: int


class MissingDetectors(UsageError):
    """The detector libraries are not installed (a broken or partial install)."""


@functools.cache
def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDetectors(
            f"secret/PII detection needs {package}, which is not installed "
            f"(pip install {package}; or --ignore FT9 to skip these rules)") from e


@functools.cache
def _secret_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, compiled regex) from the detect-secrets plugins, then our OpenAI extras."""
    found: list[tuple[str, re.Pattern[str]]] = []
    for module, cls, kind in _PLUGINS:
        plugin = getattr(_require(f"detect_secrets.plugins.{module}", "detect-secrets"), cls)
        found.extend((kind, regex) for regex in plugin.denylist)
    found.append((OPENAI_KEY, _OPENAI_EXTRA))
    return tuple(found)


# Every credential pattern above needs a run of 16+ token characters, a PEM/PuTTY header or a
# URL with a password: text with none of these (nearly all text) skips the patterns entirely.
_CREDENTIAL_HINT = re.compile(r"[A-Za-z0-9_+/=-]{16,}|PRIVATE KEY|PuTTY|://")


@functools.cache
def _jwt_is_valid() -> Callable[[str], bool]:
    module = _require("detect_secrets.plugins.jwt", "detect-secrets")
    return module.JwtTokenDetector.is_formally_valid


def _credentials(text: str) -> Iterator[Span]:
    if not _CREDENTIAL_HINT.search(text):
        return
    for kind, regex in _secret_patterns():
        for m in regex.finditer(text):
            start, end = m.span()
            if kind == JWT and not _jwt_is_valid()(m.group()):
                continue
            if kind == PRIVATE_KEY:
                start, end = _pem_block(text, m.start(), m.end())
            elif kind == PASSWORD_IN_URL:
                start, end = m.span(1)  # only the password: the URL and user stay readable
            else:
                start, end = _strip_frame(m.group(), start, end)
                end = _token_end(text, end, kind)
            yield Span(kind, start, end)


def _pem_block(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole key block, from its -----BEGIN line to its -----END line (or the text's end)."""
    head = _PEM_START.search(text, max(0, start - 16), end + 32)
    begin = head.start() if head else start
    tail = _PEM_END.search(text, end)
    return begin, (tail.end() if tail else len(text))


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_JWT_CHARS = re.compile(r"[A-Za-z0-9_\-.+/=]*")


def _token_end(text: str, end: int, kind: str) -> int:
    """Where the token really ends: some patterns stop at a fixed length or match a JWT's
    signature lazily, and a redaction must not leave the token's tail behind."""
    m = (_JWT_CHARS if kind == JWT else _TOKEN_CHARS).match(text, end)
    return m.end() if m else end


def _strip_frame(value: str, start: int, end: int) -> tuple[int, int]:
    """Some plugin patterns include the character around the token (a space, a quote)."""
    lead = len(value) - len(value.lstrip(" \t\"'=:"))
    trail = len(value) - len(value.rstrip(" \t\"'\r\n"))
    return start + lead, end - trail


def _emails(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield Span(EMAIL, *m.span())


# Cheap necessary conditions (patterns that start with a literal run fast in `re`).
_CARD_HINT = re.compile(r"\d\d\d\d[ -]?\d\d\d\d[ -]?\d")
_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.")


def _cards(text: str) -> Iterator[Span]:
    """Card-shaped runs, tried only where the cheap hint matched (the full pattern's
    look-behind is slow to run at every position), then checked with Luhn."""
    luhn = None
    hint = _CARD_HINT.search(text)
    while hint:
        m = _CARD.match(text, hint.start())
        if m:
            luhn = luhn or _require("stdnum.luhn", "python-stdnum")
            digits = re.sub(r"[ -]", "", m.group())
            if _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
                yield Span(CARD, *m.span())
        hint = _CARD_HINT.search(text, m.end() if m else hint.start() + 1)


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):  # python-stdnum imported at the first candidate (~17 ms)
        if _require("stdnum.iban", "python-stdnum").is_valid(m.group()):
            yield Span(IBAN, *m.span())


def _ips(text: str) -> Iterator[Span]:
    candidates = list(_IPV4.finditer(text)) if _IPV4_HINT.search(text) else []
    if text.count(":") >= 2:
        candidates += _IPV6.finditer(text)
    for m in candidates:
        try:
            address = ipaddress.ip_address(m.group())
        except ValueError:
            continue
        if address.is_global:
            yield Span(IP, *m.span())


_DATE_OR_VERSION = re.compile(r"\d{1,4}([-./])\d{1,2}\1\d{1,4}")


def _phone_like(run: str) -> bool:
    """7 to 15 digits (E.164's range), and not a date or a version number."""
    digits = sum(c.isdigit() for c in run)
    return 7 <= digits <= 15 and not _DATE_OR_VERSION.search(run)


def _phones(text: str) -> Iterator[Span]:
    runs = [m for m in _PHONE_RUN.finditer(text) if _phone_like(m.group())]
    if not runs:
        return
    phonenumbers = _require("phonenumbers", "phonenumbers")
    for run in runs:
        # libphonenumber looks at a little context (a leading "+" or "tel:"); the run suffices.
        lo = run.start()
        # STRICT_GROUPING: the digits must be grouped as that country writes numbers, so two
        # numbers side by side ("order 48338 12838") are not read as one phone number.
        matcher = phonenumbers.PhoneNumberMatcher(
            run.group(), PHONE_REGION, phonenumbers.Leniency.STRICT_GROUPING)
        for m in matcher:
            yield Span(PHONE, lo + m.start, lo + m.end)


# Order = priority when spans overlap: a card number is not also reported as a phone number.
DETECTORS: tuple[tuple[frozenset[str], Callable[[str], Iterator[Span]]], ...] = (
    (CREDENTIALS | {PRIVATE_KEY}, _credentials), (frozenset({CARD}), _cards),
    (frozenset({IBAN}), _ibans), (frozenset({EMAIL}), _emails), (frozenset({IP}), _ips),
    (frozenset({PHONE}), _phones),
)


# A necessary condition of each detector that holds for any text containing the hit, so one
# check over all of a record's strings (joined) rules out most records at once. Regex hints
# such as _CREDENTIAL_HINT cost a search from every position; the common kinds are tested on
# the UTF-8 bytes mapped through a table instead (C speed): a credential needs 16 token
# characters in a row; a card hint (_CARD_HINT: 4 digits, a space or dash at most, 4 digits)
# 8 digits in a row or 4, a space or dash, 4 (bytes of non-ASCII characters count as digits:
# `\d` also matches other scripts' digits, each 2 to 4 bytes long).
def _table(chars: bytes, to: bytes, high: bytes, also: bytes = b"", to_also: bytes = b".") -> bytes:
    return bytes(to[0] if b in chars else (high[0] if b >= 0x80 else (
        to_also[0] if b in also else ord("."))) for b in range(256))


_TOKEN_TABLE = _table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=-", b"t",
                      b".")
_DIGIT_TABLE = _table(b"0123456789", b"d", b"d", b" -", b"s")
_TOKEN_RUN = b"t" * 16
_CARD_RUN = re.compile(rb"dddds?dddd")  # `re` finds the literal prefix faster than `in`
_IBAN_HINT = re.compile(r"[A-Z]{2}\d{2}")
_PHONE_HINT = re.compile(r"\d[\d ().\-]{5,}\d")
_CREDENTIAL_KINDS = CREDENTIALS | {PRIVATE_KEY}


def may_contain(text: str, kinds: frozenset[str] | None = None) -> bool:
    """False when `find_sensitive` certainly finds nothing of `kinds` (None = all) in `text`
    or in any part of it; True means "look closer". `text` may be several strings joined."""
    def wanted(detects: frozenset[str]) -> bool:
        return kinds is None or bool(detects & kinds)

    if wanted(frozenset({EMAIL})) and "@" in text:
        return True
    if _bytes_may_contain(text.encode("utf-8", "surrogatepass"), kinds):
        return True
    return bool((wanted(frozenset({IBAN})) and _IBAN_HINT.search(text))
                or (wanted(frozenset({IP})) and (_IPV4_HINT.search(text) or text.count(":") >= 2))
                or (wanted(frozenset({PHONE})) and _PHONE_HINT.search(text)))


# `_CREDENTIAL_HINT`'s literals on bytes: `re` finds a literal prefix faster than `in` does
_KEY_WORDS = re.compile(rb"P(?:RIVATE KEY|uTTY)")
_SCHEME = re.compile(rb"://")


def _bytes_may_contain(raw: bytes, kinds: frozenset[str] | None) -> bool:
    """`may_contain`'s screens for credentials, private keys and cards, on UTF-8 bytes."""
    search = _automaton(kinds, json=False)
    if search is not None:
        return search(raw) is not None
    return _stdlib_bytes_may_contain(raw, kinds)


def _stdlib_bytes_may_contain(raw: bytes, kinds: frozenset[str] | None) -> bool:
    """`_bytes_may_contain` with the standard library only (the reference of `_automaton`)."""
    if (kinds is None or not _CREDENTIAL_KINDS.isdisjoint(kinds)) and (
            _TOKEN_RUN in raw.translate(_TOKEN_TABLE)
            or _KEY_WORDS.search(raw) or _SCHEME.search(raw)):
        return True
    return (kinds is None or CARD in kinds) and bool(_CARD_RUN.search(raw.translate(_DIGIT_TABLE)))


# The byte screens above as one pattern for google-re2 (a DFA: one pass over the bytes, no
# backtracking), which the same bytes pass: a run in the token table is 16 of its characters,
# a card run in the digit table 4 digits or non-ASCII bytes, a space or dash at most, 4 more.
# On plain chat it costs ~5 µs a record where two translations and four searches cost ~11:
# the screen was most of `validate`'s own time beside token counting.
_RE2_CREDENTIALS = rb"[A-Za-z0-9_+/=\-]{16}|P(?:RIVATE KEY|uTTY)|://"
_RE2_CARD = rb"[0-9\x80-\xff]{4}[ \-]?[0-9\x80-\xff]{4}"
_RE2_EMAIL = rb"@"
_RE2_ESCAPES = rb"\\[u/]"  # `may_contain_json`: `\u` or `\/` may hide a character


@functools.lru_cache(maxsize=64)
def _automaton(kinds: frozenset[str] | None, *, json: bool) -> Callable[[bytes], Any] | None:
    """The `search` of one RE2 pattern holding the byte screens `kinds` need (`json`: also
    `may_contain_json`'s `@` and escapes); None without google-re2 (the standard library's
    screens run instead) or when no screen applies."""
    pieces: list[bytes] = []
    if kinds is None or not _CREDENTIAL_KINDS.isdisjoint(kinds):
        pieces.append(_RE2_CREDENTIALS)
    if kinds is None or CARD in kinds:
        pieces.append(_RE2_CARD)
    if json:
        pieces += [_RE2_ESCAPES, *([_RE2_EMAIL] if kinds is None or EMAIL in kinds else [])]
    if not pieces:
        return None
    try:
        import re2  # type: ignore[import-untyped]
    except ImportError:
        return None
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # bytes, each one character
    options.never_capture = True
    return re2.compile(b"|".join(pieces), options).search


# Kinds `may_contain_json` can rule out on a record's JSON text (the others' hints are
# regular expressions over text: IBANs, IPs and phones are opt-in rules).
JSON_SCREENED = _CREDENTIAL_KINDS | {EMAIL, CARD}


def may_contain_json(raw: bytes, kinds: frozenset[str]) -> bool:
    """`may_contain` for every string value of a record at once, read on the record's JSON
    text (UTF-8 bytes, as in a JSONL line): no decoding, no walk, no joining. Sound because
    each string's characters stand in the JSON text as they are, between quotes, which no
    hint spans; an escape writes a character as two (`\\n`: a backslash, which no hint
    looks for, and a letter, which can only lengthen a run of token characters), except
    `\\u` and `\\/`, which could hide one: text with those, or `kinds` beyond
    `JSON_SCREENED`, answers True (look closer). Keys and numbers can only add hints."""
    if not kinds <= JSON_SCREENED:
        return True
    search = _automaton(kinds, json=True)
    if search is not None:
        return search(raw) is not None
    return _stdlib_may_contain_json(raw, kinds)


def _stdlib_may_contain_json(raw: bytes, kinds: frozenset[str]) -> bool:
    """`may_contain_json` with the standard library only, for `kinds` <= JSON_SCREENED."""
    if b"\\" in raw and (b"\\u" in raw or b"\\/" in raw):
        return True
    return (EMAIL in kinds and b"@" in raw) or _stdlib_bytes_may_contain(raw, kinds)


def find_sensitive(text: str, kinds: frozenset[str] | None = None) -> list[Span]:
    """Every sensitive value in `text`, in order, without overlaps (the first detector in
    DETECTORS wins). `kinds` limits the result (None = all)."""
    if not text or (len(text) < 7 and "@" not in text):
        return []
    taken: list[Span] = []
    for detects, detect in DETECTORS:
        if kinds is not None and not detects & kinds:
            continue
        for span in detect(text):
            if (kinds is None or span.kind in kinds) and span.end > span.start and not any(
                    span.start < t.end and t.start < span.end for t in taken):
                taken.append(span)
    return sorted(taken, key=lambda s: s.start)


def redact(text: str, spans: list[Span] | None = None) -> str:
    """`text` with every sensitive value replaced by its typed placeholder (`<EMAIL>`...)."""
    spans = find_sensitive(text) if spans is None else spans
    if not spans:
        return text
    out, at = [], 0
    for span in spans:
        out += [text[at:span.start], PLACEHOLDERS[span.kind]]
        at = span.end
    out.append(text[at:])
    return "".join(out)


def mask(kind: str, value: str) -> str:
    """A form of the value that identifies it to its owner without disclosing it: a key's
    public prefix, a card's last four digits, an address's first letter and top-level domain."""
    n = len(value)
    if kind == EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}…@…{domain[domain.rfind('.'):]}"
    if kind in (CARD, PHONE):
        digits = re.sub(r"\D", "", value)
        return f"…{digits[-4 if kind == CARD else -2:]} ({len(digits)} digits)"
    if kind == IBAN:
        return f"{value[:2]}…{value[-2:]} ({n} chars)"
    if kind == IP:
        sep = ":" if ":" in value else "."
        return f"{value.split(sep)[0]}{sep}…"
    if kind == PRIVATE_KEY:
        return f"-----BEGIN … ({n} chars)"
    if kind == PASSWORD_IN_URL:
        return f"… ({n} chars)"
    return f"{value[:4]}… ({n} chars)"  # key prefixes (sk-p, AKIA, ghp_, eyJh) are public


def masked_excerpt(text: str, span: Span, spans: list[Span], width: int = 24) -> str:
    """The span masked, with up to `width` characters of context either side; every other
    sensitive value in that window is replaced by its placeholder, line breaks are shown as ⏎."""
    lo, hi = max(0, span.start - width), min(len(text), span.end + width)
    parts, at = [], lo
    for other in spans:
        if other.end <= lo or other.start >= hi:
            continue
        parts.append(text[at:max(at, other.start)])
        if other is span:
            parts.append(f"[{mask(span.kind, text[span.start:span.end])}]")
        else:
            parts.append(PLACEHOLDERS[other.kind])
        at = max(at, other.end)
    parts.append(text[at:hi])
    body = "".join(parts)
    body = "".join(c if c.isprintable() else ("⏎" if c == "\n" else " ") for c in body)
    return f"{'…' if lo else ''}{body}{'…' if hi < len(text) else ''}"
