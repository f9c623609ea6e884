"""validate on an Alpaca or ShareGPT file (issue #11 item 14): one FT941 naming the convert
command, instead of a missing `messages` and unknown keys on every line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


def test_alpaca_sample_gets_one_finding() -> None:
    r = subprocess.run([FTPREP, "validate", str(SAMPLES / "support.jsonl")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert r.stdout.count("FT941") == 1 and "FT202" not in r.stdout and "FT203" not in r.stdout
    assert "run `ftprep convert FILE --from alpaca -o train.jsonl`" in r.stdout
    assert "(6 lines not checked: alpaca data is not checked line by line)" in r.stdout


def test_sharegpt_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "sg.jsonl"
    record = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    path.write_text((json.dumps(record) + "\n") * 30, encoding="utf-8")
    report = validate_file(path)
    assert [(f.code, f.line) for f in report.findings] == [("FT941", 1)]
    assert report.format == "sharegpt" and "--from sharegpt" in report.findings[0].message


def test_chat_file_with_an_instruction_key_is_checked_as_chat(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    record = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
              "instruction": "x", "output": "y"}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    codes = {f.code for f in validate_file(path, ignore=["FT107"]).findings}
    assert codes == {"FT203"}
