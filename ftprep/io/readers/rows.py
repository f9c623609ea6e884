"""What every reader yields (`Row`, `Table`) and the checks readers share on headers and
input paths."""
from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import InputError, UsageError
from ftprep.io.readers.input_format import JSON, JSONL


@dataclass(slots=True)
class Row:
    """One input row. `row` counts data rows from 1 (header excluded); `line` is the physical
    line where it starts (text formats) or the sheet row (XLSX); None for Parquet.
    `problem` is set when the row could not be read as a record (ragged, bad JSON...), and
    `field` then says where in the row, when one place is to blame: the column without a
    cell, the first cell beyond the header ("column 4" in CSV, "column D" in XLSX), the
    column of an uncalculated formula."""

    row: int
    line: int | None
    values: dict[str, Any]
    problem: str | None = None
    detail: str = ""
    field: str | None = None


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input beyond its format (each applies to some formats only)."""

    encoding: str | None = None  # text formats; None = UTF-8 (BOMs honoured)
    delimiter: str | None = None  # CSV: None = the most frequent of , ; | tab in the header
    sheet: str | None = None  # XLSX: a name, a 1-based position or "all"; None = active sheet
    header_row: int | None = None  # CSV/TSV/XLSX: 1-based line of the header; None = first


@dataclass
class ReadNotes:
    """What a reader noticed while streaming, filled in as rows are read: warnings for the
    summary, and the physical lines read (text formats) so rows and lines can be compared."""

    warnings: list[str] = field(default_factory=list)
    lines: int | None = None
    # XLSX read with several sheets: (first data row, sheet name) per sheet, in row order, so
    # a reject's sheet row (`line`) can say which sheet it is in.
    sheets: list[tuple[int, str]] = field(default_factory=list)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def sheet_of(self, row: int) -> str | None:
        """The sheet data row `row` came from, when several sheets were read."""
        at = bisect.bisect_right(self.sheets, row, key=lambda sheet: sheet[0]) - 1
        return self.sheets[at][1] if at >= 0 else None


@dataclass
class Table:
    """Columns (known from the header, or the first record's keys) and the streamed rows.
    `notes` fills in while `rows` is consumed."""

    path: str
    input_format: str
    columns: list[str]
    rows: Iterator[Row] = field(repr=False)
    notes: ReadNotes = field(default_factory=ReadNotes)
    # The open Arrow-native source (ftprep.io.readers.parquet.ArrowSource) when there is one:
    # its record batches feed convert's columnar path; None for other formats.
    arrow: Any = None

    @property
    def keys_vary(self) -> bool:
        """JSON and JSON Lines have no header: `columns` are the first readable record's
        keys, and a later record may hold others."""
        return self.input_format in (JSON, JSONL)


INDEX_COLUMN = ""  # pandas' unnamed index column (to_csv/to_excel with index=True)


def header_names(header: list[str], path: str, line: int = 1) -> list[str]:
    """Column names as written (matching trims spaces later: see `resolve_column`). An
    unnamed first column is kept as INDEX_COLUMN for the reader to check as a pandas index."""
    columns = list(header)
    for i, name in enumerate(columns, start=1):
        if not name.strip() and not (i == 1 and len(columns) > 1):
            raise InputError(f"header column {i} has no name", path=path, line=line)
    if not columns[0].strip():
        columns[0] = INDEX_COLUMN
    require_unique(columns, path, line)
    return columns


class IndexColumn:
    """Checks, row by row, that an unnamed first column is pandas' 0..n-1 index, so it can be
    dropped; anything else is an error saying how to fix the file."""

    def __init__(self, columns: list[str], path: str, notes: ReadNotes) -> None:
        self.active = bool(columns) and columns[0] == INDEX_COLUMN
        self.path = path
        self.next = 0  # the index value the next row must hold
        if self.active:
            notes.warn("the unnamed first column is a pandas index (0, 1, 2, ...): not read")

    def strip(self, values: dict[str, object], n: int, line: int | None) -> None:
        if not self.active:
            return
        value = values.pop(INDEX_COLUMN, None)
        if str(value).strip() != str(self.next):
            raise InputError(
                f"the first column has no name and is not a 0, 1, 2... index (row {n} holds "
                f"{value!r}): name it in the header, or write the file with index=False",
                path=self.path, line=line)
        self.next += 1

    def skip(self, rows: int) -> None:
        """`rows` index values were read as text of the previous row (a stray quote
        swallowed their lines): the index goes on after them."""
        self.next += rows


def resolve_column(columns: list[str], name: str) -> tuple[str | None, bool]:
    """The column `name` refers to: the exact name first, then a unique match after trimming
    spaces on both sides. Returns (column or None, whether trimming was needed)."""
    if name in columns:
        return name, False
    trimmed = [c for c in columns if c.strip() == name.strip() and c != INDEX_COLUMN]
    return (trimmed[0], True) if len(trimmed) == 1 else (None, False)


def cell_of(values: Mapping[str, Any], column: str) -> tuple[Any, str]:
    """(value, key) of the cell `column` names in one row: its own key, else the one key
    equal to it with spaces trimmed, as `resolve_column` matches a header, since a JSON
    record's keys vary from record to record; (None, column) when there is none. Rows of a
    format with a header hold every column: the first lookup answers."""
    if column in values:
        return values[column], column
    key, _ = resolve_column(list(values), column)
    return (None, column) if key is None else (values[key], key)


def require_unique(columns: list[str], path: str, line: int | None) -> None:
    """Rows become dicts by column name: a repeated name would silently keep only one cell."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InputError(f"duplicate column name {name!r} in the header", path=path, line=line)
        seen.add(name)


def require_file(path: str, fmt: str) -> None:
    if path == "-":
        raise UsageError(f"{fmt} cannot be read from standard input; give a file")
    p = Path(path)
    if p.is_dir():
        raise InputError("is a directory, expected a file", path=path)
    if not p.exists():
        raise InputError("no such file", path=path)
