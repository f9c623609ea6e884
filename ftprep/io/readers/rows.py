"""What every reader yields (`Row`, `Table`) and the checks readers share on headers and
input paths."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import InputError, UsageError


@dataclass(slots=True)
class Row:
    """One input row. `row` counts data rows from 1 (header excluded); `line` is the physical
    line where it starts (text formats) or the sheet row (XLSX); None for Parquet.
    `problem` is set when the row could not be read as a record (ragged, bad JSON...)."""

    row: int
    line: int | None
    values: dict[str, Any]
    problem: str | None = None
    detail: str = ""


@dataclass
class Table:
    """Columns (known from the header, or the first record's keys) and the streamed rows."""

    path: str
    input_format: str
    columns: list[str]
    rows: Iterator[Row] = field(repr=False)


def header_names(header: list[str], path: str, line: int = 1) -> list[str]:
    columns = [name.strip() for name in header]
    for i, name in enumerate(columns, start=1):
        if not name:
            raise InputError(f"header column {i} has no name", path=path, line=line)
    require_unique(columns, path, line)
    return columns


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
