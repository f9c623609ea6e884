"""`submit` uploads a copy without the keys the platform refuses (a top-level `metadata`),
says so, and leaves files without such keys untouched."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ftprep.cli import main
from tests.fake_openai import FakeOpenAI

BASE = "gpt-4o-mini-2024-07-18"


def chat(i: int, **extra: object) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": f"answer {i}"}], **extra}


def uploaded(server: FakeOpenAI) -> bytes:
    (body,) = [json.loads(r.body) for r in server.calls("POST", "/fine_tuning/jobs")]
    return server.contents[body["training_file"]]


def test_submit_sends_a_copy_without_metadata(platform_env: FakeOpenAI, tmp_path: Path) -> None:
    records = [chat(i, metadata={"ticket": i}) if i % 4 == 0 else chat(i) for i in range(12)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    # --force: until `metadata` is legal in validate, FT203 reports it
    result = CliRunner().invoke(main, ["submit", str(path), "--model", BASE, "--yes", "--force"])
    assert result.exit_code == 0, result.output
    assert "uploading a copy without the keys the platform refuses (metadata ×3)" in result.output
    sent = uploaded(platform_env).splitlines(keepends=True)
    original = path.read_bytes().splitlines(keepends=True)
    assert [json.loads(line) for line in sent] == [chat(i) for i in range(12)]
    assert [sent[i] for i in range(12) if i % 4] == [original[i] for i in range(12) if i % 4]
    assert path.read_bytes() == b"".join(original)  # the user's file is not touched


def test_submit_sends_a_clean_file_as_it_is(platform_env: FakeOpenAI, tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(chat(i)) + "\n" for i in range(12)))
    result = CliRunner().invoke(main, ["submit", str(path), "--model", BASE, "--yes"])
    assert result.exit_code == 0, result.output
    assert "uploading a copy" not in result.output
    assert uploaded(platform_env) == path.read_bytes()
    dry = CliRunner().invoke(main, ["submit", str(path), "--model", BASE, "--dry-run",
                                    "--format", "json"])
    assert json.loads(dry.output)["copies"] == []
