"""JSON and JSONL have no header: a key that a convert column option names (--user,
--assistant, --system, a template's placeholder, --group-by/--order-by/--role-column/
--content-column, --prompt/--chosen/--rejected, --metadata) may first appear in any record.
A record without it has a missing cell there, as a CSV row with an empty one; a key no record
holds is a one-line usage error once the file is read, with nothing written. Formats with a
header keep refusing an unknown column before reading."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.convert import ConvertOptions, plan_conversion

FTPREP = str(Path(sys.executable).with_name("ftprep"))


def _write(tmp_path: Path, name: str, records: list[dict[str, object]]) -> Path:
    """The records as JSONL (`x.jsonl`) or as an indented JSON array (`x.json`)."""
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    else:
        path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


def _convert(src: Path, *args: str) -> tuple[int, dict, list[dict], list[dict]]:
    out = src.with_suffix(".out.jsonl")
    r = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), *args, "--format", "json"])
    assert r.exit_code in (0, 1), r.output
    summary = json.loads(r.output)
    assert summary["read"] == summary["written"] + summary["rejected"]
    written = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    rejects = ([json.loads(x) for x in Path(summary["rejects"]).read_text().splitlines()]
               if summary["rejects"] else [])
    return r.exit_code, summary, written, rejects


QA = [{"q": "Where is my order?", "a": "It ships today."},
      {"q": "Refund?", "a": "Done.", "sys": "Be brief.", "ctx": "VIP"}]


@pytest.mark.parametrize("name", ["in.jsonl", "in.json"])
def test_table_options_read_a_key_first_seen_in_a_later_record(tmp_path: Path, name: str) -> None:
    src = _write(tmp_path, name, QA)
    # --system: the first record lacks the key, a missing cell (as an empty CSV cell is).
    code, summary, written, rejects = _convert(src, "--user", "q", "--assistant", "a",
                                               "--system", "sys")
    assert (code, summary["written"], summary["reasons"]) == (1, 1, {"missing": 1})
    assert written[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [(x["row"], x["field"], x["reason"]) for x in rejects] == [(1, "sys", "missing")]
    # A template's placeholder: the same.
    code, summary, written, rejects = _convert(src, "--user-template", "{q} ({ctx})",
                                               "--assistant", "a")
    assert written[0]["messages"][0]["content"] == "Refund? (VIP)"
    assert [(x["row"], x["field"], x["reason"]) for x in rejects] == [(1, "ctx", "missing")]


def test_group_and_preference_options_read_a_later_key(tmp_path: Path) -> None:
    turns = _write(tmp_path, "turns.jsonl", [
        {"cid": 1, "who": "user", "text": "hi"},  # no `turn`: the conversation is rejected
        {"cid": 1, "who": "assistant", "text": "hello", "turn": 2},
        {"cid": 2, "who": "assistant", "text": "fine", "turn": 2},
        {"cid": 2, "who": "user", "text": "how are you?", "turn": 1},
        {"who": "user", "text": "orphan", "turn": 1},  # no `cid`: rejected alone
    ])
    code, summary, written, rejects = _convert(
        turns, "--group-by", "cid", "--role-column", "who", "--content-column", "text",
        "--order-by", "turn")
    assert (summary["rows"], summary["written"], summary["reasons"]) == (5, 1, {"missing": 2})
    assert [m["content"] for m in written[0]["messages"]] == ["how are you?", "fine"]
    assert [(x["line"], x["field"]) for x in rejects] == [(1, "turn"), (5, "cid")]

    pairs = _write(tmp_path, "pairs.jsonl", [
        {"id": 1}, {"id": 2, "q": "Capital of France?", "good": "Paris", "bad": "Lyon"}])
    code, summary, written, rejects = _convert(pairs, "--prompt", "q", "--chosen", "good",
                                               "--rejected", "bad")
    assert (code, summary["written"], summary["reasons"]) == (1, 1, {"missing": 1})
    assert [(x["row"], x["reason"]) for x in rejects] == [(1, "missing")]
    assert written[0]["preferred_output"] == [{"role": "assistant", "content": "Paris"}]


def test_the_plan_lists_the_keys_to_find_later(tmp_path: Path) -> None:
    src = _write(tmp_path, "in.jsonl", QA)
    plan = plan_conversion(src, ConvertOptions(user="q", assistant="a", system_template="{sys}",
                                               metadata=("ctx", "q")))
    assert plan.late_keys == {"system_template": ("sys",), "metadata": ("ctx",)}
    assert plan_conversion(src, ConvertOptions(user="q", assistant="a")).late_keys == {}


def test_a_key_in_no_record_is_a_usage_error_after_the_pass_and_writes_nothing(
        tmp_path: Path) -> None:
    src = _write(tmp_path, "in.jsonl", QA)
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--user-template",
                        "{q} {context}", "--assistant", "a"],
                       capture_output=True, text=True, check=False, timeout=60)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("ftprep: error: --user-template: no record has the key 'context' (keys "
                        "of the first record: q, a)\n")
    assert not out.exists() and not (tmp_path / "out.rejects.jsonl").exists()
    for args in (["--user", "q", "--assistant", "answer"],
                 ["--group-by", "q", "--role-column", "a", "--content-column", "text"],
                 ["--prompt", "q", "--chosen", "a"]):
        r2 = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), *args])
        assert r2.exit_code == 2 and "no record has the key" in r2.output, (args, r2.output)
        assert r2.output.count("\n") == 1 and not out.exists()


def test_header_formats_still_refuse_an_unknown_column_before_reading(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("q,a\nWhere?,Here.\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["convert", str(src), "-o", str(tmp_path / "o.jsonl"),
                                  "--user", "q", "--assistant", "a", "--system", "sys"])
    assert r.exit_code == 2
    assert "--system: unknown column 'sys' (available columns: q, a)" in r.output
    plan = plan_conversion(src, ConvertOptions(user="q", assistant="a"))
    assert plan.late_keys == {}


@pytest.mark.parametrize("name", ["in.jsonl", "in.json"])
def test_a_key_with_spaces_matches_in_every_record(tmp_path: Path, name: str) -> None:
    # A column matched with spaces trimmed was matched against the first record's keys
    # only: a later `"a "` was a missing cell, or "no record has the key" (exit 2) when no
    # record had `a` itself. Now each record is matched so, and it is said once per option.
    src = _write(tmp_path, name, [
        {"q": "Hi", "a": "Hello"}, {"q": "Refund?", "a ": "Done.", " sys": "Be brief."},
        {"q ": "Late?", "a": "No.", "sys": "Be kind."}])
    code, summary, written, rejects = _convert(src, "--user", "q", "--assistant", "a",
                                               "--system", "sys")
    assert (code, summary["written"], summary["reasons"]) == (1, 2, {"missing": 1})
    assert [[m["content"] for m in r["messages"]] for r in written] == [
        ["Be brief.", "Refund?", "Done."], ["Be kind.", "Late?", "No."]]
    assert [(x["row"], x["field"]) for x in rejects] == [(1, "sys")]
    assert summary["warnings"] == [
        "assistant='a' matched the key 'a ' (spaces trimmed), first in row 2",
        "system='sys' matched the key ' sys' (spaces trimmed), first in row 2",
        "user='q' matched the key 'q ' (spaces trimmed), first in row 3"]
    # Templates, a multi-turn table and a preference table alike.
    code, summary, written, _ = _convert(src, "--user-template", "{q}", "--assistant", "a")
    assert [r["messages"][0]["content"] for r in written] == ["Hi", "Refund?", "Late?"]
    turns = _write(tmp_path, "turns.jsonl", [
        {"cid": 1, "who": "user", "text": "hi"}, {"cid": 1, "who ": "assistant", "text": "yo"}])
    code, summary, written, _ = _convert(turns, "--group-by", "cid", "--role-column", "who",
                                         "--content-column", "text")
    assert (code, [m["role"] for m in written[0]["messages"]]) == (0, ["user", "assistant"])
    pairs = _write(tmp_path, "pairs.jsonl", [{"id": 1}, {"q": "Capital?", " good": "Paris",
                                                        "bad": "Lyon"}])
    code, summary, written, rejects = _convert(pairs, "--prompt", "q", "--chosen", "good",
                                               "--rejected", "bad")
    assert written[0]["preferred_output"][0]["content"] == "Paris"
    assert [(x["row"], x["field"]) for x in rejects] == [(1, "q")]


def test_installed_convert_finds_a_late_key_with_spaces(tmp_path: Path) -> None:
    src = _write(tmp_path, "in.jsonl", [{"q": "Hi"}, {"q": "Refund?", "answer ": "Done."}])
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--user", "q",
                        "--assistant", "answer"], capture_output=True, text=True, check=False,
                       timeout=60)
    assert r.returncode == 1, r.stderr  # row 1 has no answer: a reject, not a usage error
    assert r.stdout.splitlines() == [
        f"read 2, wrote 1, rejected 1 (table → chat) → {out}",
        f"rejects: {tmp_path / 'out.rejects.jsonl'} (missing 1)",
        "warning: assistant='answer' matched the key 'answer ' (spaces trimmed), first in row 2"]
    assert json.loads(out.read_text())["messages"][1] == {"role": "assistant", "content": "Done."}
