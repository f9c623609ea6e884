"""Providers, error lines, retries and secret redaction of the platform commands."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from tests.conftest import FAKE_KEY
from tests.fake_openai import FakeOpenAI, Fault

WRONG_KEY = "wrong-SECRET-token-0042"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_one_clean_line(result, exit_code: int = 2) -> str:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert FAKE_KEY not in result.output and WRONG_KEY not in result.output
    lines = [ln for ln in result.stderr.strip().splitlines()
             if not ln.startswith("ftprep[debug]")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ftprep: error: ")
    return lines[0]


def test_missing_key_names_the_variable(platform_env: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    line = assert_one_clean_line(run("files", "list"))
    assert "set the environment variable OPENAI_API_KEY" in line
    line = assert_one_clean_line(run("models", "list", "--api-key-env", "MY_TOKEN"))
    assert "MY_TOKEN" in line
    assert platform_env.requests == []


def test_compatible_provider_needs_a_base_url(platform_env: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    line = assert_one_clean_line(run("models", "list", "--provider", "compatible"))
    assert "--base-url" in line


def test_compatible_provider_with_other_key_variable(platform_env: FakeOpenAI,
                                                     monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("MY_TOKEN", FAKE_KEY)
    result = run("models", "list", "--provider", "compatible", "--base-url", platform_env.url,
                 "--api-key-env", "MY_TOKEN", "--format", "json")
    assert result.exit_code == 0, result.output
    assert platform_env.calls("GET", "/models")[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


@pytest.mark.parametrize("key_env", ["OPENAI_API_KEY", "CUSTOM_TOKEN"])
def test_401_never_shows_the_key_the_server_echoes(platform_env: FakeOpenAI, monkeypatch,
                                                   key_env: str) -> None:
    # CUSTOM_TOKEN is not a variable redact() knows by name: the client must pass the secret.
    monkeypatch.setenv(key_env, WRONG_KEY)
    result = run("files", "list", "--api-key-env", key_env)
    line = assert_one_clean_line(result)
    assert "authentication failed (401)" in line and f"${key_env}" in line
    assert "***" in line  # the server's message quoted the key; we show a mask instead


@pytest.mark.parametrize("status, code, expected", [
    (403, "insufficient_permissions", "permission denied (403)"),
    (403, "training_not_available", "winding down"),
    (404, "not_found", "not found (404)"),
    (409, "conflict", "conflict (409)"),
    (429, "rate_limit_exceeded", "rate limited (429) after 1 retry"),
    (500, "server_error", "server error (500) after 1 retry"),
    (503, "overloaded", "server error (503) after 1 retry"),
    (400, "invalid_request", "request rejected (400)"),
])
def test_status_errors_become_one_clean_line(platform_env: FakeOpenAI, status: int, code: str,
                                             expected: str) -> None:
    platform_env.faults.append(Fault("GET", "/models", status=status, code=code, times=5,
                                     message=f"injected; your key {FAKE_KEY} was used"))
    line = assert_one_clean_line(run("models", "list", "--max-retries", "1", "--debug"))
    assert expected in line


def test_retries_429_then_succeeds(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", status=429, times=2))
    result = run("models", "list", "--format", "json", "--max-retries", "2")
    assert result.exit_code == 0, result.output
    assert len(platform_env.calls("GET", "/models")) == 3
    assert len(json.loads(result.stdout)["data"]) == len(platform_env.models)


def test_no_retries_when_disabled(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", status=500, times=1))
    assert_one_clean_line(run("models", "list", "--max-retries", "0"))
    assert len(platform_env.calls("GET", "/models")) == 1


def test_slow_response_times_out(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", kind="slow", delay=0.5))
    line = assert_one_clean_line(run("models", "list", "--timeout", "0.1", "--max-retries", "0"))
    assert "timed out" in line


def test_slow_response_within_timeout_succeeds(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", kind="slow", delay=0.05))
    assert run("models", "list", "--timeout", "5").exit_code == 0


def test_unreachable_server(platform_env: FakeOpenAI) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    line = assert_one_clean_line(run("models", "list", "--base-url",
                                     f"http://127.0.0.1:{port}/v1", "--max-retries", "0"))
    assert f"cannot reach http://127.0.0.1:{port}/v1" in line


def test_debug_logs_requests_redacted(platform_env: FakeOpenAI) -> None:
    result = run("files", "list", "--debug")
    assert result.exit_code == 0
    assert f"→ GET {platform_env.url}/files" in result.stderr
    assert "'authorization': '***'" in result.stderr
    assert FAKE_KEY not in result.output


def test_azure_provider_uses_azure_url_shape_and_header(platform_env: FakeOpenAI,
                                                        monkeypatch, chat_file: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", platform_env.root)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_KEY)
    up = run("files", "upload", str(chat_file), "--provider", "azure", "--api-version",
             "2025-04-01-preview", "--format", "json")
    assert up.exit_code == 0, up.output
    listed = run("jobs", "list", "--provider", "azure", "--format", "json")
    assert listed.exit_code == 0, listed.output
    for req in platform_env.requests:
        assert req.headers.get("api-key") == FAKE_KEY
        assert req.query.get("api-version")
    assert all(r.raw_path.startswith("/openai/") and r.headers.get("authorization") is None
               for r in platform_env.requests)  # Azure sends api-key, not a bearer token
    assert platform_env.calls("POST", "/files")[0].query["api-version"] == "2025-04-01-preview"


def test_azure_wrong_key_is_redacted(platform_env: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", platform_env.root)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", WRONG_KEY)
    line = assert_one_clean_line(run("models", "list", "--provider", "azure"))
    assert "authentication failed (401)" in line and "$AZURE_OPENAI_API_KEY" in line


def test_azure_needs_an_endpoint(platform_env: FakeOpenAI) -> None:
    line = assert_one_clean_line(run("models", "list", "--provider", "azure"))
    assert "AZURE_OPENAI_ENDPOINT" in line


def _script() -> str:
    return str(Path(sys.executable).with_name("ftprep"))


def test_installed_script_lists_models_and_redacts(platform_env: FakeOpenAI) -> None:
    ok = subprocess.run([_script(), "models", "list", "--format", "json"], check=False,
                        capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert {m["id"] for m in json.loads(ok.stdout)["data"]} == set(platform_env.models)
    env = {**os.environ, "CUSTOM_TOKEN": WRONG_KEY}
    bad = subprocess.run([_script(), "files", "list", "--api-key-env", "CUSTOM_TOKEN", "--debug"],
                         check=False, capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2
    assert WRONG_KEY not in bad.stdout + bad.stderr
    assert "authentication failed (401)" in bad.stderr and "Traceback" not in bad.stderr
