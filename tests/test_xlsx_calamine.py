"""The calamine path of the XLSX reader against the openpyxl path it replaces: the same
columns, rows, row numbers, problems, warnings and errors on many generated workbooks, and the
fallback to openpyxl taken on every sheet where calamine cannot give the same answer."""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ERROR_CODES

from ftprep.errors import FtprepError
from ftprep.io.readers import xlsx_fast
from ftprep.io.readers.table import open_table

pytest.importorskip("python_calamine", reason="python-calamine is a core dependency")


def read(path: Path, *, fast: bool, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    """Everything the reader says about a file: columns, rows, warnings, or its error."""
    with monkeypatch.context() as m:
        m.setattr(xlsx_fast, "calamine_available", lambda: fast)
        try:
            table = open_table(path, **kw)
            rows = [(r.row, r.line, r.values, r.problem, r.detail) for r in table.rows]
            return table.columns, rows, table.notes.warnings
        except FtprepError as e:
            return type(e).__name__, str(e)


def fast_sheets(path: Path) -> dict[str, bool]:
    """Per sheet: whether the calamine path reads it (False: openpyxl does)."""
    facts = xlsx_fast.book_facts(str(path))
    assert facts is not None
    book = xlsx_fast.CalamineBook(str(path), facts)
    try:
        return {s.name: book.sheet_cells(s.name) is not None for s in facts.sheets}
    finally:
        book.close()


def assert_same(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
    assert read(path, fast=True, monkeypatch=monkeypatch, **kw) == \
        read(path, fast=False, monkeypatch=monkeypatch, **kw)


def to_shared_strings(src: Path, dst: Path) -> None:
    """openpyxl writes inline strings; Excel writes a shared strings table. Rewrite every
    inline string cell as a shared string (in order of first use, repeats shared)."""
    cell = re.compile(rb'<c r="([A-Z]+\d+)"([^>]*) t="inlineStr"><is>(.*?)</is></c>')
    table: list[bytes] = []
    index: dict[bytes, int] = {}

    def shared(m: re.Match[bytes]) -> bytes:
        item = m.group(3)
        if item not in index:
            index[item] = len(table)
            table.append(item)
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (m.group(1), m.group(2), index[item])

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = cell.sub(shared, data)
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                    b'ContentType="application/vnd.openxmlformats-officedocument.'
                                    b'spreadsheetml.sharedStrings+xml"/></Types>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://'
                                    b"schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                    b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
            zout.writestr(item, data)
        sst = b"".join(b"<si>%s</si>" % s for s in table)
        zout.writestr("xl/sharedStrings.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns='
                      b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" '
                      b'uniqueCount="%d">%s</sst>' % (len(table), len(table), sst))


def rewrite(src: Path, dst: Path, old: bytes, new: bytes, member: str = "xl/worksheets/sheet1.xml"
            ) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == member:
                assert old in data, (old, data[:2000])
                data = data.replace(old, new)
            zout.writestr(item, data)


# Text openpyxl can write (no XML-illegal control characters), including what decoders treat
# differently: CR/LF, spaces at the ends, `_x000D_`-like escapes, non-BMP characters.
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", blacklist_characters="\x00\x01\x02\x03"
                          "\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
                          "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff"), max_size=12),
    st.sampled_from(["", " ", "  padded  ", "a\r\nb", "line\nbreak", "_x000D_", "x005F_y",
                     "#N/A", "=not a formula?", "0", "007", "1e5", "😀 émoji", "TRUE"]),
)
VALUE = st.one_of(
    st.none(), TEXT,
    st.integers(-(2**53), 2**53), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
    st.times(), st.sampled_from(["=1+1", "=A1&\"x\"", "#DIV/0!", "#REF!"]),
)
PLAIN = st.one_of(st.none(), TEXT.filter(lambda t: t and t not in ERROR_CODES and t[0] != "="),
                  st.integers(-(10**12), 10**12),
                  st.floats(-1e9, 1e9).filter(lambda f: not f.is_integer()), st.booleans())


@st.composite
def workbooks(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> list[tuple[str, list[list[Any]],
                                                                              int, int]]:
    """Sheets as (title, rows, leading empty rows, leading empty columns)."""
    sheets = []
    for i in range(draw(st.integers(1, 3))):
        width = draw(st.integers(1, 4))
        header = [f"c{j}" for j in range(width)]
        body = draw(st.lists(st.lists(values, min_size=0, max_size=width + 1), max_size=8))
        sheets.append((f"S{i}", [header, *body], draw(st.integers(0, 2)), draw(st.integers(0, 2))))
    return sheets


def save(sheets: list[tuple[str, list[list[Any]], int, int]], path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows, top, left in sheets:
        ws = wb.create_sheet(title)
        for r, row in enumerate(rows, start=1 + top):
            for c, value in enumerate(row, start=1 + left):
                ws.cell(r, c, value)
    wb.save(path)
    return path


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(sheets=workbooks(VALUE), shared=st.booleans(), sheet=st.sampled_from([None, "all", "2"]))
def test_any_workbook_reads_the_same_as_with_openpyxl(
        sheets: Any, shared: bool, sheet: str | None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(sheets, tmp_path / "a.xlsx")
    if shared:
        to_shared_strings(path, tmp_path / "s.xlsx")
        path = tmp_path / "s.xlsx"
    kw = {} if sheet is None else {"sheet": sheet}
    assert_same(path, monkeypatch, **kw)


@SETTINGS
@given(sheets=workbooks(PLAIN), shared=st.booleans())
def test_plain_workbooks_are_read_by_calamine_and_the_same(
        sheets: Any, shared: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Text, integers, non-integral floats and booleans: the fast path applies, same rows."""
    path = save(sheets, tmp_path / "a.xlsx")
    if shared:
        to_shared_strings(path, tmp_path / "s.xlsx")
        path = tmp_path / "s.xlsx"
    text = [v for _, rows, _, _ in sheets for row in rows for v in row if isinstance(v, str)]
    escaped = any(re.search(r"_x[0-9A-Fa-f]{4}_|x005F_|\r", t) for t in text)
    assert all(fast_sheets(path).values()) or escaped
    assert_same(path, monkeypatch, sheet="all")


def plain_book(tmp_path: Path, name: str = "plain.xlsx") -> Path:
    return save([("data", [["q", "a", "n"], ["hi", "there", 1], ["x", "y", 2.5]], 0, 0)],
                tmp_path / name)


@pytest.mark.parametrize(("value", "reason"), [
    ("=1+1", "a formula without a cached value: uncached_formula as before"),
    ("#DIV/0!", "an error cell: calamine reads it as empty"),
    (dt.date(2020, 1, 2), "a date: calamine's date types and rules are its own"),
    (dt.datetime(2020, 1, 2, 3, 4, 5), "a datetime"),
    (dt.time(1, 2, 3), "a time"),
    (2**60, "an integer past a float's exact range"),
    (5e20, "an integral value written as a float"),
    ("_x000D_", "an escape calamine decodes and openpyxl keeps"),
])
def test_the_fallback_is_taken_where_calamine_cannot_give_the_same(
        value: Any, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save([("data", [["q", "a"], ["hi", value]], 0, 0),
                 ("other", [["q", "a"], ["hi", "there"]], 0, 0)], tmp_path / "a.xlsx")
    assert fast_sheets(path) == {"data": False, "other": True}, reason
    assert_same(path, monkeypatch, sheet="all")


@pytest.mark.parametrize(("old", "new", "reason"), [
    (b"<f>1+1</f><v></v>", b"<f>1+1</f><v>2</v>", "a formula with its cached value"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="n"><v>1.0</v>', "1.0: a float to openpyxl"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="n"><v>1E0</v>', "1E0: a float to openpyxl"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="d"><v>2020-01-02</v>', "an ISO date cell"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="n"><v>1_0.5</v>', "not a plain literal"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c t="n"><v>1</v>', "a cell without a reference"),
    (b"<is><t>there</t></is>", b"<is><t></t></is>", "an empty string: calamine says empty"),
    (b"<is><t>there</t></is>", b"<is><t>a\rb</t></is>", "a raw CR: XML parsers make it LF"),
    (b"<is><t>there</t></is>", b"<is><t><![CDATA[x]]></t></is>", "CDATA"),
    (b"<is><t>there</t></is>", b"<is><t>the</t><rPh sb=\"0\" eb=\"1\"><t>x</t></rPh></is>",
     "a phonetic run"),
    (b'<c r="C3"', b'<c r="ZZZZ3"', "a reference past XFD"),
    (b"<is><t>there</t></is>", b"<is><t> there</t></is>", "a leading space, no preserve"),
    (b"<is><t>there</t></is>", b"<is><t>there\n</t></is>", "a trailing newline, no preserve"),
    (b'<c r="C2" t="inlineStr"><is>', b'<c r="C2"><is>', "inline text in a numeric cell"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="x"><v>1</v>', "an unknown cell type"),
    (b'<c r="B2" t="n"><v>1</v>', b'<c r="B2" t="b"><v>2</v>', "a boolean neither 0 nor 1"),
    (b"<is><t>there</t></is>", b"<is><t>a\x0bb</t></is>", "a character XML does not allow"),
])
def test_sheets_calamine_would_read_otherwise_go_to_openpyxl(
        old: bytes, new: bytes, reason: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = save([("data", [["q", "a", "n"], ["hi", 1, "there"], ["=1+1", 2, 2.5]], 0, 0)],
                  tmp_path / "src.xlsx")
    before = tmp_path / "before.xlsx"
    rewrite(source, before, b"<f>1+1</f><v></v>", b"<v>0.5</v>")  # a plain sheet to start
    assert fast_sheets(before) == {"data": True}
    path = tmp_path / "a.xlsx"
    rewrite(before if old != b"<f>1+1</f><v></v>" else source, path, old, new)
    assert fast_sheets(path) == {"data": False}, reason
    assert_same(path, monkeypatch)


def test_shared_strings_with_empty_or_escaped_items_go_to_openpyxl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = plain_book(tmp_path)
    to_shared_strings(path, tmp_path / "s.xlsx")
    assert fast_sheets(tmp_path / "s.xlsx") == {"data": True}
    for old, new in [(b"<si><t>hi</t></si>", b"<si><t/></si>"),
                     (b"<si><t>hi</t></si>", b"<si><t>_x0041_</t></si>"),
                     (b"<si><t>hi</t></si>", b"<si><r><t>h</t></r><r><t>i</t></r></si>")]:
        out = tmp_path / "t.xlsx"
        rewrite(tmp_path / "s.xlsx", out, old, new, member="xl/sharedStrings.xml")
        assert fast_sheets(out)["data"] == (b"<r>" in new), new
        assert_same(out, monkeypatch)


def test_a_value_calamine_reads_as_a_date_hands_the_rest_of_the_sheet_to_openpyxl() -> None:
    """calamine's date rules are not openpyxl's: where it returns a date in a sheet openpyxl
    reads as numbers, the rows before stand and openpyxl goes on from that row."""

    class Sheet:
        start = (1, 2)

        def iter_rows(self) -> Any:
            return iter([["", ""], ["q", "a"], ["x", 1.0], [dt.date(2020, 1, 2), "y"]])

    rows = xlsx_fast._mapped_rows(Sheet())
    got = []
    try:
        while True:
            got.append(next(rows))
    except StopIteration as stop:
        resume = stop.value
    assert got == [(1, (None, None, None, None), []), (2, (None, None, "q", "a"), []),
                   (3, (None, None, "x", 1), [])]
    assert resume == 4


def test_without_python_calamine_openpyxl_reads_everything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = plain_book(tmp_path)
    columns, rows, _ = read(path, fast=False, monkeypatch=monkeypatch)
    assert columns == ["q", "a", "n"]
    assert [r[2] for r in rows] == [{"q": "hi", "a": "there", "n": 1},
                                    {"q": "x", "a": "y", "n": 2.5}]


def test_merged_cells_and_a_table_away_from_a1_read_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    ws["C4"], ws["D4"] = "question", "answer"
    ws["C5"], ws["D5"] = "merged", "a"
    ws["C7"], ws["D7"] = "b", "c"
    ws.merge_cells("C5:C6")
    ws["D6"] = "under the merge"
    wb.save(tmp_path / "m.xlsx")
    assert fast_sheets(tmp_path / "m.xlsx") == {"data": True}
    assert_same(tmp_path / "m.xlsx", monkeypatch)
    _, rows, _ = read(tmp_path / "m.xlsx", fast=True, monkeypatch=monkeypatch)
    assert [(r[1], r[2]) for r in rows] == [(5, {"question": "merged", "answer": "a"}),
                                            (6, {"question": None, "answer": "under the merge"}),
                                            (7, {"question": "b", "answer": "c"})]


def prefix_elements(src: Path, dst: Path) -> None:
    """The same sheet with every element written as <x:name> (as the Open XML SDK does)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<(/?)([A-Za-z]\w*)(?=[\s>/])", rb"<\1x:\2", data)
                data = data.replace(b'<x:worksheet xmlns="', b'<x:worksheet xmlns:x="')
            zout.writestr(item, data)


@pytest.mark.parametrize("formula", [False, True])
def test_elements_with_a_namespace_prefix_are_scanned_alike(
        formula: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["q", "a", "n"], ["hi", "there", 1], ["x", "=1+1" if formula else "y", 2.5]]
    source = save([("data", rows, 1, 1)], tmp_path / "src.xlsx")
    path = tmp_path / "x.xlsx"
    prefix_elements(source, path)
    with zipfile.ZipFile(path) as z:
        assert b"<x:c " in z.read("xl/worksheets/sheet1.xml")
    assert fast_sheets(path) == {"data": not formula}
    assert_same(path, monkeypatch)
    assert read(path, fast=True, monkeypatch=monkeypatch)[1][0][2] == \
        {"q": "hi", "a": "there", "n": 1}


def test_the_scan_reads_a_sheet_in_whole_rows(tmp_path: Path) -> None:
    """Pieces end at a row's end tag (plain or prefixed), so no pattern is cut in two; joined,
    they are the sheet again."""
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>'
                    % (i, i, b"x" * (i % 997)) for i in range(1, 6000))
    xml = b"<worksheet><sheetData>" + rows + b"</x:row></sheetData></worksheet>"
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("s.xml", xml)
    with zipfile.ZipFile(tmp_path / "z.zip") as z:
        pieces = list(xlsx_fast._pieces(z, "s.xml", b"row"))
    assert len(pieces) > 2 and b"".join(pieces) == xml
    assert all(p.endswith(b"</row>") for p in pieces[:-2]), [p[-20:] for p in pieces]
    assert pieces[-2].endswith(b"</x:row>") or pieces[-1].endswith(b"</worksheet>")


@pytest.mark.parametrize("where", [2, 4_001, 7_999])
def test_a_formula_anywhere_in_a_large_sheet_is_found(where: int, tmp_path: Path) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append(["q", "a"])
    for i in range(2, 8_001):
        ws.append([f"question {i}", "=1+1" if i == where else f"answer {i} " + "z" * 200])
    wb.save(tmp_path / "big.xlsx")
    with zipfile.ZipFile(tmp_path / "big.xlsx") as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > 2 << 20  # several pieces
    assert fast_sheets(tmp_path / "big.xlsx") == {"data": False}


@pytest.mark.parametrize("limit", ["MAX_CELLS", "MAX_SHEET_BYTES"])
def test_a_sheet_too_large_to_hold_is_streamed_by_openpyxl(
        limit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """calamine holds a whole sheet: past the limits openpyxl streams it, same rows."""
    path = plain_book(tmp_path)
    assert fast_sheets(path) == {"data": True}
    monkeypatch.setattr(xlsx_fast, limit, 3 * 26 - 1 if limit == "MAX_CELLS" else 100)
    assert fast_sheets(path) == {"data": False}
    assert_same(path, monkeypatch)
