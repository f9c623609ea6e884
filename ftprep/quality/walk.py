"""Walks over JSON-like values: every string with its JSON path, a copy with strings replaced,
the first number JSON cannot hold."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any


def iter_strings(record: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) for every string value in `record`, in document order (keys are not
    values). Iterative, so that deeply nested input cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [(path, record)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, str):
            yield at, value
        elif isinstance(value, dict):
            stack.extend((f"{at}.{k}" if at else str(k), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{at}[{i}]", v) for i, v in reversed(list(enumerate(value))))


def string_values(record: Any) -> list[str]:
    """Every string value in `record`, in no particular order (`iter_strings` without paths)."""
    found: list[str] = []
    stack = [record]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """A copy of `value` with `fn` applied to every string value (keys stay as they are)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]
    return value


def first_non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """(JSON path, value) of the first NaN or ±Infinity in `value` (document order), or None.
    JSON has no such numbers: orjson would write them as null. `convert` asks this of every
    record it writes, and nearly every answer is None: a scan without paths says so, and
    only a record that has one is walked again with its paths."""
    if not _has_non_finite(value):
        return None
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return at, item
        if isinstance(item, dict):
            stack.extend((f"{at}.{k}" if at else str(k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{at}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None


def _has_non_finite(value: Any) -> bool:
    """Whether a NaN or ±Infinity is anywhere in `value` (the same walk as `first_non_finite`,
    without formatting a path per value; strings, the common leaf, are passed over first)."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            continue
        if kind is dict:
            extend(item.values())
        elif kind is list:
            extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            extend(item.values())
        elif isinstance(item, list):
            extend(item)
    return False
