"""Opening an input: pick the reader for its format and read the column list up front."""
from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
from ftprep.io.readers.parquet import ArrowSource
from ftprep.io.readers.rows import ReadNotes, ReadOptions, Table
from ftprep.io.readers.xlsx import xlsx_rows


def open_table(
    path: str | Path, *, input_format: str | None = None, encoding: str | None = None,
    delimiter: str | None = None, sheet: str | None = None, header_row: int | None = None,
) -> Table:
    """Open an input for streaming. Raises InputError for unreadable, empty or undecodable
    files and UsageError for an unknown format or an option that does not apply to it."""
    fmt = input_format or detect_input_format(path)
    if fmt not in INPUT_FORMATS:
        raise UsageError(f"unknown input format {fmt!r}", hint=f"one of {', '.join(INPUT_FORMATS)}")
    options = ReadOptions(encoding, delimiter, sheet, header_row)
    _check_options(fmt, options)
    notes = ReadNotes()
    if fmt == PARQUET:
        source = ArrowSource(str(path))
        return Table(str(path), fmt, source.columns, source.all_rows(), notes, arrow=source)
    gen = _GENERATORS[fmt](str(path), options, notes)
    columns = next(gen)  # every generator first yields its column list (None: no data)
    if columns is None:
        raise InputError("empty file: nothing to convert", path=str(path))
    return Table(str(path), fmt, columns, gen, notes)


def _check_options(fmt: str, options: ReadOptions) -> None:
    if options.encoding and fmt not in TEXT_FORMATS:
        raise UsageError(f"encoding= applies to text formats only, not {fmt}")
    if options.encoding:
        _check_encoding(options.encoding)
    if options.delimiter is not None:
        if fmt != CSV:
            raise UsageError(f"delimiter= applies to CSV only, not {fmt}")
        if len(options.delimiter) != 1 or options.delimiter in "\"\r\n":
            raise UsageError(f"delimiter= must be one character, not {options.delimiter!r}")
    if options.sheet is not None and fmt != XLSX:
        raise UsageError(f"sheet= applies to XLSX only, not {fmt}")
    if options.header_row is not None:
        if fmt not in (CSV, TSV, XLSX):
            raise UsageError(f"header_row= applies to CSV, TSV and XLSX, not {fmt}")
        if options.header_row < 1:
            raise UsageError(f"header_row= counts from 1, not {options.header_row}")


# Codecs Python lists as text encodings that still cannot decode a data file: punycode and
# idna turn domain labels into text, "undefined" refuses every byte.
_NOT_FILE_ENCODINGS = {"punycode", "idna", "undefined"}


def _check_encoding(encoding: str) -> None:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}") from None
    # base64, hex, rot13, zlib... are bytes↔bytes or str↔str transforms, not text encodings
    # (CodecInfo marks them; `str.encode` refuses them for the same reason).
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FILE_ENCODINGS:
        raise UsageError(f"encoding={encoding!r} is not a text encoding "
                         "(e.g. utf-8, cp1252, latin-1, utf-16)")


Generator = Callable[[str, ReadOptions, ReadNotes], Iterator[Any]]
_GENERATORS: dict[str, Generator] = {
    CSV: csv_rows,
    TSV: tsv_rows,
    JSONL: lambda path, options, notes: jsonl_rows(path, options.encoding),
    JSON: lambda path, options, notes: json_rows(path, options.encoding),
    XLSX: xlsx_rows,
}
