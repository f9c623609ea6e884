"""Metadata end to end (issue #11 item 8): the README's `split --group-by metadata.user_id`
workflow. convert --metadata writes it, validate no longer calls it an unknown key (FT203)
but says once what happens to it (FT931), split groups by it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
