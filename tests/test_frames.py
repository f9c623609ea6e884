"""DataFrames in and out (issue #11): from_dataframe maps like convert; reports to_pandas()."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import ftprep
from ftprep.convert import ConvertOptions, convert
from ftprep.errors import UsageError


def test_from_dataframe_equals_convert_of_the_same_table(tmp_path: Path) -> None:
    df = pd.DataFrame({"question": ["q1", "q2", "q3", None],
                       "answer": ["a1", pd.NA, "#N/A", "a4"],
                       "n": [1, 2, 3, 4]})
    frame = ftprep.from_dataframe(df, user_template="{question} ({n})", assistant="answer",
                                  system_prompt="Be brief.")
    df.to_csv(tmp_path / "t.csv", index=False)
    result = convert(tmp_path / "t.csv", tmp_path / "t.jsonl", ConvertOptions(
        user_template="{question} ({n})", assistant="answer", system_prompt="Be brief."))
    on_disk = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert frame.records == on_disk
    assert (frame.rows, frame.written, frame.rejected) == (4, 1, 3)
    assert frame.reasons == {"missing": 3}  # None, pd.NA and "#N/A" alike
    assert result.reasons == {"missing": 1, "empty": 2}  # a CSV writes None/NA as empty cells
    rejects = frame.rejects_frame()
    assert list(rejects["row"]) == [2, 3, 4] and list(rejects["field"]) == ["answer", "answer",
                                                                            "question"]
    frame.to_jsonl(tmp_path / "f.jsonl")
    assert (tmp_path / "f.jsonl").read_bytes() == (tmp_path / "t.jsonl").read_bytes()


def test_from_dataframe_multiturn_and_rules(tmp_path: Path) -> None:
    df = pd.DataFrame({"cid": [1, 1, 2, 2], "who": ["user", "assistant", "user", "user"],
                       "text": ["hi", "hello", "only", "questions"]})
    frame = ftprep.from_dataframe(df, group_by="cid", role_column="who", content_column="text")
    assert frame.written == 1 and frame.reasons == {"no_assistant_message": 1}
    with pytest.raises(UsageError, match="not both"):
        ftprep.from_dataframe(df, ConvertOptions(), user="who")
    with pytest.raises(UsageError, match="unknown column"):
        ftprep.from_dataframe(df, user="nope", assistant="text")


def test_reports_to_pandas(tmp_path: Path) -> None:
    lines = [{"messages": [{"role": "user", "content": f"q{i}"},
                           {"role": "assistant", "content": "a"}]} for i in range(3)]
    lines.append({"messages": [{"role": "human", "content": "x"}]})
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    findings = ftprep.validate_file(src).to_pandas()
    assert {"FT301", "FT107"} <= set(findings["code"]) and "line" in findings.columns
    assert findings.loc[findings["code"] == "FT301", "line"].tolist() == [4]
    clean = tmp_path / "c.jsonl"
    clean.write_text("".join(json.dumps(x) + "\n" for x in lines[:3]))
    counts = ftprep.count_file(clean, model="gpt-4o-mini").to_pandas()
    assert list(counts.columns) == ["line", "tokens", "trainable", "messages", "over_limit"]
    assert counts["line"].tolist() == [1, 2, 3] and not counts["over_limit"].any()
    assert int(counts["tokens"].sum()) == ftprep.count_file(clean, model="gpt-4o-mini").total_tokens


def test_cli_never_imports_pandas() -> None:
    code = ("import sys; from ftprep.cli import main\n"
            "try:\n    main(['validate', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
