"""The three record formats of fine-tuning JSONL and how to tell them apart."""
from __future__ import annotations

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
