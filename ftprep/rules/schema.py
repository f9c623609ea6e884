"""Layer 1: the JSON Schemas in `ftprep/schemas/`, with violations mapped to rule codes.

Schema errors whose meaning is clear get their own code (missing key, unknown key, unknown
role...); anything else is FT201. Semantic rules do not re-check what the schema covers.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from ftprep.findings import Severity, child_path, json_path
from ftprep.formats import CHAT, COMPLETION, PREFERENCE, json_text, json_type
from ftprep.rules.base import Hit, rule

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

E, W = Severity.ERROR, Severity.WARNING

SCHEMA_VIOLATION = rule(
    "FT201", "schema-violation", E, "The record does not match the format's JSON Schema.",
    why="The platform parses every line against this structure and rejects the whole file "
    "on the first mismatch.",
    fix="Compare the record with `schemas/<format>.schema.json`; the message names the "
    "offending value.",
)
MISSING_KEY = rule(
    "FT202", "missing-required-key", E, "A required key is missing (e.g. `messages`).",
    why="Without `messages` (or `input`/`preferred_output`/`non_preferred_output` for "
    "preference data, `prompt`/`completion` for legacy data) there is nothing to train on.",
    fix="Add the key, or convert the source with `ftprep convert`.",
)
UNKNOWN_KEY = rule(
    "FT203", "unknown-key", E, "The record or a message has a key the format does not define.",
    why="Keys outside the format are rejected by strict validators and silently dropped by "
    "others; often they are a typo (`contents`, `roles`) for a key that is then missing.",
    fix="Remove the key, or move metadata to a separate file keyed by line number.",
)
WRONG_CONTENT_TYPE = rule(
    "FT204", "wrong-content-type", E,
    "`content` is neither a string, null, nor a list of text/image parts.",
    why="Numbers, objects or booleans in `content` are not valid message content.",
    fix="Convert the value to a string, or to a list of `{\"type\": \"text\", ...}` parts.",
)
UNKNOWN_ROLE = rule(
    "FT301", "unknown-role", E, "A message's role is not system, developer, user, assistant, "
    "tool or function.",
    why="Roles such as `human`, `bot` or `gpt` come from other formats and are rejected.",
    fix="Map the roles (`ftprep convert --role-map human=user,bot=assistant`).",
)
INVALID_WEIGHT = rule(
    "FT303", "invalid-weight", E, "`weight` is not 0 or 1.",
    why="The platform only accepts 0 (do not train on this message) or 1 (train on it).",
    fix="Use 0 or 1; drop the key to use the default (1 for assistant messages).",
)

_SCHEMA_FILES = {CHAT: "chat", PREFERENCE: "preference", COMPLETION: "completion"}


def schema_text(fmt: str) -> str:
    """The JSON Schema of a format, as shipped in the package."""
    return (resources.files("ftprep") / "schemas" / f"{_SCHEMA_FILES[fmt]}.schema.json").read_text(
        "utf-8"
    )


@cache
def validator(fmt: str) -> Draft202012Validator:
    """A compiled validator for a format; cross-file $refs resolve inside the package.
    jsonschema is imported here, not at start-up (~45 ms): plain records never need it."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = {name: json.loads(schema_text(name)) for name in _SCHEMA_FILES}
    registry: Registry = Registry().with_resources(
        (f"{_SCHEMA_FILES[n]}.schema.json", Resource.from_contents(s)) for n, s in schemas.items()
    ).with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return Draft202012Validator(schemas[fmt], registry=registry)


METADATA = "metadata"


def schema_check(record: dict, fmt: str) -> tuple[list[Hit], bool]:
    """The record's schema findings, and whether it is a plain chat record (text-only
    messages with role, content, name, weight; no tools or functions; unknown keys allowed),
    which the checks registered `plain_silent` never report on."""
    known = _known_hits(record, fmt)
    if known is not None:
        return known, fmt == CHAT
    return list(schema_hits(record, fmt)), False


def schema_hits(record: dict, fmt: str) -> Iterator[Hit]:
    """Every schema violation of a record, mapped to the most specific rule code. A top-level
    `metadata` is ftprep's own key (FT931 says what happens to it), not an unknown one."""
    known = _known_hits(record, fmt)
    if known is not None:
        yield from known
        return
    if METADATA in record:
        record = {k: v for k, v in record.items() if k != METADATA}
    for error in validator(fmt).iter_errors(record):
        yield _to_hit(error)


_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the schema's pattern for `name`
_PLAIN_ROLES = frozenset(("system", "developer", "user", "assistant"))
_PLAIN_MESSAGE_KEYS = frozenset(("role", "content", "name", "weight"))


def _known_hits(record: dict, fmt: str) -> list[Hit] | None:
    """Fast path: the schema's findings for the common shapes, whose violations (if any) are
    unknown keys only: text-only chat and prompt/completion records, with or without extra
    keys (a top-level `label`, an `id` on a message; a top-level `metadata` is no violation,
    see schema_hits). None for anything else, which gets
    the full validator (~1 ms a record). tests/test_schema_fast_path.py checks that whatever
    this returns is exactly what the validator reports."""
    if fmt == COMPLETION:
        if type(record.get("prompt")) is not str or type(record.get("completion")) is not str:
            return None
        return [] if len(record) == 2 else _unknown_keys(record, "", _COMPLETION_KEYS, _OWN_KEYS)
    if fmt != CHAT:
        return None
    messages = record.get("messages")
    if type(messages) is not list or not messages:
        return None
    hits: list[Hit] = []
    for i, m in enumerate(messages):
        if type(m) is not dict:
            return None
        if not m.keys() <= _PLAIN_MESSAGE_KEYS:
            if m.keys() & _RICH_MESSAGE_KEYS:
                return None  # tool calls, refusals...: the validator's job
            hits.extend(_unknown_keys(m, f"messages[{i}]", _MESSAGE_KEYS))
        role = m.get("role")
        if type(role) is not str or role not in _PLAIN_ROLES:
            return None
        content = m.get("content")
        if content is not None and type(content) is not str:
            return None
        if "name" in m and (type(m["name"]) is not str or not _NAME.fullmatch(m["name"])):
            return None
        if "weight" in m and (type(m["weight"]) is not int or m["weight"] not in (0, 1)):
            return None
    if len(record) != 1:
        if record.keys() & _CHAT_KEYS != {"messages"}:
            return None  # tools, functions...: the validator's job
        hits.extend(_unknown_keys(record, "", _CHAT_KEYS, _OWN_KEYS))
    return hits


def _unknown_keys(obj: dict, path: str, allowed: frozenset[str],
                  own: frozenset[str] = frozenset()) -> list[Hit]:
    """The FT203 hit (one at most) the validator's `additionalProperties` gives for `obj`;
    `own` keys are left out of the check (a top-level `metadata`)."""
    extra = sorted(k for k in obj if k not in allowed and k not in own)
    if not extra:
        return []
    return [Hit(UNKNOWN_KEY.code, child_path(path, extra[0]), _unknown_message(extra, allowed))]


def _unknown_message(extra: list[str], allowed: Iterable[str]) -> str:
    return (f"unknown key {', '.join(repr(k) for k in extra)}; "
            f"allowed: {', '.join(sorted(allowed))}")


def _properties(fmt: str, *defs: str) -> frozenset[str]:
    schema = json.loads(schema_text(fmt))
    for name in defs:
        schema = schema["$defs"][name]
    return frozenset(schema["properties"])


@cache
def record_keys(fmt: str) -> frozenset[str]:
    """The top-level keys the format's schema defines (chat: messages, tools,
    parallel_tool_calls, functions), read from the shipped schema: one list, not a copy.
    ftprep's own `metadata` is not among them."""
    return _properties(fmt)


_CHAT_KEYS = _properties(CHAT)
_MESSAGE_KEYS = _properties(CHAT, "message")
_COMPLETION_KEYS = _properties(COMPLETION)
_RICH_MESSAGE_KEYS = _MESSAGE_KEYS - _PLAIN_MESSAGE_KEYS
_OWN_KEYS = frozenset((METADATA,))


def _to_hit(error: ValidationError) -> Hit:
    from jsonschema.exceptions import best_match

    path = json_path(error.absolute_path)
    last = error.absolute_path[-1] if error.absolute_path else None
    kind = error.validator
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        # jsonschema raises one error per missing key ("'input' is a required property"):
        # name that key only, or two missing keys would give two identical findings.
        missing = [k for k in missing if error.message.startswith(repr(k))][:1] or missing
        return Hit(MISSING_KEY.code, child_path(path, missing[0]) if missing else path,
                   f"missing required key {', '.join(repr(m) for m in missing)}")
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return Hit(UNKNOWN_KEY.code, child_path(path, extra[0]) if extra else path,
                   _unknown_message(extra, allowed))
    if last == "role" and kind == "enum":
        return Hit(UNKNOWN_ROLE.code, path, f"unknown role {json_text(error.instance)}")
    if last == "weight":
        return Hit(INVALID_WEIGHT.code, path, f"weight must be 0 or 1, not {json_text(error.instance)}")
    if last == "content" and kind == "anyOf" and isinstance(error.instance, list) and error.context:
        # A list is the right type: the real problem is inside one of its parts.
        inner = [e for e in error.context if e.relative_path]
        if inner:
            return _to_hit(best_match(inner))
    if last == "content" and kind == "anyOf":
        return Hit(WRONG_CONTENT_TYPE.code, path,
                   f"content must be a string, null or a list of parts, not {json_type(error.instance)}")
    return Hit(SCHEMA_VIOLATION.code, path, _short(error))


def _short(error: ValidationError) -> str:
    if error.validator == "type":
        return f"expected {error.validator_value}, got {json_type(error.instance)}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"{json_text(error.instance)} is not one of {', '.join(map(repr, allowed))}"
    if error.validator == "pattern" and error.validator_value == "^[A-Za-z0-9_-]{1,64}$":
        return f"{json_text(error.instance)} is not a valid name: 1 to 64 letters, digits, '_' or '-'"
    if error.validator == "minItems":
        return f"must have at least {error.validator_value} item(s)"
    text = error.message
    return text if len(text) <= 160 else text[:157] + "..."
