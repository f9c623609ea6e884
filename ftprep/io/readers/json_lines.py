"""JSON Lines: one object per physical line; an unreadable line is a `Row` with a problem."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ftprep.io.readers.json_objects import (
    DUPLICATE_KEY,
    DuplicateKeys,
    object_row,
    with_first_keys,
)
from ftprep.io.readers.rows import Row
from ftprep.io.readers.text_lines import iter_text_lines


def jsonl_rows(path: str, encoding: str | None) -> Iterator[Any]:
    rows = _jsonl_records(path, encoding)
    yield from with_first_keys(rows, path)


def _jsonl_records(path: str, encoding: str | None) -> Iterator[Row]:
    n = 0
    duplicates = DuplicateKeys()
    # Universal line ends are safe here: JSON text never holds a raw CR inside a string.
    for line, text in iter_text_lines(path, encoding, universal=True):
        if not text.strip():
            continue
        n += 1
        try:
            value = json.loads(text, object_pairs_hook=duplicates)
        except (ValueError, RecursionError) as e:
            duplicates.problem()
            detail = "JSON nested too deeply" if isinstance(e, RecursionError) else str(e)
            yield Row(n, line, {"_raw": text.rstrip("\r\n")}, "bad_json", detail)
            continue
        repeated = duplicates.problem()
        if repeated:
            yield Row(n, line, {"_raw": text.rstrip("\r\n")}, DUPLICATE_KEY, repeated)
            continue
        yield object_row(value, n, line)
