"""NaN, Infinity and 1e999 in JSON input (issue #11 item 7, issue #12 item 3): Python's JSON
reader accepts them and orjson wrote them as null. convert rejects the record as not_finite,
naming the field; validate refuses them as invalid JSON (FT101)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftprep.convert import ConvertOptions, convert
from ftprep.validate import validate_file

GOOD = '{"messages": [{"role": "user", "content": "ok"}, {"role": "assistant", "content": "fine"}]}'
BAD = [
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", '
     '"weight": NaN}]}', "messages[1].weight"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "c"}], '
     '"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", '
     '"properties": {"x": {"type": "number", "maximum": Infinity}}}}}]}',
     "tools[0].function.parameters.properties.x.maximum"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "d"}], '
     '"tools": [{"type": "function", "function": {"name": "g", "parameters": {"type": "object", '
     '"properties": {"y": {"type": "number", "minimum": -1e999}}}}}]}',
     "tools[0].function.parameters.properties.y.minimum"),
]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_convert_rejects_them_naming_the_field(tmp_path: Path, suffix: str) -> None:
    lines = [GOOD, *(b for b, _ in BAD)]
    src = tmp_path / f"in{suffix}"
    src.write_text("\n".join(lines) + "\n" if suffix == ".jsonl" else "[" + ",\n".join(lines) + "]",
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = convert(src, out, ConvertOptions())
    assert (result.read, result.written, result.rejected) == (4, 1, 3)
    assert result.reasons == {"not_finite": 3}
    assert "null" not in out.read_text(encoding="utf-8")
    rejects = [json.loads(x) for x in Path(result.rejects or "").read_text().splitlines()]
    assert [(r["line"], r["field"], r["reason"]) for r in rejects] == [
        (i + 2, field, "not_finite") for i, (_, field) in enumerate(BAD)]
    assert "which JSON cannot hold" in rejects[0]["detail"]


@pytest.mark.parametrize(("literal", "message"), [
    ("NaN", "NaN is not valid JSON"), ("-Infinity", "-Infinity is not valid JSON"),
    ("1e999", "the number 1e999 is beyond a double (it would be Infinity)")])
def test_validate_refuses_them(tmp_path: Path, literal: str, message: str) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text(GOOD[:-1] + f', "score": {literal}}}\n', encoding="utf-8")
    findings = validate_file(path, ignore=["FT107"]).findings
    assert [(f.code, f.line, f.message) for f in findings] == [("FT101", 1, message)]
