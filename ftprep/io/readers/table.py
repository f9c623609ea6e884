"""Opening an input: pick the reader for its format and read the column list up front."""
from __future__ import annotations

import codecs
from pathlib import Path

from ftprep.errors import InputError, UsageError
from ftprep.io.readers.delimited import csv_rows, tsv_rows
from ftprep.io.readers.input_format import (
    CSV,
    INPUT_FORMATS,
    JSON,
    JSONL,
    PARQUET,
    TEXT_FORMATS,
    TSV,
    XLSX,
    detect_input_format,
)
from ftprep.io.readers.json_array import json_rows
from ftprep.io.readers.json_lines import jsonl_rows
from ftprep.io.readers.parquet import parquet_rows
from ftprep.io.readers.rows import Table
from ftprep.io.readers.xlsx import xlsx_rows


def open_table(
    path: str | Path, *, input_format: str | None = None, encoding: str | None = None
) -> Table:
    """Open an input for streaming. Raises InputError for unreadable, empty or undecodable
    files and UsageError for an unknown format."""
    fmt = input_format or detect_input_format(path)
    if fmt not in INPUT_FORMATS:
        raise UsageError(f"unknown input format {fmt!r}", hint=f"one of {', '.join(INPUT_FORMATS)}")
    if encoding and fmt not in TEXT_FORMATS:
        raise UsageError(f"--encoding applies to text formats only, not {fmt}")
    if encoding:
        _check_encoding(encoding)
    gen = _GENERATORS[fmt](str(path), encoding)
    columns = next(gen)  # every generator first yields its column list (None: no data)
    if columns is None:
        raise InputError("empty file: nothing to convert", path=str(path))
    return Table(str(path), fmt, columns, gen)


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}") from None


_GENERATORS = {
    CSV: csv_rows,
    TSV: tsv_rows,
    JSONL: jsonl_rows,
    JSON: json_rows,
    PARQUET: parquet_rows,
    XLSX: xlsx_rows,
}
