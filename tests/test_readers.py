"""Streaming readers: every format, encodings, locations, and malformed inputs."""
from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from ftprep.errors import InputError, UsageError
from ftprep.io import readers
from ftprep.io.readers import Row, detect_input_format, json_array, open_table, parquet, text_lines


def rows_of(path: Path, **kw: str) -> tuple[list[str], list[Row]]:
    table = open_table(path, **kw)
    return table.columns, list(table.rows)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_quoted_newline_keeps_physical_lines(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", b'q,a\n"two\nlines",x\n\n"3",y\n')
    columns, rows = rows_of(p)
    assert columns == ["q", "a"]
    assert [(r.row, r.line, r.values) for r in rows] == [
        (1, 2, {"q": "two\nlines", "a": "x"}),
        (2, 5, {"q": "3", "a": "y"}),  # line 4 is blank: not a row, but still a line
    ]


def test_a_line_of_empty_fields_is_a_row_but_a_blank_line_is_not(tmp_path: Path) -> None:
    _, rows = rows_of(write(tmp_path / "a.csv", b"q,a\n,\n   \n\nx,y\n"))
    assert [(r.line, r.values) for r in rows] == [(2, {"q": "", "a": ""}), (5, {"q": "x", "a": "y"})]


def test_tsv(tmp_path: Path) -> None:
    columns, rows = rows_of(write(tmp_path / "a.tsv", b"q\ta\nhello, world\tok\n"))
    assert columns == ["q", "a"] and rows[0].values == {"q": "hello, world", "a": "ok"}


def test_ragged_rows_are_flagged_not_dropped(tmp_path: Path) -> None:
    _, rows = rows_of(write(tmp_path / "a.csv", b"q,a\n1,2,3\n4\n5,6\n"))
    assert [r.problem for r in rows] == ["ragged_row", "ragged_row", None]
    assert rows[0].values["_extra"] == ["3"] and "3 fields" in rows[0].detail


def test_gzip_csv(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv.gz", gzip.compress("q,a\né,ü\n".encode()))
    assert detect_input_format(p) == "csv"
    assert rows_of(p)[1][0].values == {"q": "é", "a": "ü"}


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_marks(tmp_path: Path, bom: bytes, encoding: str) -> None:
    p = write(tmp_path / "a.csv", bom + "问,答\n一,二\n".encode(encoding))
    columns, rows = rows_of(p)
    assert columns == ["问", "答"] and rows[0].values == {"问": "一", "答": "二"}
    assert rows[0].line == 2


def test_gb18030_needs_its_encoding(tmp_path: Path) -> None:
    p = write(tmp_path / "zh.csv", "问题,回答\n你好,世界\n".encode("gb18030"))
    with pytest.raises(InputError, match=r"zh.csv:1: cannot decode as utf-8 at byte offset 0"):
        rows_of(p)
    assert rows_of(p, encoding="gb18030")[1][0].values == {"问题": "你好", "回答": "世界"}


def test_decode_failure_names_line_and_byte_offset(tmp_path: Path) -> None:
    p = write(tmp_path / "a.csv", b"q,a\nok,fine\nbad,\xff\xfe here\n")
    with pytest.raises(InputError) as e:
        rows_of(p)
    assert str(e.value).startswith(f"{p}:3: cannot decode as utf-8 at byte offset 16")


def test_decode_failure_across_block_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_lines, "BLOCK", 5)  # tiny blocks: the bad byte is held over
    p = write(tmp_path / "a.csv", b"q\n\xc3\xa9\nab\xe9\xff\n")
    with pytest.raises(InputError, match=r":3: cannot decode as utf-8 at byte offset 7"):
        rows_of(p)


def test_jsonl_bad_lines_are_rows_with_problems(tmp_path: Path) -> None:
    p = write(tmp_path / "a.jsonl", b'{"a": 1}\n\n{broken\n[1]\n{"a": 2}\n')
    columns, rows = rows_of(p)
    assert columns == ["a"]
    assert [(r.row, r.line, r.problem) for r in rows] == [
        (1, 1, None), (2, 3, "bad_json"), (3, 4, "not_an_object"), (4, 5, None),
    ]


def test_json_array_is_streamed_with_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_lines, "BLOCK", 8)  # force many refills mid-value
    refills = []
    more = json_array._JsonStream._more
    monkeypatch.setattr(json_array._JsonStream, "_more",
                        lambda self, *a: refills.append(1) or more(self, *a))
    # pretty-printed: every element spans several lines, so 8-character blocks cut values
    text = '[\n {\n  "a": "x",\n  "n": 12345678\n },\n {\n  "a": "y\\nz",\n  "n": 2.5\n }\n]\n'
    columns, rows = rows_of(write(tmp_path / "a.json", text.encode()))
    assert len(refills) >= 4  # the window really slid through the values (1 when unbounded)
    assert columns == ["a", "n"]
    assert [(r.line, r.values) for r in rows] == [
        (2, {"a": "x", "n": 12345678}),
        (6, {"a": "y\nz", "n": 2.5}),
    ]


def test_json_concatenated_objects(tmp_path: Path) -> None:
    _, rows = rows_of(write(tmp_path / "a.json", b'{"a": 1}\n{"a": 2}\n'))
    assert [r.values["a"] for r in rows] == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 1} {"a": 2}]', "expected ',' or ']'"),
        ('[{"a": 1},', "unterminated JSON array"),
        ('[{"a": }]', "invalid JSON"),
        ('"just a string"', "expected a JSON array"),
    ],
)
def test_json_array_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rows_of(write(tmp_path / "a.json", text.encode()))


def test_parquet_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(parquet, "BATCH_ROWS", 2)
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"n": [1, 2, None, 4, 5], "t": ["a", "b", "c", None, "e"]}), p)
    columns, rows = rows_of(p)
    assert columns == ["n", "t"]
    assert [r.row for r in rows] == [1, 2, 3, 4, 5] and rows[0].line is None
    assert rows[2].values == {"n": None, "t": "c"} and rows[0].values["n"] == 1


def test_xlsx(tmp_path: Path) -> None:
    import datetime

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["question", "answer", "when"])
    ws.append(["What is 2+1?", 3, datetime.date(2026, 1, 2)])
    ws.append([None, None, None])
    ws.append(["Pi?", 3.14, None])
    ws.append(["extra", "x", "y", "z"])
    p = tmp_path / "a.xlsx"
    wb.save(p)
    columns, rows = rows_of(p)
    assert columns == ["question", "answer", "when"]
    when = "2026-01-02T00:00:00"
    assert rows[0].values == {"question": "What is 2+1?", "answer": 3, "when": when}
    assert [r.line for r in rows] == [2, 4, 5]  # sheet rows; the empty row is skipped
    assert rows[2].problem == "ragged_row"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty file"),
        ("blank.jsonl", b"\n\n", "empty file"),
        ("allbad.jsonl", b"{bad\n[1]\n", "no readable record in the first 2 \\(bad_json"),
        ("dup.csv", b"a,a\n1,2\n", "duplicate column name 'a'"),
        ("noname.csv", b"a,,b\n1,2,3\n", "header column 2 has no name"),
        ("garbage.parquet", b"\x00\x01not parquet", "cannot read Parquet"),
        ("garbage.xlsx", b"PK\x03\x04garbage", "cannot read XLSX"),
        ("garbage.csv.gz", b"\x1f\x8bnot really gzip", "read failed"),
    ],
)
def test_malformed_inputs_are_one_line_errors(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message) as e:
        rows_of(write(tmp_path / name, data))
    assert "\n" not in str(e.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        rows_of(tmp_path / "nope.csv")
    (tmp_path / "d.parquet").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        rows_of(tmp_path / "d.parquet")


def test_format_selection(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--input-format"):
        detect_input_format("data.txt")
    p = write(tmp_path / "data.txt", b"a,b\n1,2\n")
    assert rows_of(p, input_format="csv")[0] == ["a", "b"]
    with pytest.raises(UsageError, match="unknown encoding"):
        rows_of(p, input_format="csv", encoding="klingon")
    with pytest.raises(UsageError, match="text formats only"):
        open_table(tmp_path / "x.parquet", encoding="latin-1")


@pytest.mark.parametrize("block", [1, 2, 3, 1 << 16])
def test_cr_only_and_mixed_line_ends_are_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(text_lines, "BLOCK", block)  # CRLF split across blocks stays one end
    p = write(tmp_path / "a.csv", b'q,a\rhi,"two\r\nlines"\r\nx,y\ru,v')
    columns, rows = rows_of(p)
    assert columns == ["q", "a"]
    assert [(r.row, r.line, r.values) for r in rows] == [
        (1, 2, {"q": "hi", "a": "two\r\nlines"}),
        (2, 4, {"q": "x", "a": "y"}),
        (3, 5, {"q": "u", "a": "v"}),
    ]
    j = write(tmp_path / "a.jsonl", b'{"q": 1}\r{"q": 2}\r\n{"q": 3}\r')
    assert [(r.line, r.values, r.problem) for r in rows_of(j)[1]] == [
        (1, {"q": 1}, None), (2, {"q": 2}, None), (3, {"q": 3}, None)]


def test_csv_cell_larger_than_csv_default_limit(tmp_path: Path) -> None:
    big = "x" * 300_000
    p = write(tmp_path / "a.csv", f'q,a\nhi,"{big}"\nq2,a2\n'.encode())
    assert [r.values["a"] for r in rows_of(p)[1]] == [big, "a2"]


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r\n"])
def test_unclosed_quote_at_end_is_an_error_not_a_glued_row(tmp_path: Path, tail: bytes) -> None:
    p = write(tmp_path / "a.csv", b'q,a\nok,fine\nhello,"unclosed\nfoo,bar' + tail)
    with pytest.raises(InputError, match="never closed") as e:
        rows_of(p)
    assert e.value.line == 3
    # A closed quoted field on the very last line, without a line end, is fine.
    closed = write(tmp_path / "b.csv", b'q,a\nhello,"two\nlines"')
    assert [r.values["a"] for r in rows_of(closed)[1]] == ["two\nlines"]


def test_one_long_line_is_split_in_linear_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only new text is searched for line ends: 1 MB in 64-byte blocks is 16,384 blocks, which
    re-scanning the pending text would turn into ~8 G character visits."""
    monkeypatch.setattr(text_lines, "BLOCK", 64)
    p = write(tmp_path / "a.csv", b"x" * (1 << 20) + b"\r\n")
    lines = list(readers.iter_text_lines(str(p), universal=True))
    assert [(n, len(t)) for n, t in lines] == [(1, (1 << 20) + 2)]


def test_non_object_elements_are_named_with_json_types(tmp_path: Path) -> None:
    p = write(tmp_path / "a.json", b'[{"q": 1}, 5, 1.5, "s", null, true, [1]]')
    details = [r.detail for r in rows_of(p)[1] if r.problem == "not_an_object"]
    assert details == ["a JSON number", "a JSON number", "a JSON string", "a JSON null",
                       "a JSON boolean", "a JSON array"]


def test_utf16_without_bom_hints_at_the_encoding(tmp_path: Path) -> None:
    p = write(tmp_path / "a.jsonl", '{"prompt": "p", "completion": "c"}\n'.encode("utf-16-le"))
    with pytest.raises(InputError, match="UTF-16\\? pass --encoding"):
        rows_of(p)
    assert rows_of(p, encoding="utf-16-le")[1][0].values == {"prompt": "p", "completion": "c"}


def test_parquet_float32_values_are_the_numbers_the_table_holds(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = [0.1, 2.5, None, float("nan"), 3.4028234663852886e38, -1e-7, 16777217.0]
    table = pa.table({"f": pa.array(values, type=pa.float32()),
                      "h": pa.array([0.1, 1.0, None, 2.0, 3.0, 4.0, 5.0], type=pa.float16()),
                      "d": pa.array([0.1] * 7, type=pa.float64())})
    pq.write_table(table, tmp_path / "f.parquet")
    rows = rows_of(tmp_path / "f.parquet")[1]
    got = [r.values["f"] for r in rows]
    assert got[:3] == [0.1, 2.5, None] and got[3] != got[3]  # NaN stays NaN
    assert got[4:] == [3.4028235e38, -1e-7, 16777216.0]  # float32 max; 2**24 + 1 rounds
    assert [r.values["h"] for r in rows][:2] == [0.1, 1.0]
    assert {r.values["d"] for r in rows} == {0.1}


def test_xlsx_table_drawn_away_from_a1(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B3"], ws["C3"] = "q", "a"
    ws["B4"], ws["C4"] = "hi", "yo"
    ws["B6"], ws["C6"], ws["D6"] = "x", "y", "z"
    wb.save(tmp_path / "a.xlsx")
    columns, rows = rows_of(tmp_path / "a.xlsx")
    assert columns == ["q", "a"]
    assert [(r.row, r.line, r.values, r.problem) for r in rows] == [
        (1, 4, {"q": "hi", "a": "yo"}, None),
        (2, 6, {"q": "x", "a": "y", "_extra": ["z"]}, "ragged_row"),
    ]
    ws["A7"], ws["B7"], ws["C7"] = "stray", "q2", "a2"  # left of the header: no column name
    wb.save(tmp_path / "b.xlsx")
    with pytest.raises(InputError, match="left of the header's first column \\(B\\)") as e:
        rows_of(tmp_path / "b.xlsx")
    assert e.value.line == 7


def test_parquet_duplicate_column_names_are_an_error_not_last_wins(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(["q1"]), pa.array(["a1"]), pa.array(["A1"])]
    pq.write_table(pa.Table.from_arrays(arrays, names=["q", "a", "a"]), tmp_path / "d.parquet")
    with pytest.raises(InputError, match="duplicate column name 'a'"):
        rows_of(tmp_path / "d.parquet")


def test_repeated_json_keys_are_a_problem_row_not_last_wins(tmp_path: Path) -> None:
    j = write(tmp_path / "a.jsonl",
              b'{"prompt": "p", "completion": "c"}\n{"prompt": "a", "prompt": "b"}\n'
              b'{"m": [{"role": "user", "role": "x"}]}\n')
    rows = rows_of(j)[1]
    assert [(r.line, r.problem) for r in rows] == [(1, None), (2, "duplicate_key"),
                                                   (3, "duplicate_key")]
    assert rows[1].values == {"_raw": '{"prompt": "a", "prompt": "b"}'}  # both values kept
    assert "'prompt' appears more than once" in rows[1].detail
    a = write(tmp_path / "a.json", b'[{"q": 1}, {"q": 2, "q": 3}, {"q": 4}]')
    assert [(r.values, r.problem) for r in rows_of(a)[1]] == [
        ({"q": 1}, None), ({"_raw": {"q": 3}}, "duplicate_key"), ({"q": 4}, None)]


def test_xlsx_with_a_wrong_declared_dimension_keeps_every_column(tmp_path: Path) -> None:
    import re
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["q", "a"])
    wb.active.append(["hi", "yo"])
    wb.save(tmp_path / "good.xlsx")
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(tmp_path / "good.xlsx") as zin, \
            zipfile.ZipFile(tmp_path / "bad.xlsx", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == sheet:  # some writers declare "A1" whatever the content
                data = re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1"/>', data)
                assert b'<dimension ref="A1"/>' in data
            zout.writestr(item, data)
    columns, rows = rows_of(tmp_path / "bad.xlsx")
    assert columns == ["q", "a"]
    assert [(r.line, r.values) for r in rows] == [(2, {"q": "hi", "a": "yo"})]
