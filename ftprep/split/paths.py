"""JSON paths (`metadata.user_id`, `messages[-1].content`) and the final assistant
message: how --group-by and --stratify-by find a value in a record."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ftprep.errors import UsageError

_PATH_RE = re.compile(r"[^.\[\]]+(?:\[-?\d+\])*(?:\.[^.\[\]]+(?:\[-?\d+\])*)*")
_STEP_RE = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")


def parse_json_path(path: str, *, option: str = "path") -> tuple[str | int, ...]:
    """`messages[0].content` → ('messages', 0, 'content'). UsageError on bad syntax."""
    if not _PATH_RE.fullmatch(path or ""):
        raise UsageError(
            f"--{option} {path!r} is not a JSON path (examples: label, metadata.user_id, "
            "messages[0].content)"
        )
    return tuple(int(i) if i else name for i, name in _STEP_RE.findall(path))


def get_json_path(record: Any, steps: Sequence[str | int]) -> Any:
    """The value at `steps`, or None when any step is missing (null also counts as missing)."""
    value = record
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def final_assistant_content(record: Any) -> Any:
    """Content of the last assistant message: chat `messages`, else a preference record's
    `preferred_output`; a completion record's `completion`. None when there is none."""
    if not isinstance(record, dict):
        return None
    for key in ("messages", "preferred_output"):
        messages = record.get(key)
        if isinstance(messages, list):
            for message in reversed(messages):
                if isinstance(message, dict) and message.get("role") == "assistant":
                    return _text_of(message.get("content"))
    return record.get("completion")


def _text_of(content: Any) -> Any:
    # Content may be a list of parts; a class label is their text, joined.
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        strings = [t for t in texts if isinstance(t, str)]
        if texts and len(strings) == len(texts):
            return "".join(strings)
    return content
