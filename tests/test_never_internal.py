"""Inputs and options that used to end in `ftprep: internal error`: each is now one line
naming what is wrong, with exit 2 (usage/input) or a reject (exit 1)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main


def ftprep(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr if result.stderr_bytes is not None else result.output


@pytest.fixture
def table(tmp_path: Path) -> Path:
    p = tmp_path / "t.csv"
    p.write_text("q,a\nhello,world\n")
    return p


@pytest.mark.parametrize("encoding", ["base64", "rot13", "hex", "punycode", "undefined"])
def test_codecs_that_are_not_text_encodings_are_refused(table: Path, encoding: str) -> None:
    code, err = ftprep("convert", str(table), "-o", str(table.with_suffix(".jsonl")),
                       "--user", "q", "--assistant", "a", "--encoding", encoding)
    assert code == 2
    assert err == f"ftprep: error: encoding={encoding!r} is not a text encoding " \
                  "(e.g. utf-8, cp1252, latin-1, utf-16)\n"


@pytest.mark.parametrize(("template", "why"), [
    ("{q:d}", "Unknown format code 'd'"),
    ("{q:{a}}", "nested fields are not supported"),
    ("{q:>100000000000}", "width or precision over 10000"),
    ("{q!x}", "unknown conversion !x"),
])
def test_template_format_specs_that_would_fail_are_refused_up_front(
        table: Path, template: str, why: str) -> None:
    code, err = ftprep("convert", str(table), "-o", str(table.with_suffix(".jsonl")),
                       "--user-template", template, "--assistant", "a")
    assert code == 2
    assert err.startswith(f"ftprep: error: --user-template: {template}: ") and why in err
    assert err.count("\n") == 1


def test_a_format_spec_that_text_accepts_still_works(table: Path) -> None:
    out = table.with_suffix(".jsonl")
    code, _ = ftprep("convert", str(table), "-o", str(out), "--user-template", "[{q:>7}]",
                     "--assistant", "a")
    assert code == 0
    assert '"[  hello]"' in out.read_text()


def test_json_nested_1000_deep_is_one_finding_in_every_command(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"messages":' + "[" * 1000 + "]" * 1000 + "}\n")
    code, err = ftprep("split", str(deep), "-o", str(tmp_path / "out"))
    assert (code, err) == (2, f"ftprep: error: {deep}:1: JSON nested deeper than 250 levels "
                              "(run `ftprep validate` for all problems)\n")
    code, err = ftprep("convert", str(deep), "-o", str(tmp_path / "o.jsonl"))
    assert code == 2 and "nested too deeply" in err and err.count("\n") == 1
    result = CliRunner().invoke(main, ["validate", str(deep), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "nested deeper than 250 levels" in result.stdout
    array = tmp_path / "deep.json"
    array.write_text('[{"q": ' + "[" * 1000 + "]" * 1000 + ', "a": "x"}]')
    code, err = ftprep("convert", str(array), "-o", str(tmp_path / "o.jsonl"),
                       "--user", "q", "--assistant", "a")
    assert (code, err) == (2, f"ftprep: error: {array}:1: invalid JSON: nested too deeply\n")


def test_parquet_nested_binary_used_as_a_field_is_a_reject(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "b.parquet"
    pq.write_table(pa.table({"q": [{"b": b"\xff"}], "l": [[b"\x01"]], "a": ["x"]}), src)
    for column in ("q", "l"):
        out = tmp_path / f"{column}.jsonl"
        code, _ = ftprep("convert", str(src), "-o", str(out), "--user", column,
                         "--assistant", "a")
        assert code == 1
        reject = (tmp_path / f"{column}.rejects.jsonl").read_text()
        assert '"reason":"not_text"' in reject and "binary" in reject


def _xlsx_with_sheet(tmp_path: Path, name: str, edit: object) -> Path:
    import zipfile

    import openpyxl

    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["q", "a"])
    wb.active.append(["hi", 1.5])
    wb.save(plain)
    sheet = "xl/worksheets/sheet1.xml"
    src = tmp_path / name
    with zipfile.ZipFile(plain) as z, zipfile.ZipFile(src, "w") as out:
        for member in z.namelist():
            data = z.read(member)
            out.writestr(member, edit(data) if member == sheet else data)  # type: ignore[operator]
    return src


@pytest.mark.parametrize(("name", "edit", "why"), [
    ("truncated.xlsx", lambda s: s[: len(s) // 2], "ParseError"),
    ("nonnumeric.xlsx", lambda s: s.replace(b"<v>1.5</v>", b"<v>abc</v>"), "'abc'"),
    ("bigref.xlsx", lambda s: s.replace(b'r="B2"', b'r="ZZZZZ9"'), "ZZZZZ"),
])
def test_corrupt_xlsx_is_one_line(tmp_path: Path, name: str, edit: object, why: str) -> None:
    src = _xlsx_with_sheet(tmp_path, name, edit)
    code, err = ftprep("convert", str(src), "-o", str(tmp_path / "o.jsonl"), "--user", "q",
                       "--assistant", "a")
    assert code == 2
    assert err.startswith(f"ftprep: error: {src}: corrupt XLSX: ") and why in err
    assert err.count("\n") == 1
