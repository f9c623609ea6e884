"""FT3xx: who speaks when. The schema already checks that roles and weights are valid values
(FT301, FT303); these rules check the conversation they form."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftprep.findings import Severity, child_path
from ftprep.formats import CHAT, PREFERENCE
from ftprep.rules.base import (
    Context,
    Hit,
    iter_messages,
    message_lists,
    record_check,
    role_of,
    rule,
)

E, W = Severity.ERROR, Severity.WARNING

ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_INSTRUCTION_ROLES = frozenset(("system", "developer"))

NO_ASSISTANT = rule(
    "FT302", "no-assistant-message", E, "The conversation has no assistant message.",
    why="Training learns the assistant's replies; an example without one teaches nothing and "
    "the platform rejects it.",
    fix="Add the assistant's reply, or drop the example (often a conversion mapped the bot's "
    "role to something else).",
)
WEIGHT_ON_NON_ASSISTANT = rule(
    "FT304", "weight-on-non-assistant", E, "`weight` is set on a message that is not from the "
    "assistant.",
    why="Only assistant messages are trained on, so the platform only accepts `weight` there; "
    "elsewhere it is an error.",
    fix="Remove `weight` from system, user and tool messages.",
)
SYSTEM_NOT_FIRST = rule(
    "FT305", "system-not-first", W, "A system/developer message comes after the conversation "
    "has started.",
    why="Instructions are expected at the start; one in the middle is usually a merge or "
    "ordering mistake, and the model will learn to expect instructions mid-conversation.",
    fix="Move the system message to the start (or merge it into the first one).",
)
ALL_WEIGHTS_ZERO = rule(
    "FT306", "all-weights-zero", E, "Every assistant message has weight 0.",
    why="Weight 0 excludes a message from training; with all of them excluded the example "
    "has nothing to train on.",
    fix="Set weight 1 (or drop `weight`) on the assistant reply you want learned, or remove "
    "the example.",
)
LAST_NOT_ASSISTANT = rule(
    "FT307", "last-message-not-assistant", W, "The conversation does not end with an "
    "assistant message.",
    why="Messages after the last assistant reply are never trained on; a trailing user "
    "message is usually a truncated conversation.",
    fix="Drop the trailing messages, or add the assistant reply they are waiting for.",
)

KEY_NOT_FOR_ROLE = rule(
    "FT308", "key-not-for-role", E, "A message has a key its role cannot have (e.g. "
    "`tool_calls` on a user message).",
    why="Only the assistant calls tools (`tool_calls`, `function_call`) or refuses (`refusal`, "
    "refusal parts), and only a tool message answers a call (`tool_call_id`); the platform "
    "rejects these keys on other roles (often a role was mapped wrongly).",
    fix="Fix the message's role, or remove the key.",
)

# key -> the only role that may carry it (weight has its own rule, FT304)
_ROLE_KEYS = {"tool_calls": "assistant", "function_call": "assistant", "refusal": "assistant",
              "tool_call_id": "tool"}


def _is_zero(weight: Any) -> bool:
    return type(weight) in (int, float) and weight == 0  # bool is not a weight: FT303 says so


@record_check(CHAT, PREFERENCE)
def weight_on_non_assistant(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        role = role_of(message)
        if "weight" in message and role in ROLES and role != "assistant":
            yield Hit(WEIGHT_ON_NON_ASSISTANT.code, f"{path}.weight",
                      f"weight on a {role} message; only assistant messages take a weight")


@record_check(CHAT, PREFERENCE)
def system_not_first(record: dict, ctx: Context) -> Iterator[Hit]:
    prefix = "input.messages" if ctx.format == PREFERENCE else "messages"
    for path, messages in message_lists(record, ctx.format):
        if path != prefix:
            continue
        started = False
        for i, message in enumerate(messages):
            role = role_of(message)
            if role in _INSTRUCTION_ROLES and started:
                yield Hit(SYSTEM_NOT_FIRST.code, f"{path}[{i}].role",
                          f"{role} message at position {i}, after the conversation started")
            elif role is not None and role not in _INSTRUCTION_ROLES:
                started = True


def _chat_roles(record: dict) -> list[str] | None:
    """The role of each chat message; None when the list is missing, empty or has a message
    without a valid role (the schema reports those, and guessing would double-report)."""
    lists = message_lists(record, CHAT)
    if not lists or not lists[0][1]:
        return None
    roles = [role_of(m) for m in lists[0][1]]
    valid = [r for r in roles if r in ROLES]
    return valid if len(valid) == len(roles) else None


@record_check(CHAT)
def no_assistant(record: dict, ctx: Context) -> Iterator[Hit]:
    roles = _chat_roles(record)
    if roles is not None and "assistant" not in roles:
        present = ", ".join(sorted(set(roles)))
        yield Hit(NO_ASSISTANT.code, "messages",
                  f"no assistant message among {len(roles)} message(s) ({present})")


@record_check(CHAT)
def last_not_assistant(record: dict, ctx: Context) -> Iterator[Hit]:
    roles = _chat_roles(record)
    if roles is not None and "assistant" in roles and roles[-1] != "assistant":
        yield Hit(LAST_NOT_ASSISTANT.code, f"messages[{len(roles) - 1}].role",
                  f"the last message is from {roles[-1]}; it will not be trained on")


@record_check(CHAT)
def all_weights_zero(record: dict, ctx: Context) -> Iterator[Hit]:
    weights = [m.get("weight") for _, m in iter_messages(record, CHAT) if role_of(m) == "assistant"]
    if weights and all(_is_zero(w) for w in weights):
        yield Hit(ALL_WEIGHTS_ZERO.code, "messages",
                  f"all {len(weights)} assistant message(s) have weight 0: nothing to train on")


@record_check(CHAT, PREFERENCE, plain_silent=True)
def key_not_for_role(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        role = role_of(message)
        if role not in ROLES:
            continue  # FT301 reports the role; which keys fit it cannot be judged
        for key, owner in _ROLE_KEYS.items():
            # null is how serialisers write "absent" (`refusal: null`); a null of the wrong
            # type is the schema's finding.
            if message.get(key) is not None and role != owner:
                yield Hit(KEY_NOT_FOR_ROLE.code, child_path(path, key),
                          f"`{key}` on a {role} message; only {owner} messages have it")
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if role != "assistant" and isinstance(part, dict) and part.get("type") == "refusal":
                yield Hit(KEY_NOT_FOR_ROLE.code, f"{path}.content[{j}]",
                          f"a refusal part in a {role} message; only assistant messages refuse")
