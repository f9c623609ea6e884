"""Metadata end to end (issue #11 item 8): the README's `split --group-by metadata.user_id`
workflow. convert --metadata writes it, validate no longer calls it an unknown key (FT203)
but says once what happens to it (FT931), split groups by it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))


def _support_csv(tmp_path: Path) -> Path:
    rows = ["question,answer,user_id,tier"]
    rows += [f"Question {i} about billing,Answer {i} about billing,u{i % 7},{'pro' if i % 2 else 'free'}"
             for i in range(40)]
    path = tmp_path / "support.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_convert_metadata_validate_and_split_by_user(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    r = subprocess.run([FTPREP, "convert", str(_support_csv(tmp_path)), "-o", str(out), "--user",
                        "question", "--assistant", "answer", "--metadata", "user_id,tier"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["metadata"] == {"user_id": "u0", "tier": "free"}

    report = validate_file(out)
    assert [(f.code, f.line, f.path) for f in report.findings] == [("FT931", 0, "metadata")]
    assert report.ok and "40 record(s)" in report.findings[0].message

    split = CliRunner().invoke(main, ["split", str(out), "--group-by", "metadata.user_id",
                                      "--test", "0.25", "-o", str(tmp_path / "s")])
    assert split.exit_code == 0, split.output
    users = {name: {json.loads(line)["metadata"]["user_id"]
                    for line in (tmp_path / "s" / f"{name}.jsonl").read_text().splitlines()}
             for name in ("train", "test")}
    assert users["train"] and users["test"] and not users["train"] & users["test"]


def test_metadata_column_must_exist(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["convert", str(_support_csv(tmp_path)), "-o",
                                  str(tmp_path / "o.jsonl"), "--user", "question", "--assistant",
                                  "answer", "--metadata", "user"])
    assert r.exit_code == 2
    assert "--metadata" in r.output and "user" in r.output


def test_other_unknown_keys_are_still_ft203(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}],
                                "metadata": "u1", "meta": {}}) + "\n", encoding="utf-8")
    found = [(f.code, f.path) for f in validate_file(path, ignore=["FT107"]).findings]
    assert found == [("FT931", "metadata"), ("FT203", "meta")]
    assert "not an object" in validate_file(path, select=["FT931"]).findings[0].message


def test_infinite_metadata_cell_is_a_reject_not_null(tmp_path: Path) -> None:
    # A NaN/NA cell is missing (null); ±Infinity is a value JSON cannot hold: the row is a
    # not_finite reject naming the column (or the place inside a list cell), as for a
    # message column, never a silent null.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ftprep.convert import ConvertOptions, convert

    pq.write_table(pa.table({
        "q": ["a", "b", "c", "d"], "a": ["w", "x", "y", "z"],
        "score": [1.5, float("inf"), float("nan"), 2.0],
        "tags": [[1.0], [2.0], None, [3.0, float("-inf")]]}), tmp_path / "m.parquet")
    result = convert(tmp_path / "m.parquet", tmp_path / "m.jsonl",
                     ConvertOptions(user="q", assistant="a", metadata=("score", "tags")))
    assert (result.read, result.written, result.reasons) == (4, 2, {"not_finite": 2})
    written = [json.loads(line)["metadata"] for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert written == [{"score": 1.5, "tags": [1.0]}, {"score": None, "tags": None}]
    rejects = [json.loads(line) for line in Path(result.rejects or "").read_text().splitlines()]
    assert [(r["row"], r["field"], r["reason"]) for r in rejects] == [
        (2, "score", "not_finite"), (4, "tags[1]", "not_finite")]
    assert rejects[0]["detail"].startswith("inf is not a finite number (the --metadata column 'score')")


def test_infinite_metadata_in_json_input_exits_1_with_the_reject(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"q": "a", "a": "x", "s": 3}\n{"q": "b", "a": "y", "s": -Infinity}\n'
                   '{"q": "c", "a": "z", "s": 1e999}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--user", "q", "--assistant",
                        "a", "--metadata", "s", "--format", "json"],
                       capture_output=True, text=True, check=False, timeout=60)
    assert r.returncode == 1, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["written"], summary["reasons"]) == (1, {"not_finite": 2})
    assert out.read_text(encoding="utf-8").count("\n") == 1 and "null" not in out.read_text()
    rejects = [json.loads(line) for line in Path(summary["rejects"]).read_text().splitlines()]
    assert [(x["line"], x["field"]) for x in rejects] == [(2, "s"), (3, "s")]


def _qa_lines(*extras: dict[str, object]) -> list[str]:
    return [json.dumps({"q": f"q{i}", "a": f"a{i}", **extra}) for i, extra in enumerate(extras)]


def test_metadata_key_first_seen_in_a_later_json_record(tmp_path: Path) -> None:
    # JSON/JSONL have no header: the key named may first appear in any record.
    from ftprep.convert import ConvertOptions, convert

    lines = _qa_lines({}, {"uid": "u1"}, {"uid": None, "tier": "pro"})
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "in.json").write_text("[" + ",\n".join(lines) + "]", encoding="utf-8")
    for name in ("in.jsonl", "in.json"):
        out = tmp_path / f"{name}.out.jsonl"
        result = convert(tmp_path / name, out, ConvertOptions(user="q", assistant="a",
                                                              metadata=("uid", "tier")))
        assert (result.written, result.rejected) == (3, 0), name
        assert [json.loads(x)["metadata"] for x in out.read_text().splitlines()] == [
            {"uid": None, "tier": None}, {"uid": "u1", "tier": None},
            {"uid": None, "tier": "pro"}], name


def test_metadata_key_in_no_json_record_is_a_usage_error_and_writes_nothing(
        tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_qa_lines({}, {"uid": "u1"})) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--user", "q",
                        "--assistant", "a", "--metadata", "uid,user_id"],
                       capture_output=True, text=True, check=False, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("ftprep: error: --metadata: no record has the key 'user_id' (keys of "
                        "the first record: q, a)\n")
    assert not out.exists() and not (tmp_path / "out.rejects.jsonl").exists()


def _chat(i: int, **extra: object) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                    {"role": "assistant", "content": f"Answer {i}."}], **extra})


def test_metadata_key_of_a_chat_record_moves_off_the_top_level(tmp_path: Path) -> None:
    # Chat records pass through with their extra keys: --metadata ticket used to copy the key
    # and leave it at the top level too, so convert refused every record as FT203.
    src = tmp_path / "chat.jsonl"
    src.write_text("\n".join(_chat(i, ticket=i % 4) for i in range(12)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--metadata", "ticket",
                        "--format", "json"], capture_output=True, text=True, check=False,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["read"], summary["written"], summary["rejected"]) == (12, 12, 0)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(list(rec) == ["messages", "metadata"] for rec in records)
    assert [rec["metadata"] for rec in records[:2]] == [{"ticket": 0}, {"ticket": 1}]
    report = validate_file(out)
    assert report.ok and [f.code for f in report.findings] == ["FT931"]

    split = subprocess.run([FTPREP, "split", str(out), "--group-by", "metadata.ticket",
                            "--test", "0.25", "-o", str(tmp_path / "s")],
                           capture_output=True, text=True, check=False, timeout=60)
    assert split.returncode == 0, split.stderr
    tickets = {name: {json.loads(line)["metadata"]["ticket"]
                      for line in (tmp_path / "s" / f"{name}.jsonl").read_text().splitlines()}
               for name in ("train", "test")}
    assert tickets["train"] and tickets["test"] and not tickets["train"] & tickets["test"]


def test_metadata_keeps_the_format_own_keys_and_moves_preference_extras(tmp_path: Path) -> None:
    from ftprep.convert import ConvertOptions, convert

    src = tmp_path / "chat.jsonl"
    src.write_text(_chat(0, tools=[], ticket=3) + "\n", encoding="utf-8")
    convert(src, tmp_path / "o.jsonl", ConvertOptions(metadata=("tools", "ticket")))
    record = json.loads((tmp_path / "o.jsonl").read_text())
    # `tools` is the chat format's own key: it stays, and is copied; `ticket` moves.
    assert record["tools"] == [] and record["metadata"] == {"tools": [], "ticket": 3}
    assert "ticket" not in record

    pref = tmp_path / "pref.jsonl"
    pref.write_text(json.dumps({
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}], "ticket": 2}) + "\n")
    result = convert(pref, tmp_path / "p.jsonl", ConvertOptions(metadata=("ticket",)))
    assert (result.written, result.rejected) == (1, 0)
    record = json.loads((tmp_path / "p.jsonl").read_text())
    assert "ticket" not in record and record["metadata"] == {"ticket": 2}


def test_metadata_never_overwrites_the_record_own_metadata(tmp_path: Path) -> None:
    # A record's own metadata is added to; the same key with another value is a reject
    # naming metadata.KEY (neither value dropped unsaid), as is a metadata that is no object.
    src = tmp_path / "chat.jsonl"
    src.write_text("\n".join([
        _chat(0, ticket=7, metadata={"src": "crm"}),  # added to
        _chat(1, ticket=8, metadata={"ticket": 8}),  # the same value: no conflict
        _chat(2, ticket=None, metadata={"ticket": 9}),  # null adds nothing: 9 kept
        _chat(3, metadata={"ticket": 10}),  # no top-level key: 10 kept
        _chat(4, ticket=11, metadata={"ticket": 12}),  # conflict
        _chat(5, ticket=13, metadata="crm"),  # not an object
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), "--metadata", "ticket",
                                  "--format", "json"])
    assert r.exit_code == 1, r.output
    summary = json.loads(r.output)
    assert (summary["read"], summary["written"], summary["rejected"]) == (6, 4, 2)
    assert summary["reasons"] == {"metadata_conflict": 2}
    assert [json.loads(line)["metadata"] for line in out.read_text().splitlines()] == [
        {"src": "crm", "ticket": 7}, {"ticket": 8}, {"ticket": 9}, {"ticket": 10}]
    rejects = [json.loads(line) for line in Path(summary["rejects"]).read_text().splitlines()]
    assert [(x["line"], x["field"], x["reason"]) for x in rejects] == [
        (5, "metadata.ticket", "metadata_conflict"), (6, "metadata", "metadata_conflict")]
    assert rejects[0]["detail"] == ("the record's metadata.ticket is 12 but its 'ticket' is 11: "
                                    "--metadata ticket would overwrite one of them")
    assert rejects[0]["source"]["ticket"] == 11  # the rejects file keeps the row as it was


def test_metadata_of_metadata_or_of_the_example_itself_is_a_usage_error(tmp_path: Path) -> None:
    # --metadata metadata nested a copy of a chat record's own metadata inside itself, and
    # --metadata messages copied the whole conversation into it; now both are refused before
    # anything is read. The format's other keys (tools) may still be copied.
    from ftprep.convert import ConvertOptions, convert
    from ftprep.errors import UsageError

    src = tmp_path / "chat.jsonl"
    src.write_text(_chat(0, metadata={"ticket": 1}) + "\n", encoding="utf-8")
    for keys, named in ((("metadata",), "metadata='metadata' is the object the keys are "
                         "copied into"), (("ticket", "messages"), "metadata='messages' is the "
                                          "chat record itself")):
        with pytest.raises(UsageError) as e:
            convert(src, tmp_path / "o.jsonl", ConvertOptions(metadata=keys))
        assert str(e.value).startswith(named)
    assert not (tmp_path / "o.jsonl").exists()
    pref = tmp_path / "pref.jsonl"
    pref.write_text(json.dumps({
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}]}) + "\n")
    with pytest.raises(UsageError, match="'preferred_output' is the preference record"):
        convert(pref, tmp_path / "p.jsonl", ConvertOptions(metadata=("preferred_output",)))
    # A mapped table's columns are only columns: one called `messages` may be copied.
    table = tmp_path / "t.csv"
    table.write_text("q,a,messages\nhi,hello,3\n", encoding="utf-8")
    convert(table, tmp_path / "t.jsonl", ConvertOptions(user="q", assistant="a",
                                                        metadata=("messages",)))
    assert json.loads((tmp_path / "t.jsonl").read_text())["metadata"] == {"messages": "3"}


def test_metadata_metadata_is_refused_by_the_installed_cli(tmp_path: Path) -> None:
    src = tmp_path / "chat.jsonl"
    src.write_text(_chat(0, metadata={"ticket": 1}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--metadata", "metadata"],
                       capture_output=True, text=True, check=False, timeout=60)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("ftprep: error: --metadata 'metadata' is the object the keys are copied "
                        "into, not a key to copy (a record's own metadata object is kept and "
                        "added to)\n")
    assert not out.exists() and not (tmp_path / "out.rejects.jsonl").exists()
    table = tmp_path / "t.csv"
    table.write_text("q,a,metadata\nhi,hello,x\n", encoding="utf-8")
    r2 = CliRunner().invoke(main, ["convert", str(table), "-o", str(out), "--user", "q",
                                   "--assistant", "a", "--metadata", "metadata"])
    assert r2.exit_code == 2 and not out.exists()
    assert r2.output.strip().splitlines()[-1].endswith(
        "--metadata 'metadata' is the object the keys are copied into, not a key to copy "
        "(rename the column to copy it)")
