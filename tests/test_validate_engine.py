"""`ftprep validate` and `ftprep rules` end to end: line and file rules (FT1xx), formats,
selection, exit codes and both output formats. Driven through click's CliRunner, plus one
run of the installed script."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import ftprep.validate
from ftprep.cli import main
from ftprep.rules import load_rules
from ftprep.validate import validate_file

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
FTPREP = str(Path(sys.executable).with_name("ftprep"))


def example(i: int) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": str(2 * i)},
        ]
    }


def jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def clean_file(tmp_path: Path, n: int = 10, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(jsonl(*(example(i) for i in range(n))))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def run_json(*args: str) -> tuple[int, dict]:
    result = run(*args, "--format", "json")
    return result.exit_code, json.loads(result.output)


def codes_at(report: dict) -> list[tuple[str, int]]:
    return [(i["code"], i["line"]) for i in report["issues"]]


def positioned(report: dict) -> list[tuple[str, int, str, str]]:
    return [(i["code"], i["line"], i["path"], i["severity"]) for i in report["issues"]]


# ---- exit codes and output shape ----------------------------------------------------------


def test_clean_file_exits_0_with_verdict(tmp_path: Path) -> None:
    result = run(str(clean_file(tmp_path)))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("valid — chat, 10 examples, 0 errors, 0 warnings")


def test_json_output_shape(tmp_path: Path) -> None:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(jsonl({"messages": [{"role": "user", "content": "hi"}]}))
    code, report = run_json(str(path))
    assert code == 1
    assert {"valid", "format", "examples", "issues"} <= report.keys()
    assert (report["valid"], report["format"], report["examples"]) == (False, "chat", 11)
    assert report["issues"] == [
        {
            "code": "FT302",
            "severity": "error",
            "line": 11,
            "path": "messages",
            "message": report["issues"][0]["message"],
            "related_line": None,
            "tokens": None,
            "count": None,
            "file_bytes": None,
            "limit": None,
        }
    ]
    assert report["errors"] == 1 and report["counts"] == {"FT302": 1}


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2
    assert "absent.jsonl: no such file" in result.output


def test_all_findings_across_lines_are_reported_with_1_based_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    bad = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}
    path.write_bytes(jsonl(bad, example(1), bad, example(2), {"messages": []}))
    code, report = run_json(str(path), "--ignore", "FT107,FT109")
    assert code == 1
    assert codes_at(report) == [("FT501", 1), ("FT501", 3), ("FT201", 5)]


def test_text_output_groups_by_code_with_counts_and_caps_each_group(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    empty = {"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}]}
    warn = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "thanks"},
        ]
    }
    path.write_bytes(jsonl(*([empty] * 7), warn, *(example(i) for i in range(3))))
    result = run(str(path), "--ignore", "FT109")
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert lines[0] == "FT501 empty-content (error) ×7"
    assert lines[1:6] == [
        f"  {'line ' + str(n):>10}  messages[0].content: user message has empty content"
        for n in range(1, 6)
    ]
    assert "… and 2 more (--format json lists all)" in lines[6]
    assert (
        lines[7] == "FT307 last-message-not-assistant (warning) ×1"
    )  # errors first, then warnings
    assert lines[-1].endswith("invalid — chat, 11 examples, 7 errors, 1 warnings")


# ---- selection and strictness ---------------------------------------------------------------


@pytest.fixture
def mixed_problems(tmp_path: Path) -> Path:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(
            jsonl(
                {
                    "messages": [
                        {"role": "human", "content": "hi"},
                        {"role": "assistant", "content": ""},
                    ]
                },
                {
                    "messages": [
                        {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "a"},
                        {"role": "system", "content": "late"},
                        {"role": "assistant", "content": "b"},
                    ]
                },
            )
        )
    return path


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ([], {"FT301", "FT501", "FT305"}),
        (["--select", "FT501"], {"FT501"}),
        (["--select", "ft3"], {"FT301", "FT305"}),
        (["--select", "FT3,FT5", "--ignore", "FT30"], {"FT501"}),
        (["--ignore", "FT5", "--ignore", "FT301"], {"FT305"}),
        (["--select", "ALL", "--ignore", "FT501"], {"FT301", "FT305"}),
    ],
)
def test_select_and_ignore_by_code_and_prefix(
    mixed_problems: Path, option: list[str], expected: set[str]
) -> None:
    _, report = run_json(str(mixed_problems), *option)
    assert {i["code"] for i in report["issues"]} == expected


@pytest.mark.parametrize(
    "option", [["--select", "FT999"], ["--ignore", "XY1"], ["--select", "FT5,nope"]]
)
def test_unknown_code_is_a_usage_error(mixed_problems: Path, option: list[str]) -> None:
    result = run(str(mixed_problems), *option)
    assert result.exit_code == 2
    assert result.output.startswith("ftprep: error: unknown rule code(s)")
    assert len(result.output.strip().splitlines()) == 1


def test_strict_fails_on_warnings_only(tmp_path: Path) -> None:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(jsonl(example(0)))  # a duplicate: a warning
    assert run(str(path)).exit_code == 0
    code, report = run_json(str(path), "--strict")
    assert (
        code == 1 and report["valid"] is False and report["warnings"] == 1 and report["errors"] == 0
    )


# ---- line rules FT101-FT104, BOM, gzip --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"messages": [', "FT101"),
        (b'{"messages": []] }', "FT101"),
        (b'{"prompt": NaN}', "FT101"),
        (b"[1, 2]", "FT102"),
        (b'"a string"', "FT102"),
        (b"null", "FT102"),
        (b"", "FT103"),
        (b"  \t", "FT103"),
        (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', "FT104"),
    ],
)
def test_line_rules(tmp_path: Path, line: bytes, code: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        jsonl(*(example(i) for i in range(10)))[:-1] + b"\n" + line + b"\n" + jsonl(example(99))
    )
    exit_code, report = run_json(str(path))
    assert exit_code == 1
    assert positioned(report) == [(code, 11, "", "error")]


def test_trailing_newline_and_crlf_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(jsonl(*(example(i) for i in range(10))).replace(b"\n", b"\r\n"))
    assert run(str(path)).exit_code == 0


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl(*(example(i) for i in range(10))))
    code, report = run_json(str(path))
    assert (code, report["issues"], report["examples"]) == (0, [], 10)


def test_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    bad = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "<|endoftext|>"},
        ]
    }
    path.write_bytes(gzip.compress(jsonl(*(example(i) for i in range(10)), bad)))
    code, report = run_json(str(path))
    assert code == 1 and report["examples"] == 11
    assert codes_at(report) == [("FT502", 11)]


def test_stdin_input() -> None:
    result = CliRunner().invoke(
        main, ["validate", "-", "--format", "json"], input=jsonl(*(example(i) for i in range(10)))
    )
    assert result.exit_code == 0 and json.loads(result.output)["examples"] == 10


# ---- file rules FT105-FT110 ---------------------------------------------------------------------


def test_json_array_file_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "array.jsonl"
    path.write_text(json.dumps([example(i) for i in range(20)], indent=1))
    code, report = run_json(str(path))
    assert code == 1
    assert positioned(report) == [("FT105", 1, "", "error")]


def test_one_line_json_array_is_one_finding(tmp_path: Path) -> None:
    path = tmp_path / "array.jsonl"
    path.write_text(json.dumps([example(i) for i in range(20)]))
    assert codes_at(run_json(str(path))[1]) == [("FT105", 1)]


def test_pretty_printed_file_is_one_finding_not_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "pretty.jsonl"
    path.write_text("\n".join(json.dumps(example(i), indent=2) for i in range(20)))
    result = run(str(path))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "FT106 pretty-printed-json (error) ×1"
    assert "line errors not listed: the file is not JSONL" in result.output
    assert positioned(run_json(str(path))[1]) == [("FT106", 1, "", "error")]


@pytest.mark.parametrize(("n", "findings"), [(0, [("FT107", 0)]), (9, [("FT107", 0)]), (10, [])])
def test_too_few_examples(tmp_path: Path, n: int, findings: list) -> None:
    code, report = run_json(str(clean_file(tmp_path, n)))
    assert codes_at(report) == findings and code == (1 if findings else 0)
    if findings:
        assert report["issues"][0]["path"] == "" and report["issues"][0]["severity"] == "error"


def test_file_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = clean_file(tmp_path)
    monkeypatch.setattr(ftprep.validate, "MAX_FILE_BYTES", path.stat().st_size - 1)
    code, report = run_json(str(path))
    assert code == 1 and positioned(report) == [("FT108", 0, "", "error")]
    monkeypatch.setattr(ftprep.validate, "MAX_FILE_BYTES", path.stat().st_size)
    assert run_json(str(path))[1]["issues"] == []


def test_duplicate_ignores_key_order_and_whitespace_and_names_first_line(tmp_path: Path) -> None:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(
            b'{ "messages" : [ {"content": "What is 3 + 3?", "role": "user"},'
            b' {"role": "assistant", "content": "6"} ] }\n'
        )
        f.write(jsonl(example(3)))
    code, report = run_json(str(path))
    assert code == 0  # a warning
    assert [(i["code"], i["line"], i["severity"], i["message"]) for i in report["issues"]] == [
        ("FT109", 11, "warning", "duplicate of line 4"),
        ("FT109", 12, "warning", "duplicate of line 4"),
    ]


def test_duplicates_with_big_integers_are_found(tmp_path: Path) -> None:
    # orjson refuses integers beyond 64 bits; the slow path reads them, and digests them alike.
    record = ('{"messages": [{"role": "user", "content": "q %d"}, '
              '{"role": "assistant", "content": "a"}], "tools": [{"type": "function", '
              '"function": {"name": "f", "parameters": {"maxLength": 123456789012345678901234567890}}}]}')
    path = clean_file(tmp_path, 10)
    with path.open("a") as f:
        f.write(f"{record % 1}\n{record % 2}\n{record % 1}\n")
    assert codes_at(run_json(str(path))[1]) == [("FT109", 13)]


def test_lone_surrogates_are_invalid_utf8_in_every_command(tmp_path: Path) -> None:
    """One verdict: convert rejects a lone surrogate (unencodable_text); validate, count and
    split report the same line with the same words."""
    path = clean_file(tmp_path, 10)
    with path.open("a") as f:
        f.write('{"messages": [{"role": "user", "content": "\\ud83d"}, '
                '{"role": "assistant", "content": "a"}]}\n')
    code, report = run_json(str(path))
    assert code == 1 and codes_at(report) == [("FT104", 11)]
    detail = report["issues"][0]["message"]
    for args in (["count", str(path), "-m", "gpt-4o-mini"],
                 ["split", str(path), "-o", str(tmp_path / "out")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and f"data.jsonl:11: {detail}" in result.output, result.output


def test_mixed_formats(tmp_path: Path) -> None:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(jsonl({"prompt": "p", "completion": "c"}))
    code, report = run_json(str(path))
    assert code == 1 and report["format"] == "chat"
    assert positioned(report) == [("FT110", 11, "", "error")]


def test_format_is_found_after_leading_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"prompt": f"{i} + {i} =", "completion": f" {2 * i}"} for i in range(10)]
    path.write_bytes(b"oops\n[]\n" + jsonl(*rows))
    code, report = run_json(str(path))
    assert code == 1 and report["format"] == "completion"
    assert codes_at(report) == [("FT101", 1), ("FT102", 2)]


# ---- preference and completion files, sample data -----------------------------------------------


def test_clean_preference_file(tmp_path: Path) -> None:
    path = tmp_path / "pref.jsonl"
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"Say {i} politely."}]},
            "preferred_output": [{"role": "assistant", "content": f"Certainly: {i}."}],
            "non_preferred_output": [{"role": "assistant", "content": f"{i}. Whatever."}],
        }
        for i in range(10)
    ]
    path.write_bytes(jsonl(*rows))
    code, report = run_json(str(path))
    assert (code, report["format"], report["examples"], report["issues"]) == (
        0,
        "preference",
        10,
        [],
    )


def test_completion_file_with_problems(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    rows = [{"prompt": f"{i} + {i} =", "completion": f" {2 * i}"} for i in range(10)]
    rows += [{"prompt": "x", "completion": ""}, {"prompt": "y", "completion": "z", "weight": 1}]
    path.write_bytes(jsonl(*rows))
    code, report = run_json(str(path))
    assert code == 1 and report["format"] == "completion"
    assert [(i["code"], i["line"], i["path"]) for i in report["issues"]] == [
        ("FT501", 11, "completion"),
        ("FT203", 12, "weight"),
    ]


def test_sample_clean_file_is_valid() -> None:
    code, report = run_json(str(SAMPLES / "chat_clean.jsonl"))
    assert (code, report["issues"]) == (0, [])
    assert report["examples"] >= 12


def test_sample_defects_file_shows_each_common_defect() -> None:
    code, report = run_json(str(SAMPLES / "defects.jsonl"))
    assert code == 1
    assert set(report["counts"]) == {
        "FT101",
        "FT103",
        "FT109",
        "FT203",
        "FT204",
        "FT301",
        "FT302",
        "FT304",
        "FT305",
        "FT306",
        "FT401",
        "FT402",
        "FT403",
        "FT501",
        "FT502",
    }
    assert set(report["counts"].values()) == {1}  # one finding per defect, no echoes


# ---- ftprep rules ------------------------------------------------------------------------------


def test_rules_catalog_is_complete_and_unique() -> None:
    rules = load_rules()
    assert len({r.name for r in rules.values()}) == len(rules)
    for code, r in rules.items():
        assert r.code == code and code[:2] == "FT" and len(code) == 5
        assert r.summary.strip() and r.why.strip() and r.fix.strip(), code
    result = CliRunner().invoke(main, ["rules", "--format", "json"])
    listed = json.loads(result.output)
    assert [r["code"] for r in listed] == sorted(rules)
    assert all(set(r) == {"code", "name", "severity", "summary", "why", "fix", "default"} for r in listed)


def test_rules_text_lists_one_line_per_rule() -> None:
    result = CliRunner().invoke(main, ["rules"])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and len(lines) == len(load_rules())
    assert any(line.startswith("FT401  unknown-tool-call-id") for line in lines)
    assert (
        len(
            {line.index(" error") if " error" in line else line.index(" warning") for line in lines}
        )
        == 1
    )


@pytest.mark.parametrize("query", ["FT401", "ft401", "unknown-tool-call-id"])
def test_rules_explains_one_rule(query: str) -> None:
    result = CliRunner().invoke(main, ["rules", query])
    assert result.exit_code == 0
    assert result.output.startswith("FT401 unknown-tool-call-id (error)")
    assert "Why: " in result.output and "Fix: " in result.output
    as_json = json.loads(CliRunner().invoke(main, ["rules", query, "--format", "json"]).output)
    assert as_json["code"] == "FT401" and as_json["why"]


def test_rules_unknown_code_exits_2() -> None:
    result = CliRunner().invoke(main, ["rules", "FT999"])
    assert result.exit_code == 2 and "no rule 'FT999'" in result.output


# ---- library and installed script --------------------------------------------------------------


def test_library_report_round_trips(tmp_path: Path) -> None:
    report = validate_file(clean_file(tmp_path, 3))
    assert not report.ok and report.errors == 1 and report.counts() == {"FT107": 1}
    assert json.loads(json.dumps(report.to_dict()))["issues"][0]["code"] == "FT107"


def test_installed_script(tmp_path: Path) -> None:
    path = clean_file(tmp_path, 10)
    with path.open("ab") as f:
        f.write(
            jsonl({"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]})
        )
    done = subprocess.run(
        [FTPREP, "validate", str(path), "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert codes_at(json.loads(done.stdout)) == [("FT301", 11)]
    done = subprocess.run(
        [FTPREP, "validate", str(SAMPLES / "chat_clean.jsonl")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "valid — chat" in done.stdout and done.stderr == ""
