"""validate's findings without holding them (issue #11 item 11): --format json streams every
finding through a temporary file (the document is byte for byte what it was), the library
streams them to `on_finding`, and the text report keeps --max-findings per rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.cli.common import emit_json
from ftprep.findings import Finding
from ftprep.validate import validate_file


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    """The shape that took 1.3 GB: every line with findings (an unknown key, no answer), plus
    a few copies and fewer than 10 examples' worth of nothing (no FT107: 3,000 lines)."""
    lines = [json.dumps({"messages": [{"role": "user", "content": f"q{i % 2900}"}], "x": 1})
             for i in range(3000)]
    path = tmp_path / "noisy.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_document_is_unchanged(noisy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emit_json(validate_file(noisy).to_dict())
    expected = capsys.readouterr().out
    r = CliRunner().invoke(main, ["validate", str(noisy), "--format", "json"])
    assert r.exit_code == 1
    assert r.stdout == expected
    assert len(json.loads(r.stdout)["issues"]) == 6100  # 3000 FT203 + 3000 FT302 + 100 FT109


def test_library_streams_line_findings(noisy: Path) -> None:
    seen: list[Finding] = []
    report = validate_file(noisy, on_finding=seen.append)
    assert report.findings == []  # nothing of a line is held
    assert len(seen) == 6100 and [f.line for f in seen] == sorted(f.line for f in seen)
    assert report.counts() == {"FT109": 100, "FT203": 3000, "FT302": 3000}
    assert (report.errors, report.warnings, report.ok) == (6000, 100, False)


def test_max_per_code_keeps_few_and_counts_all(noisy: Path) -> None:
    report = validate_file(noisy, max_per_code=2)
    assert [(f.code, f.line) for f in report.findings] == [
        ("FT302", 1), ("FT203", 1), ("FT302", 2), ("FT203", 2), ("FT109", 2901), ("FT109", 2902)]
    assert report.counts() == {"FT109": 100, "FT203": 3000, "FT302": 3000}


def test_text_report_max_findings(noisy: Path) -> None:
    r = CliRunner().invoke(main, ["validate", str(noisy), "--max-findings", "1"])
    lines = r.output.splitlines()
    assert "FT203 unknown-key (error) ×3000" in lines
    assert "              … and 2999 more (--format json lists all)" in lines
    assert sum(line.lstrip().startswith("line ") for line in lines) == 3
