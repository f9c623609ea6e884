"""XLSX, read-only; rows are located by their sheet row number.

The active sheet is read unless `sheet` names one (by name, by 1-based position, or "all":
every sheet in order, each with the same header); the sheets not read are named in a warning.
A formula cell whose value was never computed (files written by scripts, not by Excel) has
no value to read: it is reported as such, never read as an empty cell."""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError, UsageError
from ftprep.io.readers.input_format import XLSX
from ftprep.io.readers.rows import (
    INDEX_COLUMN,
    IndexColumn,
    ReadNotes,
    ReadOptions,
    Row,
    header_names,
    require_file,
)

ALL_SHEETS = "all"
UNCACHED_FORMULA = "uncached_formula"  # a Row problem: the row's values were never computed


def xlsx_rows(path: str, options: ReadOptions, notes: ReadNotes) -> Iterator[Any]:
    import zipfile
    import zlib

    require_file(path, XLSX)
    book = _Workbook(path)
    try:
        names = _chosen_sheets(book.sheetnames, book.active_title, options.sheet)
        others = [n for n in book.sheetnames if n not in names]
        if others:
            notes.warn(f"sheet(s) not read: {', '.join(others)} (--sheet NAME|INDEX|all)")
        yield from _sheets_rows(book, names, path, options, notes)
    except (SyntaxError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        # A damaged sheet surfaces mid-read from openpyxl: truncated XML (ParseError is a
        # SyntaxError), a non-numeric <v>, a cell reference past XFD ("ZZZZZ9")...
        raise InputError(f"corrupt XLSX: {type(e).__name__}: {e}", path=path) from None
    finally:
        book.close()


class _Workbook:
    """One workbook's sheets: read by python-calamine where `xlsx_fast` shows its values map
    to exactly openpyxl's, else (or without python-calamine) by openpyxl as the first release
    did. openpyxl's two read-only views are opened only when a sheet needs them."""

    def __init__(self, path: str) -> None:
        from ftprep.io.readers import xlsx_fast

        self.path = path
        self._values: Any = None
        self._formulas: Any = None
        self.fast: xlsx_fast.CalamineBook | None = None
        facts = xlsx_fast.book_facts(path) if xlsx_fast.calamine_available() else None
        if facts is not None and _plain_titles([s.name for s in facts.sheets]):
            try:
                self.fast = xlsx_fast.CalamineBook(path, facts)
            except Exception:  # calamine refuses the file: openpyxl reports it as before
                self.fast = None
        if self.fast is None:
            self._open_openpyxl()

    def _open_openpyxl(self) -> None:
        import zipfile

        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._values = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            # The formulas themselves, only to tell an uncomputed formula from an empty cell.
            self._formulas = openpyxl.load_workbook(self.path, read_only=True, data_only=False)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as e:
            raise InputError(f"cannot read XLSX: {e}", path=self.path) from None

    @property
    def sheetnames(self) -> list[str]:
        if self.fast is not None:
            return [s.name for s in self.fast.facts.sheets]
        return list(self._values.sheetnames)

    @property
    def active_title(self) -> str:
        if self.fast is not None:
            return self.fast.facts.sheets[self.fast.facts.active].name
        return str(self._values.active.title)

    def sheet_cells(self, name: str) -> Iterator[tuple[int, tuple[Any, ...], list[str]]]:
        """(sheet row, cell values, uncached formula references) for every row of a sheet."""
        fast = self.fast.sheet_cells(name) if self.fast is not None else None
        if fast is None:
            yield from self._openpyxl_cells(name)
            return
        resume = yield from fast
        if resume is not None:  # a value calamine reads otherwise: openpyxl from that row on
            for cells in self._openpyxl_cells(name):
                if cells[0] >= resume:
                    yield cells

    def _openpyxl_cells(self, name: str) -> Iterator[tuple[int, tuple[Any, ...], list[str]]]:
        if self._values is None:
            self._open_openpyxl()
        return _sheet_cells(self._values[name], self._formulas[name], self.path)

    def close(self) -> None:
        if self.fast is not None:
            self.fast.close()
        if self._values is not None:
            self._values.close()
            self._formulas.close()


def _plain_titles(names: list[str]) -> bool:
    """Titles openpyxl keeps as written (it renames case-insensitive duplicates and refuses
    some characters): anything else is left to openpyxl itself."""
    folded = {n.lower() for n in names}
    return len(folded) == len(names) and all(n and not re.search(r"[\\*?:/\[\]]", n)
                                             for n in names)


_FORMULA_TAG = re.compile(rb"<f[\s>/]")


def _has_formulas(path: str, member: str) -> bool:
    """Whether a sheet's XML holds any formula: a byte scan, so the common sheet of plain
    values is parsed once, not twice."""
    import zipfile

    with zipfile.ZipFile(path) as z, z.open(member.lstrip("/")) as f:
        tail = b""
        while block := f.read(1 << 20):
            if _FORMULA_TAG.search(tail + block):
                return True
            tail = block[-3:]
    return False


def _chosen_sheets(names: list[str], active: str, sheet: str | None) -> list[str]:
    if sheet is None:
        return [active]
    if sheet == ALL_SHEETS:
        return names
    if sheet in names:
        return [sheet]
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return [names[int(sheet) - 1]]
    raise UsageError(f"sheet={sheet!r}: no such sheet", hint=f"sheets: {', '.join(names)}")


def _sheets_rows(book: _Workbook, names: list[str], path: str, options: ReadOptions,
                 notes: ReadNotes) -> Iterator[Any]:
    columns: list[str] | None = None
    n = 0
    for name in names:
        rows = _sheet_rows(book.sheet_cells(name), path, options, notes, n)
        header = next(rows)
        if header is None:
            if len(names) > 1:  # reading several: an empty one must not vanish unsaid
                notes.warn(f"sheet {name!r} has no header row: not read")
            continue
        if columns is None:
            columns = header
            yield columns
        elif header != columns:
            raise InputError(f"sheet {name!r} has other columns than the first sheet read "
                             f"({', '.join(header)} vs {', '.join(columns)})", path=path)
        if len(names) > 1:
            notes.sheets.append((n + 1, name))
        for row in rows:
            n = row.row
            yield row
    if columns is None:
        yield None


def _sheet_rows(sheet_cells: Iterator[tuple[int, tuple[Any, ...], list[str]]], path: str,
                options: ReadOptions, notes: ReadNotes, n: int) -> Iterator[Any]:
    """The header, then the rows of one sheet (numbered on from `n`); None: no header."""
    columns: list[str] | None = None
    index: IndexColumn | None = None
    skip = 0  # empty columns left of the table (a table drawn from B2 is common)
    read = 0  # rows of this sheet so far
    for sheet_row, cells, uncached in sheet_cells:
        if _blank(cells) and not uncached:
            continue
        if options.header_row is not None and sheet_row < options.header_row:
            continue  # title rows above the header
        if columns is None:
            skip = next((i for i, c in enumerate(cells) if c is not None), 0)
            names = ["" if c is None else str(c) for c in _trim(cells[skip:])]
            columns = header_names(names, path, sheet_row)
            index = IndexColumn(columns, path, notes)
            yield [c for c in columns if not index.active or c != columns[0]]
            continue
        if skip and any(c is not None for c in cells[:skip]):
            # Each sheet pandas writes has its own 0..n-1 index (--sheet all reads several).
            _pandas_index(cells[:skip], read, notes, path, sheet_row, skip)
        n += 1
        read += 1
        row = _cells_row(columns, _trim(cells[skip:]), n, sheet_row, skip)
        assert index is not None
        index.strip(row.values, n, sheet_row)
        if uncached and row.problem is None:
            where = ", ".join(uncached)
            row = Row(n, sheet_row, row.values, UNCACHED_FORMULA,
                      f"formula cell(s) {where} were never calculated (open and save the file "
                      "in a spreadsheet program to store their values)",
                      _cell_column(uncached[0], columns, skip))
        yield row
    if columns is None:
        yield None


def _pandas_index(left: tuple[Any, ...], n: int, notes: ReadNotes, path: str, line: int,
                  skip: int) -> None:
    """pandas' to_excel writes its 0..n-1 index in the column left of a header whose first
    cell is empty: drop it (said once); any other value there has no column name."""
    if all(c is None for c in left[:-1]) and str(left[-1]) == str(n):
        said = "the unnamed first column is a pandas index (0, 1, 2, ...): not read"
        if n == 0 and said not in notes.warnings:  # once, however many sheets
            notes.warn(said)
        return
    raise InputError(f"a value left of the header's first column ({_column_letter(skip)}): "
                     "that column has no name", path=path, line=line)


def _sheet_cells(
    sheet: Any, formula_sheet: Any, path: str
) -> Iterator[tuple[int, tuple[Any, ...], list[str]]]:
    """(sheet row, cell values, references of formula cells without a stored value). The two
    read-only views of the sheet advance together: one row of each in memory."""
    # Read-only mode trusts the sheet's declared dimension, which some writers get wrong
    # (e.g. "A1"): columns beyond it would vanish. Read every cell that is there instead.
    sheet.reset_dimensions()
    # openpyxl keeps the sheet's part name private; without it, assume formulas (slower, same).
    member = getattr(sheet, "_worksheet_path", None)
    if member is not None and not _has_formulas(path, member):
        for sheet_row, row_cells in enumerate(sheet.iter_rows(), start=1):
            yield sheet_row, tuple(_sheet_value(cell) for cell in row_cells), []
        return
    formula_sheet.reset_dimensions()
    for sheet_row, (row_cells, formula_cells) in enumerate(
            zip(sheet.iter_rows(), formula_sheet.iter_rows(), strict=True), start=1):
        cells = tuple(_sheet_value(cell) for cell in row_cells)
        uncached = [f"{_column_letter(i)}{sheet_row}"
                    for i, (v, f) in enumerate(zip(cells, formula_cells, strict=False))
                    if v is None and f.data_type == "f"]
        yield sheet_row, cells, uncached


def _blank(cells: tuple[Any, ...]) -> bool:
    for c in cells:  # noqa: SIM110 (a loop, not all(<genexpr>): this runs once a row)
        if c is not None and not (isinstance(c, str) and not c.strip()):
            return False
    return True


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


# Cell types kept as they are (dates become ISO text): rows made of these skip the per-cell call.
_KEPT_TYPES = frozenset({str, int, float, bool, type(None)})


def _cells_row(columns: list[str], cells: list[Any], n: int, line: int, skip: int) -> Row:
    """One sheet row as a Row; `skip` empty columns lie left of the table."""
    if _KEPT_TYPES.issuperset(map(type, cells)):
        values = dict(zip(columns, cells, strict=False))  # extra cells reported below
    else:
        values = {c: _cell_value(v) for c, v in zip(columns, cells, strict=False)}
    if len(cells) > len(columns):
        values["_extra"] = [_cell_value(v) for v in cells[len(columns):]]
        detail = f"{len(cells)} cells, the header has {len(columns)}"
        # The sheet column of the first cell past the header, as the spreadsheet shows it.
        where = f"column {_column_letter(skip + len(columns))}"
        return Row(n, line, values, "ragged_row", detail, where)
    return Row(n, line, values)


def _cell_column(ref: str, columns: list[str], skip: int) -> str:
    """The header name of the column a cell reference ("C5") is in, or "column C" for a cell
    outside the named columns."""
    from openpyxl.utils import column_index_from_string

    letters = ref.rstrip("0123456789")
    at = column_index_from_string(letters) - 1 - skip
    if 0 <= at < len(columns) and columns[at] != INDEX_COLUMN:
        return columns[at]
    return f"column {letters}"


def _cell_value(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return value
