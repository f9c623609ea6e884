"""Streaming table readers: CSV, TSV, Parquet, JSONL, JSON arrays and XLSX (and `.gz` of the
text formats), all yielding one `Row` at a time with its location so that errors and rejects
can name it. Nothing reads a whole file into memory.

Text formats are decoded incrementally (``--encoding``, default UTF-8; UTF-8/16/32 byte order
marks are honoured) so that a decode failure names the physical line and byte offset.
"""
from __future__ import annotations

import codecs
import csv
import datetime as _dt
import json
import math
import re
import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ftprep.errors import InputError, UsageError
from ftprep.io.jsonl import open_binary

CSV, TSV, PARQUET, JSONL, JSON, XLSX = "csv", "tsv", "parquet", "jsonl", "json", "xlsx"
INPUT_FORMATS = (CSV, TSV, PARQUET, JSONL, JSON, XLSX)
TEXT_FORMATS = (CSV, TSV, JSONL, JSON)

_EXTENSIONS = {
    ".csv": CSV, ".tsv": TSV, ".tab": TSV, ".parquet": PARQUET, ".pq": PARQUET,
    ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON, ".xlsx": XLSX, ".xlsm": XLSX,
}
# Longest first: a UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNICODE_FAMILY = {"utf-8", "utf-8-sig", "utf-16", "utf-32"}
_BLOCK = 1 << 16
BATCH_ROWS = 1024  # Parquet batch size: bounded memory whatever the file size
# csv's default 128 KiB per field aborts on one long document; a cell still has to fit in
# memory, and a stray opening quote swallows at most this much before it is reported.
CSV_FIELD_LIMIT = 1 << 25
# A physical line ends at CRLF, CR or LF (classic-Mac/Excel exports use bare CR).
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


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


def detect_input_format(path: str | Path) -> str:
    """Input format from the extension (a trailing `.gz` is looked through)."""
    suffixes = [s.lower() for s in Path(str(path)).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise UsageError(
            f"cannot tell the input format of {path!s} from its extension",
            hint=f"use --input-format {'|'.join(INPUT_FORMATS)}",
        )
    return fmt


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


# ---------------------------------------------------------------- decoded text lines


def iter_text_lines(
    path: str, encoding: str | None = None, *, universal: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield (physical line number, text including its line end) decoded incrementally.
    A byte order mark picks UTF-8/16/32 unless a non-Unicode encoding was asked for.
    Lines end at '\\n' only, or also at a bare '\\r' when `universal` (CSV, JSONL)."""
    f = open_binary(path)
    try:
        head = f.read(4)
        name, skip = _sniff_bom(head, encoding)
        yield from _decode_lines(f, head[skip:], skip, name, path, universal)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"read failed: {e}", path=path) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _sniff_bom(head: bytes, encoding: str | None) -> tuple[str, int]:
    name = codecs.lookup(encoding or "utf-8").name
    if name not in _UNICODE_FAMILY:
        return name, 0
    for bom, bom_encoding in _BOMS:
        if head.startswith(bom):
            return bom_encoding, len(bom)
    return name, 0


def _decode_lines(
    f: IO[bytes], first: bytes, offset: int, name: str, path: str, universal: bool = False
) -> Iterator[tuple[int, str]]:
    """Split on '\\n' (and CR when `universal`) only: other Unicode line breaks are content,
    not physical lines."""
    decoder = codecs.getincrementaldecoder(name)()
    line, pending, block = 1, "", first or f.read(_BLOCK)
    while True:
        final = not block
        held = len(decoder.getstate()[0])  # bytes kept back from the previous block
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as e:
            # e.object is the held-back bytes followed by this block.
            at_byte = offset - held + e.start
            good = bytes(e.object[: e.start]).decode(name, errors="replace")
            at_line = line + _count_lines(pending + good, universal)
            raise InputError(
                f"cannot decode as {name} at byte offset {at_byte} ({e.reason}); "
                "pass the right --encoding",
                path=path,
                line=at_line,
            ) from None
        offset += len(block)
        complete, pending = _split_lines(pending, text, universal, final)
        for piece in complete:
            yield line, piece
            line += 1
        if final:
            if pending:
                yield line, pending
            return
        block = f.read(_BLOCK)


def _split_lines(
    pending: str, text: str, universal: bool, final: bool
) -> tuple[list[str], str]:
    """(complete lines with their ends, the unfinished rest) of `pending` + `text`. Only the
    new text is searched, so a very long line costs linear time, not quadratic."""
    if universal and pending.endswith("\r"):
        pending, text = pending[:-1], "\r" + text  # a held-back CR may start a CRLF
    if universal:
        parts = _LINE_BREAK.split(text)
        lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    else:
        parts = text.split("\n")
        lines = [piece + "\n" for piece in parts[:-1]]
    rest = parts[-1]
    if lines:
        lines[0] = pending + lines[0]
    else:
        rest = pending + rest
    if universal and not final and not rest and lines and lines[-1].endswith("\r"):
        rest = lines.pop()  # the '\n' of a CRLF may be in the next block
    return lines, rest


def _count_lines(text: str, universal: bool) -> int:
    if not universal:
        return text.count("\n")
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# ---------------------------------------------------------------- CSV / TSV


def _csv_rows(path: str, encoding: str | None, delimiter: str = ",") -> Iterator[Any]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    lines = _LineCounter(iter_text_lines(path, encoding, universal=True))
    reader = csv.reader(lines, delimiter=delimiter)
    header, header_line = _next_record(reader, lines, path)
    if header is None:
        yield None
        return
    columns = _header_names(header, path, header_line)
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


def _header_names(header: list[str], path: str, line: int = 1) -> list[str]:
    columns = [name.strip() for name in header]
    for i, name in enumerate(columns, start=1):
        if not name:
            raise InputError(f"header column {i} has no name", path=path, line=line)
    _require_unique(columns, path, line)
    return columns


def _require_unique(columns: list[str], path: str, line: int | None) -> None:
    """Rows become dicts by column name: a repeated name would silently keep only one cell."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InputError(f"duplicate column name {name!r} in the header", path=path, line=line)
        seen.add(name)


def _csv_row(columns: list[str], record: list[str], n: int, line: int) -> Row:
    values: dict[str, Any] = dict(zip(columns, record))
    if len(record) == len(columns):
        return Row(n, line, values)
    if len(record) > len(columns):
        values["_extra"] = record[len(columns):]
    return Row(
        n, line, values, "ragged_row", f"{len(record)} fields, the header has {len(columns)}"
    )


def _tsv_rows(path: str, encoding: str | None) -> Iterator[Any]:
    return _csv_rows(path, encoding, delimiter="\t")


# ---------------------------------------------------------------- JSON Lines


def _jsonl_rows(path: str, encoding: str | None) -> Iterator[Any]:
    rows = _jsonl_records(path, encoding)
    yield from _with_first_keys(rows, path)


class _DuplicateKeys:
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


def _jsonl_records(path: str, encoding: str | None) -> Iterator[Row]:
    n = 0
    duplicates = _DuplicateKeys()
    # Universal line ends are safe here: JSON text never holds a raw CR inside a string.
    for line, text in iter_text_lines(path, encoding, universal=True):
        if not text.strip():
            continue
        n += 1
        try:
            value = json.loads(text, object_pairs_hook=duplicates)
        except ValueError as e:
            duplicates.problem()
            yield Row(n, line, {"_raw": text.rstrip("\r\n")}, "bad_json", str(e))
            continue
        repeated = duplicates.problem()
        if repeated:
            yield Row(n, line, {"_raw": text.rstrip("\r\n")}, DUPLICATE_KEY, repeated)
            continue
        yield _object_row(value, n, line)


def _object_row(value: Any, n: int, line: int) -> Row:
    if isinstance(value, dict):
        return Row(n, line, value)
    return Row(n, line, {"_raw": value}, "not_an_object", f"a JSON {_json_type(value)}")


def _json_type(value: Any) -> str:
    """JSON's own name for a decoded value's type (not Python's: null, not NoneType)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "array"


_KEY_SEARCH_LIMIT = 1000  # unreadable records to look past for the first good one's keys


def _with_first_keys(rows: Iterator[Row], path: str) -> Iterator[Any]:
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


# ---------------------------------------------------------------- JSON array


def _json_rows(path: str, encoding: str | None) -> Iterator[Any]:
    yield from _with_first_keys(_json_array_records(path, encoding), path)


def _json_array_records(path: str, encoding: str | None) -> Iterator[Row]:
    """A JSON array read element by element (or concatenated top-level objects, which is how a
    JSONL file saved as .json looks). Memory holds one element at a time."""
    stream = _JsonStream(iter_text_lines(path, encoding), path)
    opener = stream.peek_char()
    if opener is None:
        return
    if opener == "[":
        stream.advance(1)
    elif opener != "{":
        raise InputError("expected a JSON array or objects", path=path, line=stream.line_at())
    n = 0
    while True:
        char = stream.peek_char()
        if char is None:
            if opener == "[":
                raise InputError("unterminated JSON array", path=path, line=stream.line_at())
            return
        if opener == "[" and char == "]":
            return
        n += 1
        line = stream.line_at()
        value = stream.decode_value()
        repeated = stream.duplicates.problem()
        if repeated:
            yield Row(n, line, {"_raw": value}, DUPLICATE_KEY, repeated)
        else:
            yield _object_row(value, n, line)
        if opener == "[":
            stream.expect_separator()


class _JsonStream:
    """A sliding window of decoded text over which values are decoded one at a time."""

    def __init__(self, lines: Iterator[tuple[int, str]], path: str) -> None:
        self._lines = lines
        self._path = path
        self._buf = ""
        self._pos = 0
        self._base_line = 1  # line number of _buf[0]
        self._counted = (0, 1)  # (position, its line): counting resumes there, not from 0
        self._eof = False
        self.duplicates = _DuplicateKeys()
        self._decoder = json.JSONDecoder(object_pairs_hook=self.duplicates)

    def _more(self, at_least: int = _BLOCK) -> bool:
        """Append decoded text; False at the end of the input."""
        if self._eof:
            return False
        # Drop what is consumed so the window never grows beyond the current value.
        self._base_line = self.line_at()
        self._buf, self._pos = self._buf[self._pos:], 0
        self._counted = (0, self._base_line)
        parts, size = [], 0
        for _, text in self._lines:
            parts.append(text)
            size += len(text)
            if size >= at_least:
                break
        else:
            self._eof = True
        self._buf += "".join(parts)
        return bool(parts)

    def line_at(self) -> int:
        start, line = self._counted
        if self._pos < start:  # never happens in practice; stay correct anyway
            start, line = 0, self._base_line
        line += self._buf.count("\n", start, self._pos)
        self._counted = (self._pos, line)
        return line

    def advance(self, n: int) -> None:
        self._pos += n

    def peek_char(self) -> str | None:
        """The next non-whitespace character, without consuming it; None at the end."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return None

    def decode_value(self) -> Any:
        want = _BLOCK
        while True:
            self.duplicates.problem()  # forget what a cut-short earlier attempt saw
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as e:
                if self._more(want):
                    want *= 2  # doubling keeps re-parsing of a huge element linear overall
                    continue
                line = self._base_line + self._buf.count("\n", 0, e.pos)
                raise InputError(f"invalid JSON: {e.msg}", path=self._path, line=line) from None
            # A value that ends exactly at the window's edge may be cut short (a number).
            if end == len(self._buf) and self._more(want):
                continue
            self._pos = end
            return value

    def expect_separator(self) -> None:
        char = self.peek_char()
        if char == ",":
            self._pos += 1
        elif char != "]":
            found = "end of file" if char is None else repr(char)
            raise InputError(
                f"invalid JSON: expected ',' or ']' after an element, found {found}",
                path=self._path,
                line=self.line_at(),
            )


# ---------------------------------------------------------------- Parquet


def _parquet_rows(path: str, encoding: str | None) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _require_file(path, PARQUET)
    try:
        pf = pq.ParquetFile(path)
        columns = list(pf.schema_arrow.names)
        _require_unique(columns, path, None)
        narrow = _narrow_float_columns(pf.schema_arrow)
        yield columns
        n = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            for values in batch.to_pylist():
                n += 1
                for name, code in narrow.items():
                    values[name] = _shortest_float(values[name], code)
                yield Row(n, None, values)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"cannot read Parquet: {e}", path=path) from None


def _narrow_float_columns(schema: Any) -> dict[str, str]:
    """Top-level float32/float16 columns → their struct format code ('f' / 'e')."""
    import pyarrow as pa

    out: dict[str, str] = {}
    for f in schema:
        if pa.types.is_float32(f.type):
            out[f.name] = "f"
        elif pa.types.is_float16(f.type):
            out[f.name] = "e"
    return out


def _shortest_float(value: Any, code: str) -> Any:
    """A float32 0.1 arrives as 0.10000000149011612; give back the shortest decimal that is
    the same float32 (0.1), which is what the table showed and what the text should say."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack(code, struct.pack(code, candidate))[0] == value:
            return candidate
    return value


# ---------------------------------------------------------------- XLSX


def _xlsx_rows(path: str, encoding: str | None) -> Iterator[Any]:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _require_file(path, XLSX)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as e:
        raise InputError(f"cannot read XLSX: {e}", path=path) from None
    try:
        sheet = workbook.active
        # Read-only mode trusts the sheet's declared dimension, which some writers get wrong
        # (e.g. "A1"): columns beyond it would vanish. Read every cell that is there instead.
        sheet.reset_dimensions()
        yield from _sheet_rows(sheet, path)
    finally:
        workbook.close()


def _sheet_rows(sheet: Any, path: str) -> Iterator[Any]:
    columns: list[str] | None = None
    n = skip = 0  # skip: empty columns left of the table (a table drawn from B2 is common)
    for sheet_row, row_cells in enumerate(sheet.iter_rows(), start=1):
        cells = tuple(_sheet_value(cell) for cell in row_cells)
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        if columns is None:
            skip = next(i for i, c in enumerate(cells) if c is not None)
            names = ["" if c is None else str(c) for c in _trim(cells[skip:])]
            columns = _header_names(names, path, sheet_row)
            yield columns
            continue
        if any(c is not None for c in cells[:skip]):
            raise InputError(
                f"a value left of the header's first column ({_column_letter(skip)}): "
                "that column has no name", path=path, line=sheet_row,
            )
        n += 1
        yield _cells_row(columns, _trim(cells[skip:]), n, sheet_row)
    if columns is None:
        yield None


class CellError(str):
    """A spreadsheet error result (#N/A, #DIV/0!...): kept in the source for the rejects file,
    never used as text (`cell_text` treats it as a missing value)."""

    __slots__ = ()


def _sheet_value(cell: Any) -> Any:
    return CellError(cell.value) if cell.data_type == "e" else cell.value


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _trim(cells: tuple[Any, ...]) -> list[Any]:
    """Drop trailing empty cells (sheets often pad rows to the widest one)."""
    out = list(cells)
    while out and out[-1] is None:
        out.pop()
    return out


def _cells_row(columns: list[str], cells: list[Any], n: int, line: int) -> Row:
    values = {c: _cell_value(v) for c, v in zip(columns, cells)}
    if len(cells) > len(columns):
        values["_extra"] = [_cell_value(v) for v in cells[len(columns):]]
        detail = f"{len(cells)} cells, the header has {len(columns)}"
        return Row(n, line, values, "ragged_row", detail)
    return Row(n, line, values)


def _cell_value(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value


def _require_file(path: str, fmt: str) -> None:
    if path == "-":
        raise UsageError(f"{fmt} cannot be read from standard input; give a file")
    p = Path(path)
    if p.is_dir():
        raise InputError("is a directory, expected a file", path=path)
    if not p.exists():
        raise InputError("no such file", path=path)


_GENERATORS = {
    CSV: _csv_rows,
    TSV: _tsv_rows,
    JSONL: _jsonl_rows,
    JSON: _json_rows,
    PARQUET: _parquet_rows,
    XLSX: _xlsx_rows,
}

__all__ = [
    "INPUT_FORMATS",
    "CellError",
    "Row",
    "Table",
    "detect_input_format",
    "iter_text_lines",
    "open_table",
]
