"""Structured findings: the numbers behind a message are fields (stable JSON keys, null where
they do not apply), and JSON paths quote keys that are not identifiers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import ftprep.validate
from ftprep.findings import FACT_FIELDS, child_path, json_path
from ftprep.validate import validate_file

QA = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize(("parts", "path"), [
    (["messages", 2, "content"], "messages[2].content"),
    (["messages", 0, "a.b"], "messages[0]['a.b']"),
    (["my key"], "['my key']"),
    (["x", "it's", "back\\slash"], "x['it\\'s']['back\\\\slash']"),
    (["_ok", "tool-call", "é"], "_ok['tool-call']['é']"),
    ([], ""),
])
def test_json_path_quotes_keys_that_are_not_identifiers(parts: list, path: str) -> None:
    assert json_path(parts) == path


def test_child_path_of_the_record_has_no_leading_dot() -> None:
    assert child_path("", "messages") == "messages" and child_path("", 0) == "[0]"


def test_unknown_keys_get_unambiguous_paths(tmp_path: Path) -> None:
    record = {"messages": [{"role": "user", "content": "q", "a.b": 1},
                           {"role": "assistant", "content": "a"}], "my key": 2}
    report = validate_file(write(tmp_path / "d.jsonl", [record]), ignore=["FT107"])
    assert sorted(f.path for f in report.findings) == ["['my key']", "messages[0]['a.b']"]


def test_every_issue_has_every_key_and_facts_only_where_they_apply(tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", [QA, {"messages": "x"}, QA])
    issues = validate_file(data).to_dict()["issues"]
    keys = ["code", "severity", "line", "path", "message", *FACT_FIELDS]
    assert all(list(issue) == keys for issue in issues)
    by_code = {i["code"]: i for i in issues}
    assert {k: by_code["FT109"][k] for k in FACT_FIELDS} == {
        "related_line": 1, "tokens": None, "count": None, "file_bytes": None, "limit": None}
    assert (by_code["FT107"]["count"], by_code["FT107"]["limit"]) == (3, 10)
    assert all(by_code["FT201"][k] is None for k in FACT_FIELDS)


def test_token_facts(tmp_path: Path) -> None:
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 40\n')
    long = {"messages": [{"role": "user", "content": "long question " * 30},
                         {"role": "assistant", "content": "ok"}]}
    report = validate_file(write(tmp_path / "d.jsonl", [long]), model="gpt-4o-mini",
                           models_file=models, select=["FT7"])
    over, cut = report.findings
    assert over.code == "FT701" and cut.code == "FT702"
    assert over.limit == cut.limit == 40 and over.tokens == cut.tokens and over.tokens > 40
    assert f"{over.tokens} tokens" in over.message


def test_image_and_size_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = [{"type": "image_url", "image_url": {"url": f"https://e.x/{i}.png"}} for i in range(12)]
    record = {"messages": [{"role": "user", "content": images},
                           {"role": "assistant", "content": "cats"}]}
    data = write(tmp_path / "d.jsonl", [record])
    monkeypatch.setattr(ftprep.validate, "MAX_FILE_BYTES", 100)
    found = {f.code: f for f in validate_file(data, ignore=["FT107"]).findings}
    assert (found["FT504"].count, found["FT504"].limit) == (12, 10)
    assert (found["FT108"].file_bytes, found["FT108"].limit) == (data.stat().st_size, 100)
