"""No input, however malformed, makes `ftprep validate` crash: every nasty line below ends
in findings (exit 1) or a clean pass (exit 0), never a traceback or an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.validate import validate_file
from tests.malformed_corpus import NASTY


@pytest.mark.parametrize("line", list(NASTY.values()), ids=list(NASTY))
def test_nasty_line_never_crashes(line: str, tmp_path: Path) -> None:
    path = tmp_path / "nasty.jsonl"
    path.write_text(line + "\n" + line + "\n", encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    as_json = CliRunner().invoke(main, ["validate", str(path), "--format", "json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == result.exit_code
    assert all(i["code"] and i["line"] in (0, 1, 2) for i in report["issues"])


LEGAL = {  # (-0.0 is a valid weight 0, and then FT306: nothing to train on)
    "NUL and control chars",
    "tool parameters nested 200 deep",
}


def test_malformed_records_are_reported_not_passed(tmp_path: Path) -> None:
    """Every nasty line but the legal ones breaks the format: at least one error (besides
    FT107, which a one-line file always gets), and never two findings for one place."""
    for name, line in NASTY.items():
        path = tmp_path / "one.jsonl"
        path.write_text(line + "\n", encoding="utf-8", errors="surrogatepass")
        report = validate_file(path, ignore=["FT107"])
        assert (report.errors == 0) == (name in LEGAL), (name, report.findings)
        places = [(f.line, f.path) for f in report.findings]
        assert len(places) == len(set(places)), ("one problem, one finding", name, report.findings)


def test_lone_surrogates_are_one_printable_utf8_finding(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(NASTY["lone surrogate key"] + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path), "--format", "json"])
    issues = [i for i in json.loads(result.output)["issues"] if i["code"] != "FT107"]
    assert [(i["code"], i["line"], i["path"]) for i in issues] == [("FT104", 1, "")]
    assert "lone surrogate \\ud800" in issues[0]["message"]
