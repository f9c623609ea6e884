"""FT701 over-token-limit and FT702 answer-truncated in `validate --model`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftprep.errors import UsageError
from ftprep.rules import load_rules
from ftprep.validate import validate_file


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def chat(user: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


def test_rules_are_registered() -> None:
    rules = load_rules()
    assert rules["FT701"].name == "over-token-limit" and rules["FT701"].severity.value == "warning"
    assert rules["FT702"].name == "answer-truncated" and rules["FT702"].severity.value == "error"


def test_over_limit_and_truncated_answer(tmp_path: Path) -> None:
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 40\n')
    data = write(tmp_path / "d.jsonl", [
        chat("short", "fine"),
        chat("hi", "long answer " * 30),  # over, but the answer starts before the cut
        chat("long question " * 30, "ok"),  # the answer starts after the cut
    ])
    report = validate_file(data, model="gpt-4o-mini", models_file=models, select=["FT7"])
    found = [(f.code, f.line, f.path) for f in report.findings]
    assert found == [("FT701", 2, ""), ("FT701", 3, ""), ("FT702", 3, "messages[1]")]
    assert not report.ok
    assert "40" in report.findings[0].message


def test_no_model_no_token_findings(tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", [chat("long question " * 30, "ok")] * 12)
    assert not any(code.startswith("FT7") for code in validate_file(data).counts())  # no model
    with pytest.raises(UsageError, match="need model="):  # asked for alone: say why not
        validate_file(data, select=["FT7"])


def test_within_limit_no_findings(tmp_path: Path) -> None:
    data = write(tmp_path / "d.jsonl", [chat("q", "a")] * 12)
    assert validate_file(data, model="gpt-4o-mini", select=["FT7"]).findings == []
