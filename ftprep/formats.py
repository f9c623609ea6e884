"""The three record formats of fine-tuning JSONL and how to tell them apart."""
from __future__ import annotations

import json
from typing import Any

CHAT = "chat"  # {"messages": [...], "tools"?: [...], ...}
PREFERENCE = "preference"  # {"input": {...}, "preferred_output": [...], "non_preferred_output": [...]}
COMPLETION = "completion"  # {"prompt": "...", "completion": "..."}  (legacy base models)
UNKNOWN = "unknown"

FORMATS = (CHAT, PREFERENCE, COMPLETION)

_MARKERS = (
    (PREFERENCE, ("preferred_output", "non_preferred_output", "input")),
    (CHAT, ("messages",)),
    (COMPLETION, ("prompt", "completion")),
)


def detect_format(record: Any) -> str:
    """Return the format a record looks like, by its keys; UNKNOWN when none fits.
    Preference is checked first because its `input` holds `messages` too."""
    if not isinstance(record, dict):
        return UNKNOWN
    for name, keys in _MARKERS:
        if any(k in record for k in keys[:2]):
            return name
    return UNKNOWN


def json_text(value: Any, limit: int = 60) -> str:
    """A decoded value as a message shows it: strings quoted as Python does ('human'), anything
    else in JSON's spelling (null, true, 1.5), not Python's (None, True)."""
    if isinstance(value, str):
        return repr(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # NaN-free by construction; big ints and nesting are fine
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_type(value: Any) -> str:
    """JSON's own name for a decoded value's type (null, not NoneType; number, not int)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"
