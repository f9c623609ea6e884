"""Inputs and options that used to end in `ftprep: internal error`: each is now one line
naming what is wrong, with exit 2 (usage/input) or a reject (exit 1)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main


def ftprep(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr if result.stderr_bytes is not None else result.output


@pytest.fixture
def table(tmp_path: Path) -> Path:
    p = tmp_path / "t.csv"
    p.write_text("q,a\nhello,world\n")
    return p


@pytest.mark.parametrize("encoding", ["base64", "rot13", "hex", "punycode", "undefined"])
def test_codecs_that_are_not_text_encodings_are_refused(table: Path, encoding: str) -> None:
    code, err = ftprep("convert", str(table), "-o", str(table.with_suffix(".jsonl")),
                       "--user", "q", "--assistant", "a", "--encoding", encoding)
    assert code == 2
    assert err == f"ftprep: error: encoding={encoding!r} is not a text encoding " \
                  "(e.g. utf-8, cp1252, latin-1, utf-16)\n"


@pytest.mark.parametrize(("template", "why"), [
    ("{q:d}", "Unknown format code 'd'"),
    ("{q:{a}}", "nested fields are not supported"),
    ("{q:>100000000000}", "width or precision over 10000"),
    ("{q!x}", "unknown conversion !x"),
])
def test_template_format_specs_that_would_fail_are_refused_up_front(
        table: Path, template: str, why: str) -> None:
    code, err = ftprep("convert", str(table), "-o", str(table.with_suffix(".jsonl")),
                       "--user-template", template, "--assistant", "a")
    assert code == 2
    assert err.startswith(f"ftprep: error: --user-template: {template}: ") and why in err
    assert err.count("\n") == 1


def test_a_format_spec_that_text_accepts_still_works(table: Path) -> None:
    out = table.with_suffix(".jsonl")
    code, _ = ftprep("convert", str(table), "-o", str(out), "--user-template", "[{q:>7}]",
                     "--assistant", "a")
    assert code == 0
    assert '"[  hello]"' in out.read_text()
