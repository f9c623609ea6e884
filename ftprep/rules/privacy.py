"""FT9xx: secrets and personal data in the training text. A model memorises what it is
trained on and may repeat it to anyone; these rules find credentials and personal data
(see `ftprep.quality.sensitive` for the detectors) and never print what they found, only a
masked excerpt. `ftprep convert --redact` replaces them with typed placeholders."""
from __future__ import annotations

import functools
from collections.abc import Iterator

from ftprep.findings import Severity
from ftprep.quality import sensitive as S
from ftprep.quality.walk import iter_strings, string_values
from ftprep.rules.base import Context, Hit, record_check, rule

E, W = Severity.ERROR, Severity.WARNING
_WHY_SECRET = ("A fine-tuned model can reproduce training text verbatim: a credential in the "
               "data can end up in a stranger's answer, and the file itself is uploaded to a "
               "third party.")
_WHY_PII = ("Personal data in training text can be memorised and repeated to other users, and "
            "uploading it may need a legal basis (GDPR, CCPA).")
_FIX_REDACT = "Remove it at the source, or convert with `ftprep convert --redact`"
_FIX_REVOKE = "Revoke the key, then remove it at the source or convert with `ftprep convert --redact`"

CREDENTIAL = rule(
    "FT901", "credential", E, "Content contains an API key or token (OpenAI, AWS, GitHub, "
    "Slack, Stripe, a JWT, a password in a URL…).",
    why=_WHY_SECRET, fix=f"{_FIX_REVOKE} (placeholders such as <OPENAI_KEY>).",
)
PRIVATE_KEY = rule(
    "FT902", "private-key", E, "Content contains a private key block (RSA, EC, OpenSSH, PGP…).",
    why=_WHY_SECRET, fix=f"{_FIX_REVOKE} (<PRIVATE_KEY>).",
)
CARD_NUMBER = rule(
    "FT903", "payment-card", E, "Content contains a payment card number (Luhn-valid, known "
    "issuer prefix).",
    why=_WHY_PII + " Card numbers are also covered by PCI DSS.",
    fix=f"{_FIX_REDACT} (<CARD_NUMBER>).",
)
EMAIL = rule(
    "FT911", "email-address", W, "Content contains an e-mail address.",
    why=_WHY_PII, fix=f"{_FIX_REDACT} (<EMAIL>); ignore FT911 if the addresses are meant "
    "(e.g. a support address the model should give out).",
)
# Opt-in (--extend-select FT91): libphonenumber is the costliest detector and the noisiest on
# order and ticket numbers; IBANs and IPs are rare in chat data and IPs common in tech support.
PHONE = rule(
    "FT912", "phone-number", W, "Content contains a phone number (libphonenumber-valid; "
    "numbers without +country are read as US).",
    why=_WHY_PII, fix=f"{_FIX_REDACT} (<PHONE>).",
    default=False,
)
IBAN = rule(
    "FT913", "iban", W, "Content contains an IBAN (valid country length and checksum).",
    why=_WHY_PII, fix=f"{_FIX_REDACT} (<IBAN>).",
    default=False,
)
IP_ADDRESS = rule(
    "FT914", "ip-address", W, "Content contains a public IP address (private, loopback and "
    "documentation ranges are not reported).",
    why=_WHY_PII + " An IP address can identify a person or expose infrastructure.",
    fix=f"{_FIX_REDACT} (<IP_ADDRESS>).",
    default=False,
)

CODES: dict[str, str] = {
    **{kind: CREDENTIAL.code for kind in S.CREDENTIALS},
    S.PRIVATE_KEY: PRIVATE_KEY.code, S.CARD: CARD_NUMBER.code, S.EMAIL: EMAIL.code,
    S.PHONE: PHONE.code, S.IBAN: IBAN.code, S.IP: IP_ADDRESS.code,
}


@functools.cache  # one selection per run (a frozenset caches its hash)
def _kinds(enabled: frozenset[str] | None) -> frozenset[str] | None:
    """The detector kinds the selected rules need (None = all)."""
    return None if enabled is None else frozenset(k for k, c in CODES.items() if c in enabled)


def may_hold_sensitive(raw: bytes, enabled: frozenset[str] | None) -> bool:
    """False when `sensitive_content` certainly reports nothing on the record whose JSON text
    (a JSONL line) is `raw`, read on those bytes (`may_contain_json`); True: run it."""
    kinds = _kinds(enabled)
    if kinds is None:
        return True
    return bool(kinds) and S.may_contain_json(raw, kinds)


@record_check()
def sensitive_content(record: dict, ctx: Context) -> Iterator[Hit]:
    kinds = _kinds(ctx.enabled)
    if kinds is not None and not kinds:
        return  # --ignore FT9: no scanning at all
    if not S.may_contain("\n".join(string_values(record)), kinds):
        return  # nearly every record: one pass over its text instead of one per string
    for path, text in iter_strings(record):
        spans = S.find_sensitive(text, kinds)
        for span in spans:
            excerpt = S.masked_excerpt(text, span, spans)
            yield Hit(CODES[span.kind], path, f"{S.LABELS[span.kind]}: {excerpt}")
