"""The fast XLSX path: python-calamine (Rust) reads a sheet ~16× faster than openpyxl's
read-only mode, but its values are not openpyxl's (integers come back as floats, empty cells
as "", error cells as empty, cached formula results, `_xHHHH_` escapes decoded, dates by its
own format rules). openpyxl's reading stays the definition of a cell's value: this module
reads a sheet with calamine only when a byte scan of the sheet's XML (and of the shared
strings) shows that every value calamine gives maps back to exactly openpyxl's, and says
"no" otherwise, so the caller reads that sheet with openpyxl as before.

What the scan refuses (the sheet goes to openpyxl): formulas; error, date (t="d") and
formula-string cells; numbers written so that openpyxl and calamine part ways (integral values
written as floats, "5.0" or "1E3", which openpyxl keeps as floats; integers of 16 digits or
more, past a float's exact range; anything not a plain decimal literal); cells styled with a
format openpyxl reads as a date or duration; empty strings (calamine cannot tell them from
empty cells); `_xHHHH_`/`x005F_` escapes, raw carriage returns, phonetic runs, comments,
CDATA and DTDs (the two parsers decode those differently); cells or rows without a
reference; and sheets too large to hold (calamine reads a whole sheet into memory: about 32
bytes per cell of the sheet's bounding box plus its text; see MAX_CELLS and MAX_SHEET_BYTES).

Workbook facts (sheet order, the active sheet, date styles) come from openpyxl's own reader
steps, minus the shared strings and the per-sheet dimension scan that make opening slow."""
from __future__ import annotations

import re
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

# A sheet's bounding box above this many cells, or its XML above this size, is read by
# openpyxl, which streams: calamine holds the whole sheet (~32 bytes a cell plus its text).
MAX_CELLS = 16_000_000
MAX_SHEET_BYTES = 512 << 20

Cells = tuple[int, tuple[Any, ...], list[str]]  # (sheet row, values, uncached formula refs)
# Rows, then the sheet row to go on from with openpyxl (None: the sheet was read to its end).
SheetRows = Generator[Cells, None, 'int | None']


def calamine_available() -> bool:
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class SheetPart:
    name: str
    member: str  # the sheet's XML inside the archive
    chart: bool


@dataclass(frozen=True)
class BookFacts:
    """What openpyxl's reader says about a workbook, without reading any sheet."""

    sheets: list[SheetPart]
    active: int  # openpyxl's active sheet index
    date_styles: frozenset[int]  # style ids openpyxl reads as dates or durations
    strings: str | None  # the shared strings part, when there is one


def book_facts(path: str) -> BookFacts | None:
    """openpyxl's own steps for the sheet list, active sheet and styles; None where any of
    them fails or the workbook is unusual (the caller then reads it all with openpyxl, which
    reports the problem as it always has)."""
    import warnings

    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.xml.constants import SHARED_STRINGS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the full openpyxl load says them, if it runs
            reader = ExcelReader(path, read_only=True, data_only=True)
            try:
                reader.read_manifest()
                reader.read_workbook()
                apply_stylesheet(reader.archive, reader.wb)
                sheets = [SheetPart(sheet.name, rel.target, "chartsheet" in rel.Type)
                          for sheet, rel in reader.parser.find_sheets()
                          if rel.target in reader.valid_files]
                wb = reader.wb
                strings = reader.package.find(SHARED_STRINGS)
                rels = reader.parser.rels
                facts = BookFacts(
                    sheets, wb._active_sheet_index,
                    frozenset(int(i) for i in (*wb._date_formats, *wb._timedelta_formats)),
                    None if strings is None else strings.PartName[1:])
            finally:
                reader.archive.close()
    except Exception:  # openpyxl's load (the fallback) words every failure for the user
        return None
    # calamine finds the shared strings through the workbook's relationships, openpyxl
    # through the content types: use calamine only where both name the same part.
    targets = {r.target for r in rels.values() if r.Type.endswith("/sharedStrings")}
    if targets != ({facts.strings} if facts.strings else set()):
        return None
    if not 0 <= facts.active < len(sheets) or 0 in facts.date_styles:
        return None
    return facts


class _Patterns:
    """The scan's patterns, for elements written plainly (<c>) or, when `prefix` is a
    pattern, with a namespace prefix (<x:c>). The plain ones start with a literal, which
    Python's re searches for fast; a piece uses the prefixed set only where it needs to."""

    def __init__(self, prefix: bytes) -> None:
        p = prefix
        self.tags = re.compile(
            rb"<(?:!"                                   # a DTD, comment or CDATA section
            rb"|" + p + rb"(?:f[\s>/]"                   # a formula (cached or not)
            rb"|rPh\b"                                  # a phonetic run (openpyxl skips it)
            rb"|t\b[^>]*>(?=<)"                          # an empty text (<t/> too)
            rb"|(?:is|si)\b[^>]*(?:/>|>(?=<" + p + rb"(?:/|phoneticPr)))))")  # no text at all
        # a cell or row without its reference (the two libraries count them differently)
        self.unreferenced = re.compile(rb"<" + p + rb"(?:c|row)\b(?![^>]*\sr\s*=)")
        # a <v> that is not a short integer literal: read closely (most are plain floats)
        self.value = re.compile(rb"<" + p + rb"v\b[^>]*>(?!-?\d{1,15}<)([^<]*)")
        self.row = re.compile(rb"<" + p + rb"row\b[^>]*\sr\s*=\s*[\"'](\d+)")
        self.wide = re.compile(rb"<" + p + rb"c\b[^>]*\sr\s*=\s*[\"']([A-Za-z]{2,})")


_PLAIN = _Patterns(b"")
_PREFIXED = _Patterns(rb"(?:[A-Za-z_][\w.-]*:)?")
_SOME_PREFIX = re.compile(rb":(?:c|row|v|f|t|is|si|rPh|phoneticPr)[\s>/]")
# error, ISO date and formula-string cells (t="e"...): any attribute with such a value
_CELL_TYPE = re.compile(rb"=\s*[\"'](?:e|d|str)[\"']")
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")  # calamine decodes these, openpyxl keeps them
_FLOAT = re.compile(rb"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)")


def _patterns(piece: bytes) -> _Patterns:
    return _PREFIXED if _SOME_PREFIX.search(piece) else _PLAIN


def _unsafe(piece: bytes, patterns: _Patterns) -> bool:
    # A raw CR: XML parsers (openpyxl's) read CR LF and CR as LF, calamine keeps it.
    return (b"\r" in piece or b"x005F_" in piece or _ESCAPE.search(piece) is not None
            or _CELL_TYPE.search(piece) is not None or patterns.tags.search(piece) is not None)


def _pieces(z: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's bytes in pieces that each end just after a '<' (the next piece starts
    with it): a tag, and a text run up to the next tag, never straddle two pieces."""
    carry = b""
    with z.open(member) as f:
        while block := f.read(1 << 20):
            buffer = carry + block
            cut = buffer.rfind(b"<")
            if cut <= 0:
                carry = buffer
                continue
            yield buffer[:cut + 1]
            carry = buffer[cut:]
    if carry:
        yield carry


def _plain_xml(head: bytes) -> bool:
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    declared = _ENCODING.match(head)
    return head.startswith(b"<") and (declared is None
                                      or declared.group(1).lower() in (b"utf-8", b"utf8"))


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def strings_safe(z: zipfile.ZipFile, member: str) -> bool:
    first = True
    for piece in _pieces(z, member):
        if first and not _plain_xml(piece[:200]):
            return False
        first = False
        if _unsafe(piece, _patterns(piece)):
            return False
    return True


def sheet_safe(z: zipfile.ZipFile, member: str, date_styles: frozenset[int]) -> bool:
    """Whether calamine's values for this sheet map back to exactly openpyxl's (see the
    module docstring), and the sheet is small enough to hold."""
    info = z.getinfo(member)
    if info.file_size > MAX_SHEET_BYTES:
        return False
    # a cell styled as a date: any attribute ending in "s" with such a value (searched fast)
    dated = re.compile(rb"s\s*=\s*[\"'](?:" + b"|".join(str(i).encode() for i in sorted(date_styles))
                       + rb")[\"']") if date_styles else None
    rows = columns = 0
    first = True
    for piece in _pieces(z, member):
        if first and not _plain_xml(piece[:200]):
            return False
        first = False
        patterns = _patterns(piece)
        if (_unsafe(piece, patterns) or patterns.unreferenced.search(piece)
                or (dated is not None and dated.search(piece))):
            return False
        for m in patterns.value.finditer(piece):
            if not _float_only(m.group(1)):
                return False
        rows = max(rows, *(int(r) for r in patterns.row.findall(piece)), 0)
        columns = max(columns, *(_column_number(c) for c in patterns.wide.findall(piece)), 26)
    return columns <= 16384 and rows * columns <= MAX_CELLS


def _float_only(text: bytes) -> bool:
    """A <v> text both libraries read as the same non-integral float."""
    if not _FLOAT.fullmatch(text):
        return False
    value = float(text)
    return value == value and abs(value) != float("inf") and not value.is_integer()


class CalamineBook:
    """The calamine reading of one workbook, for the sheets `sheet_safe` accepts."""

    def __init__(self, path: str, facts: BookFacts) -> None:
        from python_calamine import CalamineWorkbook

        self.path = path
        self.facts = facts
        self._zip = zipfile.ZipFile(path)
        self._book: Any = CalamineWorkbook.from_path(path)
        self._strings_ok: bool | None = None

    def close(self) -> None:
        self._book.close()
        self._zip.close()

    def _strings_safe(self) -> bool:
        if self._strings_ok is None:
            member = self.facts.strings
            self._strings_ok = member is None or strings_safe(self._zip, member)
        return self._strings_ok

    def sheet_cells(self, name: str) -> SheetRows | None:
        """The sheet's rows as openpyxl's path yields them, or None: read it with openpyxl.
        The iterator returns the sheet row to go on from with openpyxl if a value turns out
        not to map (a date calamine found where openpyxl sees a number), else None."""
        part = next((s for s in self.facts.sheets if s.name == name), None)
        if (part is None or part.chart or self._book.sheet_names.count(name) != 1
                or not self._strings_safe()
                or not sheet_safe(self._zip, part.member, self.facts.date_styles)):
            return None
        from python_calamine import CalamineError

        try:
            sheet = self._book.get_sheet_by_name(name)
        except (CalamineError, ValueError, OverflowError):
            return None
        return _mapped_rows(sheet)


def _mapped_rows(sheet: Any) -> SheetRows:
    start = sheet.start
    if start is None:  # no cells
        return None
    pad = (None,) * start[1]
    # iter_rows gives the rows above the first cell as empty rows, then the sheet's rows
    # from its first used column: enumerate counts sheet rows.
    for sheet_row, values in enumerate(sheet.iter_rows(), start=1):
        cells = _openpyxl_values(values)
        if cells is None:
            return sheet_row
        yield sheet_row, pad + cells, []
    return None


def _openpyxl_values(values: list[Any]) -> tuple[Any, ...] | None:
    """calamine's values as openpyxl reads the same cells (the scan made every case here
    certain); None where a value has no certain mapping."""
    out: list[Any] = []
    for v in values:
        kind = type(v)
        if kind is str:
            out.append(v or None)  # "" is an empty cell: the scan refused empty strings
        elif kind is float:
            # integral floats were written as integer literals, which openpyxl reads as int
            out.append(int(v) if v.is_integer() else v)
        elif kind is bool:
            out.append(v)
        else:  # dates and durations: openpyxl saw a number here (the scan refused its dates)
            return None
    return tuple(out)
