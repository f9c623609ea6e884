"""One pass that clears a plain chat record of the schema and of every structural record rule.

Nearly every record of a chat file is plain: a `messages` list of system/developer/user/
assistant messages with non-empty text, and nothing else (a top-level `metadata` at most).
Checking such a record rule by rule walks its messages a dozen times to find nothing;
`clears` walks them once and answers True only when it can show that neither the schema
(layer 1) nor any check in `COVERED` would report anything. Anything unusual (another key,
an empty or missing content, a special token, a misplaced system message, a target's own
demands unmet...) answers False, and the caller runs the full checks, which then word the
finding. The checks outside `COVERED` (token limits, secrets) still run after a True.
tests/test_fast_path.py holds this to the full checks on generated records.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ftprep.formats import CHAT, detect_format
from ftprep.rules import content, roles, targets
from ftprep.rules.base import Hit, RecordCheck
from ftprep.rules.schema import _CHAT_KEYS, _NAME, _RICH_MESSAGE_KEYS, METADATA, _known_hits

# The record checks a True from `clears` proves silent (with the schema's own findings).
COVERED: frozenset[RecordCheck] = frozenset((
    roles.weight_on_non_assistant, roles.system_not_first, roles.no_assistant,
    roles.last_not_assistant, roles.all_weights_zero,
    content.empty_content, content.special_tokens_in_messages,
    targets.not_alternating, targets.role_unsupported, targets.key_refused,
    targets.weight_value, targets.system_not_opening, targets.weight_unsupported,
))

_PLAIN_KEYS = frozenset(("role", "content", "name", "weight"))
_OTHER_CHAT_KEYS = _CHAT_KEYS - {"messages"}  # tools, functions...: the full checks' business
_INSTRUCTION = frozenset(("system", "developer"))
_TURNS = frozenset(("user", "assistant"))


@dataclass(frozen=True, slots=True)
class Demands:
    """What a target's selected rules (FT8xx) ask of a plain chat record; None or False:
    nothing. Built once per run by `demands_of`."""

    roles: frozenset[str] | None = None  # FT803: the roles it accepts
    record_keys: frozenset[str] | None = None  # FT804: the keys a record may have
    message_keys: frozenset[str] | None = None  # FT804: the keys a message may have
    alternation: bool = False  # FT802: user and assistant turns alternate, user first
    system_opening: bool = False  # FT812: a system message only as the first message
    no_weight_zero: bool = False  # FT813: no assistant message with weight 0


NO_DEMANDS = Demands()  # `demands_of` returns this very object when nothing is demanded


def demands_of(target: Any, enabled: Iterable[str] | None, fmt: str = "chat") -> Demands:
    """The demands of `target` (a TargetInfo, or None: OpenAI's rules only) whose rules are
    among `enabled` (None: all). A check whose code is not selected may still run, but what
    it says is dropped, so it demands nothing. Each line mirrors the check's own early return."""
    if target is None:
        return NO_DEMANDS
    codes = None if enabled is None else frozenset(enabled)

    def on(rule: Any) -> bool:
        return codes is None or rule.code in codes

    keys = on(targets.KEY_REFUSED) and not target.extra_keys and fmt in target.formats
    demands = Demands(
        roles=frozenset(target.roles) if target.roles and on(targets.ROLE_UNSUPPORTED) else None,
        record_keys=frozenset(target.record_keys) if keys and target.record_keys else None,
        message_keys=frozenset(target.message_keys) if keys and target.message_keys else None,
        alternation=bool(target.alternation) and on(targets.NOT_ALTERNATING),
        system_opening=bool(target.system_first_only) and on(targets.SYSTEM_NOT_OPENING),
        no_weight_zero=target.weights == "none" and on(targets.WEIGHT_UNSUPPORTED),
    )
    return NO_DEMANDS if demands == NO_DEMANDS else demands


def clears(record: dict, demands: Demands = NO_DEMANDS) -> bool:
    """True when `record` (a decoded chat record) is plain and neither the schema nor any
    check in `COVERED` reports anything on it under `demands`; False when that is not
    certain (run the full checks). One pass over the messages, no path formatted."""
    return _verdict(record, demands, False) is _PLAIN


def clears_but_unknown_keys(record: dict, demands: Demands = NO_DEMANDS) -> list[Hit] | None:
    """`clears`, also for a record whose keys the format does not define are its only fault
    (an `id` on every message, a top-level `label`): the schema's findings on it (FT203,
    none for a plain record), of which no check in `COVERED` adds to; None when not cleared."""
    verdict = _verdict(record, demands, True)
    if verdict is None:
        return None
    return [] if verdict is _PLAIN else _known_hits(record, CHAT)


_PLAIN, _UNKNOWN_KEYS = "plain", "unknown keys"


def _verdict(record: dict, demands: Demands, unknown_keys: bool) -> str | None:
    """_PLAIN, _UNKNOWN_KEYS (plain but for keys the format lacks; only when `unknown_keys`)
    or None (not cleared)."""
    verdict = _PLAIN
    if len(record) != 1 and (len(record) != 2 or METADATA not in record):
        # Another key: tools and the like, a key that makes the record another format (FT110),
        # or one the format does not define (FT203)
        if not unknown_keys or not record.keys().isdisjoint(_OTHER_CHAT_KEYS) \
                or detect_format(record) != CHAT:
            return None
        verdict = _UNKNOWN_KEYS
    messages = record.get("messages")
    if type(messages) is not list or not messages:
        return None
    started = trains = False
    role = None
    for message in messages:
        if type(message) is not dict:
            return None
        role = message.get("role")
        text = message.get("content")
        # FT501 (empty), FT502 (special tokens), FT204/FT201 (not a string)
        if type(role) is not str or type(text) is not str or not text or text.isspace() \
                or ("<" in text and "<|" in text):  # one memchr first: "<|" alone is slow
            return None
        if len(message) == 2:  # role and content only: the common message
            trains = trains or role == "assistant"
        else:
            if not message.keys() <= _PLAIN_KEYS:
                if not unknown_keys or not message.keys().isdisjoint(_RICH_MESSAGE_KEYS):
                    return None  # tool calls and the like (or FT203 not asked for)
                verdict = _UNKNOWN_KEYS
            if "name" in message and not (type(message["name"]) is str
                                          and _NAME.fullmatch(message["name"])):
                return None
            if "weight" in message:
                weight = message["weight"]
                if role != "assistant" or type(weight) is not int or weight not in (0, 1):
                    return None  # FT304, FT303
                trains = trains or weight == 1
            else:
                trains = trains or role == "assistant"
        if role in _TURNS:
            started = True
        elif role not in _INSTRUCTION or started:
            return None  # not a plain role (FT301, tool messages...), or FT305
    # FT302 (no assistant), FT307 (last not assistant), FT306 (every weight 0)
    if role != "assistant" or not trains:
        return None
    return verdict if demands is NO_DEMANDS or _meets(record, messages, demands) else None


def _meets(record: dict, messages: list[dict], demands: Demands) -> bool:
    """Whether a plain chat record meets a target's demands (its FT8xx checks say nothing)."""
    if demands.record_keys is not None and not record.keys() <= demands.record_keys:
        return False
    expected = "user"
    for i, message in enumerate(messages):
        role = message["role"]
        if demands.roles is not None and role not in demands.roles:
            return False
        if demands.message_keys is not None and not message.keys() <= demands.message_keys:
            return False
        if demands.alternation and role in _TURNS:
            if role != expected:
                return False
            expected = "assistant" if role == "user" else "user"
        if demands.system_opening and role in _INSTRUCTION and i:
            return False
        if demands.no_weight_zero and role == "assistant" and message.get("weight") == 0:
            return False
    return True
