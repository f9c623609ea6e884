"""CSV and TSV: a header row, then one `Row` per record, located at its first physical line."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers.rows import Row, header_names
from ftprep.io.readers.text_lines import iter_text_lines

# csv's default 128 KiB per field aborts on one long document; a cell still has to fit in
# memory, and a stray opening quote swallows at most this much before it is reported.
CSV_FIELD_LIMIT = 1 << 25


def csv_rows(path: str, encoding: str | None, delimiter: str = ",") -> Iterator[Any]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    lines = _LineCounter(iter_text_lines(path, encoding, universal=True))
    reader = csv.reader(lines, delimiter=delimiter)
    header, header_line = _next_record(reader, lines, path)
    if header is None:
        yield None
        return
    columns = header_names(header, path, header_line)
    yield columns
    n = 0
    while True:
        record, start = _next_record(reader, lines, path)
        if record is None:
            return
        n += 1
        yield _csv_row(columns, record, n, start)


class _LineCounter:
    """Feeds csv.reader while remembering the physical line of the next line handed out, so a
    record spanning several lines (quoted newlines) is located at its first line."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._lines = lines
        self.next_line = 1
        self.exhausted = False  # set when csv asks past the last line

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        try:
            n, text = next(self._lines)
        except StopIteration:
            self.exhausted = True
            raise
        self.next_line = n + 1
        return text


def _next_record(
    reader: Any, lines: _LineCounter, path: str
) -> tuple[list[str] | None, int]:
    """Next non-blank record and its first physical line; (None, 0) at the end."""
    while True:
        start = lines.next_line
        try:
            record = next(reader)
        except StopIteration:
            return None, 0
        except csv.Error as e:
            hint = " (an unbalanced quote?)" if "field limit" in str(e) else ""
            raise InputError(f"malformed CSV: {e}{hint}", path=path, line=start) from None
        if lines.exhausted:
            # csv asked for more input to finish this record: the file ended inside a quoted
            # field. Non-strict csv would glue every row after a stray opening quote into one
            # cell, silently; say where the quote opened instead.
            raise InputError(
                "malformed CSV: a quoted field opened in this record is never closed "
                "(unbalanced quote)", path=path, line=start,
            )
        # A blank (or whitespace-only) line is not a row; a line of empty fields (",,") is.
        if len(record) > 1 or (record and record[0].strip()):
            return record, start



def _csv_row(columns: list[str], record: list[str], n: int, line: int) -> Row:
    values: dict[str, Any] = dict(zip(columns, record, strict=False))  # ragged rows are reported below
    if len(record) == len(columns):
        return Row(n, line, values)
    if len(record) > len(columns):
        values["_extra"] = record[len(columns):]
    return Row(
        n, line, values, "ragged_row", f"{len(record)} fields, the header has {len(columns)}"
    )


def tsv_rows(path: str, encoding: str | None) -> Iterator[Any]:
    return csv_rows(path, encoding, delimiter="\t")
