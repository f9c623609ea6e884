"""XLSX: the active sheet, read-only; rows are located by their sheet row number."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers.input_format import XLSX
from ftprep.io.readers.rows import Row, header_names, require_file


def xlsx_rows(path: str, encoding: str | None) -> Iterator[Any]:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    require_file(path, XLSX)
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
            columns = header_names(names, path, sheet_row)
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
    values = {c: _cell_value(v) for c, v in zip(columns, cells, strict=False)}  # extra cells reported below
    if len(cells) > len(columns):
        values["_extra"] = [_cell_value(v) for v in cells[len(columns):]]
        detail = f"{len(cells)} cells, the header has {len(columns)}"
        return Row(n, line, values, "ragged_row", detail)
    return Row(n, line, values)


def _cell_value(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value
