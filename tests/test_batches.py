"""Batch-shaped functions for Ray/Spark (issue #13, "Scaling out"): on Arrow record batches
cut from a file, they give exactly what validate_file and count_file give for its lines."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import ftprep
from ftprep.errors import UsageError

GOOD = {"messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "What is 2+2?"},
                     {"role": "assistant", "content": "4", "weight": 1}]}
LINES = [json.dumps(GOOD), "{not json", json.dumps({"messages": [{"role": "human",
                                                                   "content": "x"}]}),
         json.dumps({"messages": [{"role": "user", "content": "<|endoftext|> hi"},
                                  {"role": "assistant", "content": "ok"}]}),
         json.dumps(GOOD | {"extra": 1})] * 3


def _batches(size: int) -> list[tuple[int, pa.RecordBatch]]:
    table = pa.table({"value": LINES})  # what spark.read.text / ray read_text hand out
    return [(1 + i, b) for i, b in zip(range(0, len(LINES), size),
                                       table.to_batches(max_chunksize=size), strict=True)]


def test_validate_batches_equal_validate_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    whole = ftprep.validate_file(path)
    per_line: dict[int, list[str]] = {}
    for f in whole.findings:
        if f.line and f.code not in ("FT107", "FT109"):  # whole-file rules: not per batch
            per_line.setdefault(f.line, []).append(f.code)
    got: dict[int, list[str]] = {}
    for first_line, batch in _batches(4):
        out = ftprep.validate_batch(batch, first_line=first_line)
        assert out.num_rows == batch.num_rows
        for row in out.to_pylist():
            if row["codes"]:
                got[row["line"]] = row["codes"]
                assert all(json.loads(f)["line"] == row["line"] for f in row["findings"])
    assert got == per_line


def test_count_batches_equal_count_file(tmp_path: Path) -> None:
    good = [line for line in LINES if "not json" not in line]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(good) + "\n")
    report = ftprep.count_file(path, model="gpt-4o-mini")
    table = pa.table({"text": good})
    tokens: list[int] = []
    for batch in table.to_batches(max_chunksize=5):
        tokens += ftprep.count_batch(batch, model="gpt-4o-mini").column("tokens").to_pylist()
    assert tokens == list(report.counts.tokens) and sum(tokens) == report.total_tokens
    records = [json.loads(line) for line in good]
    assert [c.total for c in ftprep.count_records(records, "gpt-4o-mini")] == tokens


def test_bad_lines_and_columns_are_reported_not_raised() -> None:
    batch = pa.RecordBatch.from_pydict({"value": ["{oops", None]})
    counted = ftprep.count_batch(batch, model="gpt-4o-mini").to_pylist()
    assert counted[0]["tokens"] is None and "column" in counted[0]["error"]
    with pytest.raises(UsageError, match="column='nope'"):
        ftprep.validate_batch(batch, column="nope")
    assert ftprep.validate_records([GOOD], record_format="chat") == []
