"""The fast XLSX path: python-calamine (Rust) reads a sheet ~16× faster than openpyxl's
read-only mode, but its values are not openpyxl's (integers come back as floats, empty cells
as "", error cells as empty, cached formula results, `_xHHHH_` escapes decoded, dates by its
own format rules). openpyxl's reading stays the definition of a cell's value: this module
reads a sheet with calamine only when a byte scan of the sheet's XML (and of the shared
strings) shows that every value calamine gives maps back to exactly openpyxl's, and says
"no" otherwise, so the caller reads that sheet with openpyxl as before.

What the scan refuses (the sheet goes to openpyxl): formulas; cell types other than text,
number, boolean and inline text (errors, t="d" dates, formula strings...) and inline text in a
cell not typed so; numbers written so that openpyxl and calamine part ways (integral values
written as floats, "5.0" or "1E3", which openpyxl keeps as floats; integers of 16 digits or
more, past a float's exact range; anything not a plain decimal literal); cells styled with a
format openpyxl reads as a date or duration; empty strings (calamine cannot tell them from
empty cells); text with spaces at either end and no xml:space="preserve" (calamine trims it);
`_xHHHH_`/`x005F_` escapes, raw carriage returns, characters XML forbids, phonetic runs,
comments, CDATA and DTDs (the two parsers decode those differently); cells or rows without a
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
MAX_SHEET_BYTES = 256 << 20

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


_PRESERVE = rb"[^>]*xml:space\s*=\s*[\"']preserve[\"']"


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
            # text starting with a space, without xml:space="preserve": calamine trims it
            rb"|t\b(?!" + _PRESERVE + rb")[^>]*>\s"
            rb"|(?:is|si)\b[^>]*(?:/>|>(?=<" + p + rb"(?:/|phoneticPr)))))")  # no text at all
        self.cells = re.compile(
            # (lazy [^>]*?: the attribute is found scanning forward, without backtracking)
            rb"<" + p + rb"(?:(?:c|row)\b(?![^>]*?\sr\s*=)"  # a cell or row without reference
            # a cell type other than text, number, boolean, inline text (e, d, str...)
            rb"|c\b[^>]*?\st\s*=\s*[\"'](?!(?:s|n|b|inlineStr)[\"'])"
            # inline text in a cell not typed inlineStr: openpyxl ignores it, calamine not
            rb"|c\b(?![^>]*?\st\s*=\s*[\"']inlineStr[\"'])[^>]*>\s*(?:<" + p
            + rb"v\b[^>]*>[^<]*</" + p + rb"v>\s*)?<" + p + rb"is\b)")
        # a <v> that is not a short integer literal: read closely (most are plain floats)
        self.space_end = re.compile(rb"[ \t\n]</" + p + rb"t>")  # text ending with a space
        self.value = re.compile(rb"<" + p + rb"v\b[^>]*>(?!-?\d{1,15}<)([^<]*)")
        self.row = re.compile(rb"<" + p + rb"row\b[^>]*\sr\s*=\s*[\"'](\d+)")
        self.wide = re.compile(rb"<" + p + rb"c\b[^>]*\sr\s*=\s*[\"']([A-Za-z]{2,})")


_PLAIN = _Patterns(b"")
_PREFIXED = _Patterns(rb"(?:[A-Za-z_][\w.-]*:)?")
_SOME_PREFIX = re.compile(rb":(?:c|row|v|f|t|is|si|rPh|phoneticPr)[\s>/]")
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")  # calamine decodes these, openpyxl keeps them
_FLOAT = re.compile(rb"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)")
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _patterns(piece: bytes) -> _Patterns:
    return _PREFIXED if _SOME_PREFIX.search(piece) else _PLAIN


_CONTROL = bytes(sorted(set(range(32)) - {9, 10, 13}))  # not allowed in XML 1.0 at all


def _unsafe(piece: bytes, patterns: _Patterns) -> bool:
    # A raw CR: XML parsers (openpyxl's) read CR LF and CR as LF, calamine keeps it. Control
    # characters: openpyxl's parser refuses the file, calamine might not.
    return (b"\r" in piece or b"x005F_" in piece or _ESCAPE.search(piece) is not None
            or len(piece.translate(None, _CONTROL)) != len(piece)
            or patterns.tags.search(piece) is not None or _trimmed_text(piece, patterns))


def _trimmed_text(piece: bytes, patterns: _Patterns) -> bool:
    """A text ending with a space in a <t> without xml:space="preserve" (calamine trims it,
    openpyxl keeps it). Rare: found by literal search, then checked one by one."""
    if patterns is _PLAIN and not (b" </t>" in piece or b"\n</t>" in piece
                                   or b"\t</t>" in piece):
        return False
    for m in patterns.space_end.finditer(piece):
        start = piece.rfind(b"<", 0, m.start())  # the text holds no "<": its <t ...> tag
        if not re.match(rb"<[^>]*xml:space\s*=\s*[\"']preserve[\"']", piece[start:m.start()]):
            return True
    return False


def _pieces(z: zipfile.ZipFile, member: str, element: bytes) -> Iterator[bytes]:
    """The member's bytes in pieces that each end with the end tag of `element` (row, si),
    prefixed or not: every pattern of the scan then lies within one piece. ("</" cannot
    occur in text, where "<" is always escaped.)"""
    carry = b""
    with z.open(member) as f:
        while block := f.read(1 << 20):
            buffer = carry + block
            cut = _last_end_tag(buffer, element)
            if cut < 0:
                carry = buffer
                continue
            yield buffer[:cut]
            carry = buffer[cut:]
    if carry:
        yield carry


def _last_end_tag(buffer: bytes, element: bytes) -> int:
    """The offset just after the last </element> or </prefix:element>; -1: none."""
    tail = element + b">"
    end = len(buffer)
    while (i := buffer.rfind(tail, 0, end)) >= 0:
        j = i
        if buffer[j - 1:j] == b":":
            j -= 1
            while j > 0 and buffer[j - 1] in _NAME_CHARS:
                j -= 1
        if buffer[j - 2:j] == b"</":
            return i + len(tail)
        end = i
    return -1


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
    for piece in _pieces(z, member, b"si"):
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
    for piece in _pieces(z, member, b"row"):
        if first and not _plain_xml(piece[:200]):
            return False
        first = False
        patterns = _patterns(piece)
        if (_unsafe(piece, patterns) or patterns.cells.search(piece)
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
    kinds = set(map(type, values))
    if kinds == _TEXT:  # the common row: text only ("" is an empty cell: the scan refused
        return tuple([v or None for v in values])  # empty strings)
    if not kinds <= _MAPPED:  # dates and durations: openpyxl saw a number here (the scan
        return None  # refused its dates)
    # integral floats were written as integer literals, which openpyxl reads as int
    return tuple([(v or None) if type(v) is str else
                  int(v) if type(v) is float and v.is_integer() else v for v in values])


_TEXT = {str}
_MAPPED = frozenset({str, float, bool})
