"""Plain data for JSON output: the one way a library result becomes dicts and lists."""
from __future__ import annotations

import dataclasses
from typing import Any


def to_plain(obj: Any) -> Any:
    """`obj.to_dict()` when it has one, a dataclass as a dict, a set as a sorted list;
    anything else unchanged (json.dumps decides whether it can write it)."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return obj
