"""The root command: one-line errors, exit codes, no tracebacks, no secrets."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import ftprep
from ftprep.cli import main

FTPREP = str(Path(sys.executable).with_name("ftprep"))


def test_version_and_help() -> None:
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and ftprep.__version__ in r.output
    r = CliRunner().invoke(main, ["--help"])
    for command in ("convert", "validate", "rules"):
        assert command in r.output


def test_unexpected_exception_is_one_line_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-SECRETSECRETSECRET123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.delenv("FTPREP_DEBUG", raising=False)

    @click.command("boom")
    def boom() -> None:
        raise RuntimeError(f"failed with key {secret}")

    main.add_command(boom)
    try:
        r = CliRunner().invoke(main, ["boom"])
    finally:
        main.commands.pop("boom")
    assert r.exit_code == 2
    assert "internal error: RuntimeError" in r.output
    assert secret not in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_missing_file_is_exit_2_one_line_in_subprocess(tmp_path: Path) -> None:
    r = subprocess.run([FTPREP, "validate", str(tmp_path / "nope.jsonl")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == f"ftprep: error: {tmp_path / 'nope.jsonl'}: no such file"
    assert "Traceback" not in r.stderr


def test_unknown_option_is_usage_error() -> None:
    r = CliRunner().invoke(main, ["validate", "--no-such-option", "x"])
    assert r.exit_code == 2


def test_lazy_public_api_names_resolve() -> None:
    assert set(ftprep.__all__) == {"__version__", *ftprep._EXPORTS}
    for name in ftprep._EXPORTS:
        assert getattr(ftprep, name) is not None
    assert ftprep.validate_file.__module__ == "ftprep.validate"
    with pytest.raises(AttributeError):
        ftprep.no_such_name  # noqa: B018


def test_commands_load_lazily_and_in_pipeline_order() -> None:
    code = ("import sys; from ftprep.cli import main; "
            "assert 'openai' not in sys.modules, 'CLI start-up imported the openai SDK'; "
            "print(' '.join(main.list_commands(None)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["convert", "validate", "rules", "count", "estimate", "split",
                                "targets", "export", "submit", "files", "jobs", "models", "eval",
                                "try", "report"]


def test_models_group_carries_the_offline_info_command() -> None:
    r = CliRunner().invoke(main, ["models", "--help"])
    assert r.exit_code == 0
    for sub in ("list", "get", "delete", "summary", "info"):
        assert f"  {sub}" in r.output
