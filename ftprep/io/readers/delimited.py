"""CSV and TSV: a header row, then one `Row` per record, located at its first physical line.

The delimiter of a .csv is the most frequent of `, ; | tab` in the header line (European
exports use ';'), unless given. A quoted field that runs over lines holding what look like
whole rows (a stray opening quote) is legal CSV, so it is read, but warned about by row."""
from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers.rows import IndexColumn, ReadNotes, ReadOptions, Row, header_names
from ftprep.io.readers.text_lines import iter_text_lines

# csv's default 128 KiB per field aborts on one long document; a cell still has to fit in
# memory, and a stray opening quote swallows at most this much before it is reported.
CSV_FIELD_LIMIT = 1 << 25
DELIMITERS = (",", ";", "\t", "|")  # candidates, in order of preference on a tie
STRAY_QUOTE_WARNINGS = 5  # rows named before the rest are only counted


def csv_rows(path: str, options: ReadOptions, notes: ReadNotes,
             delimiter: str | None = None) -> Iterator[Any]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    raw = iter_text_lines(path, options.encoding, universal=True)
    first = next(raw, None)
    delimiter = delimiter or options.delimiter or _sniff_delimiter(first, notes)
    lines = _LineCounter(itertools.chain([first] if first else [], raw))
    reader = csv.reader(lines, delimiter=delimiter)
    header, header_line = _next_record(reader, lines, path)
    while header is not None and options.header_row and header_line < options.header_row:
        header, header_line = _next_record(reader, lines, path)  # a title row above the header
    if header is None:
        yield None
        return
    columns = header_names(header, path, header_line)
    index = IndexColumn(columns, path, notes)
    quotes = _StrayQuotes(len(columns), delimiter, notes)
    yield [c for c in columns if not index.active or c != columns[0]]
    n = 0
    while True:
        record, start = _next_record(reader, lines, path)
        if record is None:
            notes.lines = lines.next_line - 1
            quotes.finish()
            return
        n += 1
        quotes.check(record, columns, n, start, lines.next_line - start)
        row = _csv_row(columns, record, n, start)
        index.strip(row.values, n, start)
        if index.active and start + 1 < lines.next_line:
            index.skip(_swallowed_index_rows(record, index.next, delimiter))
        yield row


def _sniff_delimiter(first: tuple[int, str] | None, notes: ReadNotes) -> str:
    """The candidate seen most often in the header line (outside quotes); ',' on a tie."""
    if first is None:
        return ","
    text = _outside_quotes(first[1])
    best = max(DELIMITERS, key=lambda d: (text.count(d), -DELIMITERS.index(d)))
    if best != "," and text.count(best) > text.count(","):
        notes.warn(f"delimiter {best!r} detected from the header line (--delimiter to override)")
        return best
    return ","


def _outside_quotes(line: str) -> str:
    return "".join(part for i, part in enumerate(line.split('"')) if i % 2 == 0)


class _StrayQuotes:
    """Names rows whose quoted field swallowed line breaks followed by text that looks like
    whole rows (as many delimiters as the header has): almost always a stray opening quote."""

    def __init__(self, width: int, delimiter: str, notes: ReadNotes) -> None:
        self.width, self.delimiter, self.notes, self.count = width, delimiter, notes, 0

    def check(self, record: list[str], columns: list[str], n: int, line: int, span: int) -> None:
        if span <= 1 or self.width < 2:
            return
        for name, cell in zip(columns, record, strict=False):
            rows = sum(part.count(self.delimiter) >= self.width - 1 for part in cell.split("\n")[1:])
            if rows:
                self.count += 1
                if self.count <= STRAY_QUOTE_WARNINGS:
                    self.notes.warn(
                        f"row {n} (line {line}): the quoted field {name!r} spans {span} lines "
                        f"and holds {rows} line(s) that look like whole rows — a stray quote?")
                return

    def finish(self) -> None:
        if self.count > STRAY_QUOTE_WARNINGS:
            self.notes.warn(f"… and {self.count - STRAY_QUOTE_WARNINGS} more rows like that")


def _swallowed_index_rows(record: list[str], first: int, delimiter: str) -> int:
    """Lines inside this record's quoted fields that start with the next pandas index values
    (first, first+1, ...): whole rows a stray quote swallowed. The rows after it still hold
    their own index values, so the index check continues from there instead of failing."""
    expected = first
    for cell in record:
        for part in cell.split("\n")[1:]:
            if part.startswith(f"{expected}{delimiter}"):
                expected += 1
    return expected - first


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
            if "field limit" in str(e):
                raise InputError(f"a CSV cell is larger than {CSV_FIELD_LIMIT >> 20} MiB, the limit "
                                 "for one cell (an unbalanced quote?)", path=path, line=start) from None
            raise InputError(f"malformed CSV: {e}", path=path, line=start) from None
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
        where = f"column {len(columns) + 1}"  # the first field past the header (1-based)
    else:
        where = columns[len(record)]  # the first column the row has no field for
    return Row(n, line, values, "ragged_row",
               f"{len(record)} fields, the header has {len(columns)}", where)


def tsv_rows(path: str, options: ReadOptions, notes: ReadNotes) -> Iterator[Any]:
    return csv_rows(path, options, notes, delimiter="\t")
