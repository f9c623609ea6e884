"""`validate_file` spreads records over worker processes for big files: the report (findings,
their order, counts, JSON) must be byte-identical whatever the number of workers, and the
file checks (duplicates, example count) exact across chunk boundaries."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftprep.parallel
import ftprep.validate
from ftprep.cli import main
from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def _record(i: int) -> dict | str:
    """A mix of clean records and every kind of problem, some repeated (duplicates)."""
    user = {"role": "user", "content": f"question {i % 37}"}
    kinds = [
        {"messages": [user, {"role": "assistant", "content": f"answer {i}"}]},
        {"messages": [user, {"role": "assistant", "content": "same"}]},  # duplicates
        {"messages": [{"role": "human", "content": "x"}, {"role": "assistant", "content": ""}]},
        {"tools": [TOOL], "messages": [user, {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "g", "arguments": "[1]"}}]},
            {"role": "tool", "tool_call_id": "d", "content": "r"}]},
        {"prompt": "p", "completion": "c"},  # mixed formats
        "{not json",
        "",
        "[1, 2]",
    ]
    return kinds[i % len(kinds)] if i % 3 else kinds[0]


def _write(path: Path, n: int) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in map(_record, range(n))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few hundred bytes per chunk: many chunks, duplicates and format look-ahead across them.
    monkeypatch.setattr(ftprep.validate, "CHUNK_BYTES", 300)


def _json(report: ftprep.validate.ValidationReport) -> str:
    return json.dumps(report.to_dict())


@pytest.mark.usefixtures("small_chunks")
def test_report_is_identical_whatever_the_worker_count(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", 400)
    serial = validate_file(path, workers=1)
    assert serial.counts()["FT109"] > 30 and len(serial.counts()) == 11 and serial.examples == 300
    for workers in (2, 3):
        assert _json(validate_file(path, workers=workers)) == _json(serial)


@pytest.mark.usefixtures("small_chunks")
def test_duplicates_across_chunks_name_the_first_line(tmp_path: Path) -> None:
    record = json.dumps({"messages": [{"role": "user", "content": "q"},
                                      {"role": "assistant", "content": "a"}]})
    lines = [record] + [json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                 {"role": "assistant", "content": "a"}]})
                        for i in range(40)] + [record]
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = validate_file(path, workers=2)
    assert [(f.code, f.line, f.message) for f in report.findings] == [
        ("FT109", 42, "duplicate of line 1")]
    assert (report.examples, report.lines) == (42, 42)


@pytest.mark.usefixtures("small_chunks")
def test_format_is_found_beyond_the_first_chunk(tmp_path: Path) -> None:
    # The first recognisable record comes after several chunks of unknown objects.
    lines = [json.dumps({"note": "x" * 100})] * 8 + [json.dumps({"prompt": "p", "completion": "c"})]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for workers in (1, 2):
        report = validate_file(path, workers=workers)
        assert report.format == "completion"
        assert [f.code for f in report.findings if f.line == 9] == []


def test_example_count_is_exact_in_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ftprep.validate, "CHUNK_BYTES", 100)
    path = tmp_path / "nine.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                     {"role": "assistant", "content": "a"}]}) + "\n"
                            for i in range(9)))
    report = validate_file(path, workers=2)
    assert [(f.code, f.line) for f in report.findings] == [("FT107", 0)]
    assert report.examples == 9


def test_big_files_use_workers_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    real = ftprep.validate._check_parallel

    def spy(plan, chunks, workers):  # type: ignore[no-untyped-def]
        used.append(workers)
        return real(plan, chunks, workers)

    monkeypatch.setattr(ftprep.validate, "_check_parallel", spy)
    monkeypatch.setattr(ftprep.parallel.os, "cpu_count", lambda: 2)
    path = _write(tmp_path / "mixed.jsonl", 50)
    validate_file(path)
    assert used == []  # small: in-process
    monkeypatch.setattr(ftprep.validate, "PARALLEL_MIN_BYTES", 1)
    serial = validate_file(path, workers=1)
    assert _json(validate_file(path)) == _json(serial) and used == [2]


@pytest.mark.usefixtures("small_chunks")
def test_gzip_and_stdin_inputs_match(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", 120)
    gz = tmp_path / "mixed.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    expected = {k: v for k, v in validate_file(path).to_dict().items() if k != "path"}
    got = {k: v for k, v in validate_file(gz, workers=2).to_dict().items() if k != "path"}
    assert got == expected
    result = CliRunner().invoke(main, ["validate", "-", "--format", "json", "--workers", "2"],
                                input=path.read_bytes())
    assert result.exit_code == 1
    assert {k: v for k, v in json.loads(result.output).items() if k != "path"} == expected


def test_installed_script_gives_the_same_json_with_two_workers(tmp_path: Path) -> None:
    path = _write(tmp_path / "mixed.jsonl", 300)
    runs = [subprocess.run([FTPREP, "validate", str(path), "--format", "json", "--workers", w],
                           check=False, capture_output=True, timeout=60) for w in ("1", "2")]
    assert [r.returncode for r in runs] == [1, 1]
    assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr == b""
    assert json.loads(runs[0].stdout)["counts"]["FT101"] == sum(1 for i in range(300) if i % 3 and i % 8 == 5)


@pytest.mark.parametrize("workers", [1, 2])
def test_empty_file_has_no_format(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    report = validate_file(path, workers=workers)
    assert (report.format, report.examples, report.lines) == ("unknown", 0, 0)
    assert [f.code for f in report.findings] == ["FT107"]
