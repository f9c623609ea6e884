"""`ftprep convert` through click, plus one run of the installed script."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ftprep.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
FTPREP = str(Path(sys.executable).with_name("ftprep"))
QA_ARGS = ["--user-template", r"Q: {question}\nContext: {context}", "--assistant", "answer"]


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(main, ["convert", *map(str, args)])


def jsonl(path: Path) -> list[Any]:
    # split on "\n" only: str.splitlines() would also break inside content at U+0085 etc.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def assert_one_line_error(r: Result, code: int, text: str) -> None:
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ftprep: error: "), r.stderr
    assert text in lines[0]
    assert "Traceback" not in r.output


def test_qa_sample_exit_1_with_reconciled_summary(tmp_path: Path) -> None:
    out = tmp_path / "qa.jsonl"
    r = invoke(SAMPLES / "qa.csv", "-o", out, *QA_ARGS, "--system-prompt", "Use the context.")
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("read 30, wrote 28, rejected 2 (table → chat)")
    assert f"rejects: {tmp_path / 'qa.rejects.jsonl'} (empty 2)" in r.stdout
    first = jsonl(out)[0]["messages"]
    assert first[1]["content"] == (  # the CLI turned the two characters \n into a newline
        "Q: How do I export all my notes?\nContext: Settings > Data has Export."
    )
    assert len(jsonl(tmp_path / "qa.rejects.jsonl")) == 2


def test_exit_0_and_utf8_without_escapes(tmp_path: Path) -> None:
    out = tmp_path / "zh.jsonl"
    r = invoke(SAMPLES / "chinese_gb18030.csv", "-o", out, "--encoding", "gb18030",
               "--user", "问题", "--assistant", "回答")
    assert r.exit_code == 0, r.output
    assert "如何导出笔记？" in out.read_text(encoding="utf-8")  # not \\u-escaped
    assert not (tmp_path / "zh.rejects.jsonl").exists()


def test_decode_error_is_one_line_exit_2(tmp_path: Path) -> None:
    r = invoke(SAMPLES / "chinese_gb18030.csv", "-o", tmp_path / "o.jsonl",
               "--user", "问题", "--assistant", "回答")
    assert_one_line_error(r, 2, "chinese_gb18030.csv:1: cannot decode as utf-8 at byte offset 0")
    assert not (tmp_path / "o.jsonl").exists()


def test_format_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    r = invoke(SAMPLES / "support.jsonl", "-o", out, "--format", "json")
    assert r.exit_code == 1
    summary = json.loads(r.stdout)
    assert summary == {
        "input": str(SAMPLES / "support.jsonl"), "output": str(out),
        "rejects": str(tmp_path / "s.rejects.jsonl"),
        "read": 6, "written": 5, "rejected": 1, "reasons": {"missing": 1},
        "format_from": "alpaca", "format_to": "chat", "rows": 6, "unit": "row",
        "dropped_turns": 0, "unknown_speakers": {}, "warnings": [], "lines": None,
        "redacted": {}, "unused_columns": ["ticket_id", "priority"],
    }


def test_columns_no_option_reads_are_named_not_dropped_unsaid(tmp_path: Path) -> None:
    # `id` and `notes` end up in no record: the summary names them (neutralised) and the
    # way to keep them; a template or --metadata that reads a column takes it off the list.
    src = tmp_path / "t.csv"
    src.write_text("id,question,answer,notes\x1b\n1,hi,hello,x\n", encoding="utf-8")
    plain = invoke(src, "-o", tmp_path / "a.jsonl", "--user", "question", "--assistant", "answer")
    assert plain.exit_code == 0, plain.output
    assert ("note: columns in no record: 'id', 'notes\\x1b' (--metadata COLUMN keeps one in "
            "each record's metadata)") in plain.output
    kept = invoke(src, "-o", tmp_path / "b.jsonl", "--user-template", "{id}: {question}",
                  "--assistant", "answer", "--metadata", "notes\x1b", "--format", "json")
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["unused_columns"] == []
    turns = tmp_path / "turns.csv"
    turns.write_text("conv,turn,who,text,score\nc1,1,user,hi,3\nc1,2,assistant,yo,4\n")
    grouped = invoke(turns, "-o", tmp_path / "c.jsonl", "--group-by", "conv", "--order-by",
                     "turn", "--role-column", "who", "--content-column", "text",
                     "--format", "json")
    assert grouped.exit_code == 0, grouped.output
    assert json.loads(grouped.stdout)["unused_columns"] == ["score"]
    alpaca = invoke(SAMPLES / "support.jsonl", "-o", tmp_path / "d.jsonl", "--format", "json")
    # Alpaca keys the format does not read are named too; --metadata takes one off the list.
    assert json.loads(alpaca.stdout)["unused_columns"] == ["ticket_id", "priority"]
    kept = invoke(SAMPLES / "support.jsonl", "-o", tmp_path / "e.jsonl", "--metadata",
                  "priority", "--format", "json")
    assert json.loads(kept.stdout)["unused_columns"] == ["ticket_id"]


def test_stdout_output_sends_summary_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = invoke(SAMPLES / "sharegpt.json", "-o", "-", "--format", "json")
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(records) == 3 and all("messages" in rec for rec in records)
    assert json.loads(r.stderr)["written"] == 3
    r = invoke(SAMPLES / "sharegpt.json", "-o", "-")
    assert r.stderr.startswith("read 3, wrote 3, rejected 0")


def test_system_file_and_to_completion(tmp_path: Path) -> None:
    system = tmp_path / "system.txt"
    system.write_text("You are terse.\n", encoding="utf-8")
    src = tmp_path / "t.tsv"
    src.write_text("q\ta\nHi?\tHello.\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--system-file", system)
    assert r.exit_code == 0, r.output
    assert jsonl(out)[0]["messages"][0] == {"role": "system", "content": "You are terse."}
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--to", "completion")
    assert r.exit_code == 0 and jsonl(out) == [{"prompt": "Hi?", "completion": "Hello."}]
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--to", "completion",
               "--system-file", system)
    assert_one_line_error(r, 2, "no system message")


def test_multi_turn_cli(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    r = invoke(SAMPLES / "conversations_flat.csv", "-o", out, "--group-by", "conversation_id",
               "--order-by", "turn", "--role-column", "speaker", "--content-column", "text",
               "--role-map", "human=user,bot=assistant")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("read 4 conversations (from 23 rows), wrote 4, rejected 0")
    c102 = next(x for x in jsonl(out) if x["messages"][0]["content"].startswith("I was charged"))
    assert c102["messages"][-1] == {"role": "assistant", "content": "Bye!"}  # turn 11 last


def test_bad_role_map(tmp_path: Path) -> None:
    r = invoke(SAMPLES / "conversations_flat.csv", "-o", tmp_path / "o.jsonl",
               "--group-by", "conversation_id", "--role-column", "speaker",
               "--content-column", "text", "--role-map", "human=boss")
    assert_one_line_error(r, 2, "--role-map: bad entry 'human=boss'")


def test_xlsx_cli(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["instruction", "input", "output"])
    wb.active.append(["Add", "2 and 1", 3])
    src = tmp_path / "a.xlsx"
    wb.save(src)
    out = tmp_path / "o.jsonl"
    r = invoke(src, "-o", out)
    assert r.exit_code == 0, r.output
    assert jsonl(out)[0]["messages"] == [{"role": "user", "content": "Add\n\n2 and 1"},
                                        {"role": "assistant", "content": "3"}]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty file"),
        ("header.csv", b"q,a\n", "no rows to convert"),
        ("garbage.csv", bytes(range(256)) * 4, "cannot decode as utf-8"),
        ("garbage.parquet", b"\x89PNG\r\n\x1a\n" * 10, "cannot read Parquet"),
        ("garbage.jsonl.gz", b"\x1f\x8b\x08\x00junk", "read failed"),
        ("array.json", b'[{"q": "a", "a": "b"}', "found end of file"),
    ],
)
def test_malformed_input_is_one_line_exit_2(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "o.jsonl"
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a")
    assert_one_line_error(r, 2, message)
    assert not out.exists()


def test_missing_file_directory_and_unknown_extension(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    assert_one_line_error(invoke(tmp_path / "nope.csv", "-o", out, "--user", "q",
                                 "--assistant", "a"), 2, "no such file")
    (tmp_path / "dir.csv").mkdir()
    assert_one_line_error(invoke(tmp_path / "dir.csv", "-o", out, "--user", "q",
                                 "--assistant", "a"), 2, "is a directory")
    (tmp_path / "data.txt").write_text("q,a\n1,2\n")
    assert_one_line_error(invoke(tmp_path / "data.txt", "-o", out), 2, "--input-format")
    r = invoke(tmp_path / "data.txt", "-o", out, "--input-format", "csv", "--user", "q",
               "--assistant", "a")
    assert r.exit_code == 0 and jsonl(out)[0]["messages"][1]["content"] == "2"


def test_ragged_rows_are_reconciled_rejects(tmp_path: Path) -> None:
    src = tmp_path / "r.csv"
    src.write_text('q,a\n1,2\n3,4,5\n6\n"7","8"\n')
    r = invoke(src, "-o", tmp_path / "o.jsonl", "--user", "q", "--assistant", "a",
               "--format", "json")
    summary = json.loads(r.stdout)
    assert r.exit_code == 1
    assert (summary["read"], summary["written"], summary["rejected"]) == (4, 2, 2)
    assert summary["reasons"] == {"ragged_row": 2}
    assert [(r["line"], r["field"]) for r in jsonl(tmp_path / "o.rejects.jsonl")] == [
        (3, "column 3"), (4, "a")]


def test_installed_script(tmp_path: Path) -> None:
    out = tmp_path / "qa.jsonl"
    proc = subprocess.run(
        [FTPREP, "convert", str(SAMPLES / "qa.parquet"), "-o", str(out), "--user", "question",
         "--assistant", "answer", "--system", "context", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["read"], summary["written"], summary["rejected"]) == (20, 19, 1)
    assert summary["reasons"] == {"missing": 1}
    assert len(jsonl(out)) == 19 and "None" not in out.read_text()
    reject = jsonl(tmp_path / "qa.rejects.jsonl")[0]
    assert (reject["row"], reject["line"], reject["field"]) == (10, None, "answer")


def test_token_limit_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ftprep.overflow belongs to another area; a stand-in records how convert calls it."""
    import types

    calls: list[tuple[int, str, str]] = []

    def fit_to_limit(record: dict, *, limit: int, encoding: Any, policy: str) -> tuple:
        calls.append((limit, encoding.name, policy))
        long = len(encoding.encode(record["messages"][-1]["content"])) > 3
        return (None, "too_many_tokens") if long and policy == "drop" else (record, None)

    monkeypatch.setitem(sys.modules, "ftprep.overflow",
                        types.SimpleNamespace(fit_to_limit=fit_to_limit))
    src = tmp_path / "t.csv"
    src.write_text("q,a\nHi?,Yes.\nWhy?,Because the sky scatters blue light more.\n")
    out = tmp_path / "o.jsonl"
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--max-tokens", "7",
               "--on-overflow", "drop", "--format", "json")
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout)["reasons"] == {"too_many_tokens": 1}
    assert calls == [(7, "o200k_base", "drop")] * 2
    assert jsonl(tmp_path / "o.rejects.jsonl")[0]["line"] == 3
    calls.clear()
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--model", "gpt-4.1-mini")
    assert r.exit_code == 0 and calls[0][0] > 1000 and calls[0][2] == "keep"
    r = invoke(src, "-o", out, "--user", "q", "--assistant", "a", "--on-overflow", "drop")
    assert_one_line_error(r, 2, "--on-overflow needs a limit")


def test_a_clean_rerun_removes_the_stale_rejects_file(tmp_path: Path) -> None:
    src = tmp_path / "qa.csv"
    src.write_text("q,a\nhello,world\nempty,\n", encoding="utf-8")
    out = tmp_path / "qa.jsonl"
    first = invoke(src, "-o", out, "--user", "q", "--assistant", "a")
    assert first.exit_code == 1 and len(jsonl(tmp_path / "qa.rejects.jsonl")) == 1
    src.write_text("q,a\nhello,world\nfixed,now\n", encoding="utf-8")  # the user fixed the data
    second = invoke(src, "-o", out, "--user", "q", "--assistant", "a")
    assert second.exit_code == 0, second.output
    assert not (tmp_path / "qa.rejects.jsonl").exists()  # no leftover from the first run
    assert len(jsonl(out)) == 2
