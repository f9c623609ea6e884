"""FT941: the file is a dataset format that `convert` reads (Alpaca, ShareGPT), not one a
platform trains on. Said once, instead of a missing `messages` and unknown keys on every line."""
from __future__ import annotations

from typing import Any

from ftprep.findings import Severity
from ftprep.formats import UNKNOWN, detect_format
from ftprep.rules.base import rule

CONVERTIBLE_SOURCE = rule(
    "FT941", "convertible-source-format", Severity.ERROR,
    "The file is Alpaca or ShareGPT data, which `ftprep convert` turns into a fine-tuning format.",
    why="Platforms train on chat (`messages`), preference or completion records; an Alpaca or "
    "ShareGPT file is refused whole. Checking its lines one by one would only repeat that.",
    fix="`ftprep convert FILE --from alpaca -o train.jsonl` (or `--from sharegpt`), then "
    "validate the output.",
)
ALPACA, SHAREGPT = "alpaca", "sharegpt"


def source_format_of(records: list[Any]) -> str | None:
    """'alpaca' or 'sharegpt' when the first records are that (and none is already a
    fine-tuning format), else None."""
    objects = [r for r in records if isinstance(r, dict)]
    if not objects or any(detect_format(r) != UNKNOWN for r in objects):
        return None
    kinds = {_kind(r) for r in objects}
    return kinds.pop() if len(kinds) == 1 and None not in kinds else None


def _kind(record: dict) -> str | None:
    if "instruction" in record and "output" in record:
        return ALPACA
    conversations = record.get("conversations")
    if isinstance(conversations, list) and all(
            isinstance(t, dict) and "from" in t and "value" in t for t in conversations):
        return SHAREGPT
    return None
