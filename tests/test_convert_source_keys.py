"""Alpaca's `system` and `history` and ShareGPT's top-level `system` (as LLaMA-Factory
defines them) end up in the record, a malformed one is a reject naming its place, and any
other key of such a record is named in the summary (`unused_columns`), never dropped unsaid."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ftprep.cli import main
from ftprep.convert import ConvertOptions, convert

FTPREP = str(Path(sys.executable).with_name("ftprep"))  # the installed script


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(src: Path, **options: Any) -> tuple[list[Any], list[Any], Any]:
    out = src.with_name(src.stem + ".out.jsonl")
    result = convert(src, out, ConvertOptions(**options))
    rejects = out.with_name(src.stem + ".out.rejects.jsonl")
    assert result.read == result.written + result.rejected
    return jsonl(out), jsonl(rejects) if rejects.exists() else [], result


def roles_and_texts(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record["messages"]]


ALPACA = {"instruction": "ok", "output": "fine"}


def test_alpaca_system_history_and_both(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [
        {**ALPACA, "system": "Be brief."},
        {**ALPACA, "history": [["q0", "a0"], ["q1", "a1"]]},
        {**ALPACA, "system": "Be brief.", "history": [["q0", "a0"]]},
        {**ALPACA, "system": "", "history": []},  # blank: none, as LLaMA-Factory exports them
        {**ALPACA, "system": None, "history": None},
    ])
    records, rejects, result = run(src)
    assert rejects == [] and result.written == 5
    assert [roles_and_texts(r) for r in records] == [
        [("system", "Be brief."), ("user", "ok"), ("assistant", "fine")],
        [("user", "q0"), ("assistant", "a0"), ("user", "q1"), ("assistant", "a1"),
         ("user", "ok"), ("assistant", "fine")],
        [("system", "Be brief."), ("user", "q0"), ("assistant", "a0"), ("user", "ok"),
         ("assistant", "fine")],
        [("user", "ok"), ("assistant", "fine")],
        [("user", "ok"), ("assistant", "fine")],
    ]


def test_a_record_own_system_wins_over_system_prompt(tmp_path: Path) -> None:
    # As for chat records and ShareGPT system turns: --system-prompt is for records without.
    src = write_jsonl(tmp_path / "a.jsonl", [{**ALPACA, "system": "Own."}, ALPACA])
    records, _, _ = run(src, system_prompt="Default.")
    assert [r["messages"][0]["content"] for r in records] == ["Own.", "Default."]
    assert [len(r["messages"]) for r in records] == [3, 3]  # never two system messages
    sg = write_jsonl(tmp_path / "s.jsonl", [
        {"system": "Own.", "conversations": [{"from": "human", "value": "hi"},
                                              {"from": "gpt", "value": "yo"}]}])
    records, _, _ = run(sg, system_prompt="Default.")
    assert roles_and_texts(records[0]) == [("system", "Own."), ("user", "hi"),
                                           ("assistant", "yo")]


def test_malformed_system_or_history_is_a_reject_naming_its_place(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [
        {**ALPACA, "history": [["q0", "a0"], ["q1", "a1"], ["only one"]]},
        {**ALPACA, "history": "q0 a0"},
        {**ALPACA, "history": [["q0", 7]]},
        {**ALPACA, "history": [["q0", " "]]},
        {**ALPACA, "system": 3},
        {**ALPACA, "system": ["Be brief."]},
        {**ALPACA, "history": {"q0": "a0"}},
    ])
    records, rejects, result = run(src)
    assert records == [] and result.rejected == 7
    assert [(r["row"], r["field"], r["reason"]) for r in rejects] == [
        (1, "history[2]", "bad_messages"), (2, "history", "bad_messages"),
        (3, "history[0][1]", "not_text"), (4, "history[0][1]", "empty"),
        (5, "system", "not_text"), (6, "system", "not_text"), (7, "history", "bad_messages")]
    assert rejects[0]["detail"] == "expected a [user, assistant] pair, not ['only one']"


def test_sharegpt_system_and_a_system_turn(tmp_path: Path) -> None:
    turns = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]
    sys_turn = {"from": "system", "value": "Be brief."}
    src = write_jsonl(tmp_path / "s.jsonl", [
        {"system": "Be brief.", "conversations": turns},
        {"system": "Be brief.", "conversations": [sys_turn, *turns]},  # the same: kept once
        {"system": "Be long.", "conversations": [sys_turn, *turns]},  # which one? the user's call
        {"system": "", "conversations": turns},
        {"system": 5, "conversations": turns},
    ])
    records, rejects, _ = run(src)
    assert [roles_and_texts(r)[0] for r in records] == [
        ("system", "Be brief."), ("system", "Be brief."), ("user", "hi")]
    assert [len(r["messages"]) for r in records] == [3, 3, 2]
    assert [(r["row"], r["field"], r["reason"]) for r in rejects] == [
        (3, "system", "system_conflict"), (5, "system", "not_text")]
    assert "conversations[0]" in rejects[0]["detail"]


def test_rejects_on_built_records_name_system_and_history(tmp_path: Path) -> None:
    # 55c26dd's mapping back to the input key, with the messages system/history add.
    src = write_jsonl(tmp_path / "a.jsonl", [
        {**ALPACA, "system": "x <|endoftext|>", "history": [["q0", "a0"]]},
        {**ALPACA, "system": "S", "history": [["q0", "a0"], ["q1 <|endoftext|>", "a1"]]},
        {**ALPACA, "history": [["q0", "a0 <|endoftext|>"]]},
        {**ALPACA, "output": "fine <|endoftext|>", "system": "S", "history": [["q0", "a0"]]},
        {"instruction": "ok <|endoftext|>", "output": "fine", "history": [["q0", "a0"]]},
    ])
    _, rejects, _ = run(src, system_prompt="Default.")
    assert [(r["field"], r["detail"].split("(")[-1]) for r in rejects] == [
        ("system", "messages[0].content)"), ("history[1][0]", "messages[3].content)"),
        ("history[0][1]", "messages[2].content)"), ("output", "messages[4].content)"),
        ("instruction", "messages[3].content)")]
    sg = write_jsonl(tmp_path / "s.jsonl", [
        {"system": "x <|endoftext|>", "conversations": [{"from": "human", "value": "hi"},
                                                         {"from": "gpt", "value": "yo"}]},
        {"system": "S", "conversations": [{"from": "human", "value": "hi"},
                                          {"from": "gpt", "value": "y <|endoftext|>"}]},
    ])
    _, rejects, _ = run(sg)
    assert [r["field"] for r in rejects] == ["system", "conversations[1].value"]


def test_history_token_limit_names_the_longest_turn(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [
        {**ALPACA, "system": "S", "history": [["q0", "word " * 120]]}])
    _, rejects, _ = run(src, max_tokens=50, on_overflow="drop")
    assert rejects[0]["field"] == "history[0][1]" and rejects[0]["reason"] == "too_many_tokens"


def test_unused_keys_are_named_in_the_summary(tmp_path: Path) -> None:
    # `id` in the first record, `category` first in a later one: both named, in order met.
    src = write_jsonl(tmp_path / "a.jsonl", [
        {**ALPACA, "id": 1, "system": "S"}, {**ALPACA, "id": 2, "category": "qa"}])
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["convert", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert ("note: columns in no record: 'id', 'category' (--metadata COLUMN keeps one in each "
            "record's metadata)") in r.output
    kept = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), "--metadata", "id",
                                     "--format", "json"])
    assert json.loads(kept.stdout)["unused_columns"] == ["category"]
    sg = write_jsonl(tmp_path / "s.jsonl", [
        {"id": "s1", "system": "S", "conversations": [{"from": "human", "value": "hi"},
                                                       {"from": "gpt", "value": "yo"}]}])
    r = CliRunner().invoke(main, ["convert", str(sg), "-o", str(out), "--format", "json"])
    assert json.loads(r.stdout)["unused_columns"] == ["id"]


def test_installed_convert_keeps_system_and_history(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text('{"instruction":"ok","output":"fine","system":"Be brief.",'
                   '"history":[["q0","a0"]],"id":7}\n'
                   '{"instruction":"ok","output":"fine","history":[["q0"]]}\n', encoding="utf-8")
    out = tmp_path / "a.out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out)],
                       capture_output=True, text=True, check=False, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        f"read 2, wrote 1, rejected 1 (alpaca → chat) → {out}",
        f"rejects: {tmp_path / 'a.out.rejects.jsonl'} (bad_messages 1)",
        "note: columns in no record: 'id' (--metadata COLUMN keeps one in each record's "
        "metadata)"]
    assert out.read_text(encoding="utf-8") == (
        '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"q0"},'
        '{"role":"assistant","content":"a0"},{"role":"user","content":"ok"},'
        '{"role":"assistant","content":"fine"}]}\n')
    reject = jsonl(tmp_path / "a.out.rejects.jsonl")[0]
    assert (reject["field"], reject["reason"]) == ("history[0]", "bad_messages")
    valid = subprocess.run([FTPREP, "validate", str(out)], capture_output=True, text=True,
                           check=False, timeout=60)
    # The record itself passes; one example is only too few for a platform (FT107).
    assert [line.split()[0] for line in valid.stdout.splitlines()
            if line.startswith("FT")] == ["FT107"], valid.stdout
