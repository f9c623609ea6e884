"""What the JSON Lines and JSON array readers share: repeated-key detection, one decoded value
as a `Row`, and the first readable record's keys as the columns."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.formats import json_type
from ftprep.io.readers.rows import Row


class DuplicateKeys:
    """json object_pairs_hook: builds dicts as usual and remembers repeated keys, which plain
    json keeps silently (the last value wins and the first is lost)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.found.append(key)
                seen.add(key)
        return obj

    def problem(self) -> str | None:
        """The detail for the value just decoded (None: no repeated key), then forget."""
        found, self.found = self.found, []
        return f"key {found[0]!r} appears more than once in an object" if found else None


DUPLICATE_KEY = "duplicate_key"


def object_row(value: Any, n: int, line: int) -> Row:
    if isinstance(value, dict):
        return Row(n, line, value)
    return Row(n, line, {"_raw": value}, "not_an_object", f"a JSON {json_type(value)}")


_KEY_SEARCH_LIMIT = 1000  # unreadable records to look past for the first good one's keys


def with_first_keys(rows: Iterator[Row], path: str) -> Iterator[Any]:
    """Records have no header: announce the first readable record's keys as the columns.
    A file that starts with nothing but unreadable records is not the format it claims."""
    buffered: list[Row] = []
    for row in rows:
        buffered.append(row)
        if row.problem is None or len(buffered) >= _KEY_SEARCH_LIMIT:
            break
    if not buffered:
        yield None
        return
    last = buffered[-1]
    if last.problem is not None:
        first = buffered[0]
        # NUL characters in text decoded as UTF-8 are the mark of UTF-16/32 without a BOM.
        utf16 = "\x00" in str(first.values.get("_raw"))
        hint = "; NUL characters: UTF-16? pass --encoding" if utf16 else ""
        raise InputError(
            f"no readable record in the first {len(buffered)} ({first.problem}: {first.detail})"
            + hint,
            path=path,
            line=first.line,
        )
    yield list(last.values)
    yield from buffered
    yield from rows
