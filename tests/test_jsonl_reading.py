"""One reading of a JSONL file, one verdict in every command (ftprep/io/jsonl.py): bare CR line
ends, UTF-16/32 files, lone surrogates, non-objects; plus how values and CSV limits are worded."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.io.readers import delimited


def chat(i: int) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                    {"role": "assistant", "content": f"a{i}"}]})


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def issues(path: Path) -> list[dict]:
    _, out = cli("validate", str(path), "--format", "json", "--ignore", "FT107")
    return json.loads(out)["issues"]


def same_words_in_count_and_split(path: Path, line: int, detail: str, tmp_path: Path) -> None:
    for args in (["count", str(path), "-m", "gpt-4o-mini"],
                 ["split", str(path), "-o", str(tmp_path / "out")]):
        code, out = cli(*args)
        assert code == 2 and f"{path.name}:{line}: {detail}" in out, (args, out)
        assert out.count("\n") == 1  # one line, no traceback


def test_bare_cr_line_ends_are_named_everywhere_and_convert_rewrites_them(tmp_path: Path) -> None:
    path = tmp_path / "cr.jsonl"
    path.write_bytes("\r".join(chat(i) for i in range(3)).encode() + b"\r")
    [issue] = issues(path)
    assert (issue["code"], issue["line"]) == ("FT101", 1)
    assert issue["message"].startswith("bare CR (\\r) line ends: 3 lines run together here")
    same_words_in_count_and_split(path, 1, issue["message"], tmp_path)
    code, out = cli("convert", str(path), "-o", str(tmp_path / "fixed.jsonl"))
    assert code == 0 and "read 3, wrote 3" in out
    assert issues(tmp_path / "fixed.jsonl") == []


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"),
                                                 ("utf-32", "UTF-32")])
def test_utf16_and_utf32_files_are_named_once(tmp_path: Path, encoding: str, name: str) -> None:
    path = tmp_path / "wide.jsonl"
    text = "".join(chat(i) + "\n" for i in range(3))
    bom = "\ufeff" if encoding.endswith("-be") else ""  # utf-16 and utf-32 write their own
    path.write_bytes((bom + text).encode(encoding))
    [issue] = issues(path)  # one finding, not one per garbled line
    assert (issue["code"], issue["line"]) == ("FT104", 1)
    assert issue["message"].startswith(f"the file is {name} (it starts with a {name} byte-order")
    same_words_in_count_and_split(path, 1, issue["message"], tmp_path)


def test_lone_surrogate_is_rejected_by_convert_as_validate_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(chat(0) + '\n{"messages": [{"role": "user", "content": "\\ud83d"}, '
                    '{"role": "assistant", "content": "a"}]}\n', encoding="utf-8")
    assert [(i["code"], i["line"]) for i in issues(path)] == [("FT104", 2)]
    code, out = cli("convert", str(path), "-o", str(tmp_path / "o.jsonl"))
    assert code == 1 and "rejected 1" in out  # convert: unencodable_text, the same line


def test_non_objects_are_worded_in_json_terms(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text(chat(0) + "\n[1, 2]\n", encoding="utf-8")
    [issue] = issues(path)
    assert (issue["code"], issue["message"]) == ("FT102", "expected a JSON object, got an array")
    same_words_in_count_and_split(path, 2, issue["message"], tmp_path)


@pytest.mark.parametrize(("weight", "shown"), [("null", "not null"), ("true", "not true"),
                                               ("2", "not 2"), ('"1"', "not '1'")])
def test_values_are_shown_in_json_spelling(tmp_path: Path, weight: str, shown: str) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
                    f'"content": "a", "weight": {weight}}}]}}\n', encoding="utf-8")
    [issue] = issues(path)
    assert issue["code"] == "FT303" and issue["message"] == f"weight must be 0 or 1, {shown}"


def test_csv_cell_limit_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit is 32 MiB (README, "Limits and memory"); a 1 MiB one keeps the test fast.
    # csv's limit is process-wide and the reader only raises it: lower it here, then restore.
    monkeypatch.setattr(delimited, "CSV_FIELD_LIMIT", 1 << 20)
    previous = csv.field_size_limit(1024)
    try:
        path = tmp_path / "big.csv"
        path.write_text('question,answer\nq,"' + "x" * (2 << 20) + '"\n', encoding="utf-8")
        code, out = cli("convert", str(path), "-o", str(tmp_path / "o.jsonl"),
                        "--user", "question", "--assistant", "answer")
    finally:
        csv.field_size_limit(previous)
    assert code == 2
    assert "big.csv:2: a CSV cell is larger than 1 MiB, the limit for one cell" in out


def test_raw_lines_at_finds_lines_across_chunks_and_stops_at_the_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftprep.io import jsonl

    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(f"{chat(i)}\r\n".encode() for i in range(1, 201)))
    real = jsonl.iter_line_chunks
    read: list[int] = []

    def small_chunks(p: Path, size: int = 1 << 20):  # type: ignore[no-untyped-def]
        for first, chunk in real(p, 4096):  # many chunks: lines fall on both sides of cuts
            read.append(first)
            yield first, chunk

    monkeypatch.setattr(jsonl, "iter_line_chunks", small_chunks)
    found = jsonl.raw_lines_at(path, [150, 1, 77, 77, 0])
    assert found == {n: chat(n).encode() for n in (1, 77, 150)}  # BOM and CR dropped
    assert max(read) < 150 < max(read) + 60  # stopped at the chunk holding line 150
    read.clear()
    assert jsonl.raw_lines_at(path, [200, 201]) == {200: chat(200).encode()}  # 201: past the end
    assert jsonl.raw_lines_at(path, []) == {} and max(read) > 150
