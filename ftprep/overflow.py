"""What to do with an example longer than the model's limit (`convert --on-overflow`).

- ``keep``: leave it; the platform cuts the tokens beyond the limit.
- ``drop``: reject it, with the reason.
- ``trim-history`` (chat only; other formats behave like drop): remove the oldest
  conversation turns — a user message with the replies that follow it — until the example
  fits. System/developer messages, the final assistant answer and everything from the user
  message before it are always kept. If that is still too long the example is rejected.
"""
from __future__ import annotations

from typing import Any

from ftprep.errors import UsageError
from ftprep.formats import CHAT, detect_format

POLICIES = ("keep", "drop", "trim-history")
_PINNED_ROLES = frozenset({"system", "developer"})


def fit_to_limit(
    record: dict, *, limit: int, encoding: Any, policy: str
) -> tuple[dict | None, str | None]:
    """(record to write or None, reason when rejected). Never mutates `record`."""
    if policy not in POLICIES:
        raise UsageError(f"unknown overflow policy {policy!r} (use {', '.join(POLICIES)})")
    if policy == "keep":
        return record, None
    from ftprep.tokens import count_example  # here: tiktoken is slow to import, POLICIES is not

    counted = count_example(record, encoding)
    if counted.total <= limit:
        return record, None
    too_long = f"{counted.total} tokens, over the limit of {limit}"
    if policy == "drop" or detect_format(record) != CHAT:
        return None, too_long
    return _trim_history(record, counted.per_message, counted.total, limit, too_long)


def _trim_history(
    record: dict, per_message: tuple[int, ...], total: int, limit: int, too_long: str
) -> tuple[dict | None, str | None]:
    messages: list = record["messages"]
    keep_from = _final_turn_start(messages)
    if keep_from is None:
        return None, f"{too_long}; no final assistant answer to keep"
    dropped: set[int] = set()
    for turn in _turns(messages, keep_from):
        if total <= limit:
            break
        dropped.update(turn)
        total -= sum(per_message[i] for i in turn)
    if total > limit:
        return None, f"{too_long}; still {total} after removing all earlier turns"
    kept = [m for i, m in enumerate(messages) if i not in dropped]
    return {**record, "messages": kept}, None


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _final_turn_start(messages: list) -> int | None:
    """Index of the user message before the final assistant answer (the answer's own index
    when no user message precedes it); None without a final assistant answer."""
    if not messages or _role(messages[-1]) != "assistant":
        return None
    for i in range(len(messages) - 2, -1, -1):
        if _role(messages[i]) == "user":
            return i
    return len(messages) - 1


def _turns(messages: list, keep_from: int) -> list[list[int]]:
    """Removable turns, oldest first: each starts at a user message (or at the first
    non-pinned message) and runs until the next user message; pinned roles never move."""
    turns: list[list[int]] = []
    for i in range(keep_from):
        role = _role(messages[i])
        if role in _PINNED_ROLES:
            continue
        if role == "user" or not turns:
            turns.append([])
        turns[-1].append(i)
    return turns


__all__ = ["POLICIES", "fit_to_limit"]
