"""Contract test: drive submit, files, jobs and models against Stoplight Prism mocking the
official OpenAPI spec. Prism answers 422 to any request that is off-spec, which our CLI turns
into exit 2 — so every command below must exit 0.

Needs ../shared/openai-openapi.yaml (next to the repo) and Node/npm; Prism itself is installed
on first use into the ignored `.tools/prism` folder (or beforehand with `make prism`).
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "openai-openapi.yaml"
PRISM_DIR = ROOT / ".tools" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
STARTUP_DEADLINE = 120.0  # seconds; Prism parses a 3 MB spec before it listens
KEY = "sk-contract-test-key-000"


def _install_prism() -> None:
    npm = shutil.which("npm")
    if PRISM_BIN.exists():
        return
    if npm is None:
        pytest.skip("npm not found: cannot install Stoplight Prism for the contract test")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix",
         str(PRISM_DIR), "@stoplight/prism-cli@5"],
        check=False, capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0 or not PRISM_BIN.exists():
        pytest.skip(f"could not install @stoplight/prism-cli from npm: {proc.stderr[-300:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Prism exited ({proc.returncode}): {log.read_text()[-1000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)  # polling the port, not a fixed wait for readiness
    pytest.fail(f"Prism did not listen within {STARTUP_DEADLINE}s: {log.read_text()[-1000:]}")


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not SPEC.exists():
        pytest.skip(f"OpenAPI spec not found at {SPEC}")
    if shutil.which("node") is None:
        pytest.skip("node not found: the Prism contract test needs Node.js")
    _install_prism()
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(PRISM_BIN), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def prism_env(prism_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("OPENAI_ORG_ID", "OPENAI_ORGANIZATION", "OPENAI_PROJECT_ID", "FTPREP_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", prism_url)
    monkeypatch.setenv("FTPREP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FTPREP_MAX_RETRIES", "0")  # a 422 must surface, not be retried
    return prism_url


def ok(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


def test_files_on_spec(prism_env: str, chat_file: Path) -> None:
    uploaded = json.loads(ok("files", "upload", str(chat_file)))
    assert uploaded["file_id"]
    assert json.loads(ok("files", "list"))["data"]
    ok("files", "list", "--purpose", "fine-tune")
    assert json.loads(ok("files", "get", "file-abc123"))["object"] == "file"
    assert json.loads(ok("files", "delete", "file-abc123"))["deleted"] is True
    result = CliRunner().invoke(main, ["files", "content", "file-abc123"])
    assert result.exit_code == 0, result.output


def test_uploads_api_in_parts_on_spec(prism_env: str, chat_file: Path) -> None:
    result = CliRunner().invoke(main, ["files", "upload", str(chat_file), "--part-threshold",
                                       "10", "--part-size", "600"])
    # create → parts → complete were all accepted (no 422). Prism's static example for
    # `complete` is a *pending* upload without a file, which we rightly refuse to call done.
    assert "(422)" not in result.output
    assert result.exit_code == 0 or "completed without a file (status pending)" in result.stderr


def test_prism_rejects_off_spec_requests(prism_env: str) -> None:
    """The premise of this module: an off-spec request fails with 422 → exit 2."""
    from ftprep.errors import PlatformError
    from ftprep.platform.client import PlatformClient
    from ftprep.platform.config import resolve_config

    client = PlatformClient(resolve_config())
    with pytest.raises(PlatformError, match="422"):
        client.create_job_once({"model": "gpt-4o-mini", "training_file": "file-abc123",
                                "method": {"type": "not-a-method"}})


def test_jobs_on_spec(prism_env: str) -> None:
    job = "ftjob-abc123"
    assert json.loads(ok("jobs", "list", "--limit", "5"))["data"]
    assert json.loads(ok("jobs", "get", job))["object"] == "fine_tuning.job"
    for action in ("cancel", "pause", "resume"):
        assert json.loads(ok("jobs", action, job))["object"] == "fine_tuning.job"
    ok("jobs", "events", job, "--limit", "10")
    ok("jobs", "checkpoints", job)


def test_models_on_spec(prism_env: str) -> None:
    assert json.loads(ok("models", "list"))["data"]
    ok("models", "list", "--fine-tuned")
    assert json.loads(ok("models", "summary"))["owners"]
    assert json.loads(ok("models", "get", "gpt-4o-mini"))["object"] == "model"
    ok("models", "delete", "ft:gpt-4o-mini:acemeco:suffix:abc123")


@pytest.mark.parametrize("extra", [(), ("--epochs", "2", "--batch-size", "4", "--suffix", "x",
                                        "--seed", "1", "--metadata", "k=v",
                                        "--wandb-project", "p", "--learning-rate-multiplier",
                                        "0.5")])
def test_submit_on_spec(prism_env: str, chat_file: Path,
                        chat_valid_file: Path, extra: tuple[str, ...]) -> None:
    data = json.loads(ok("submit", str(chat_file), "--validation", str(chat_valid_file),
                         "--model", "gpt-4o-mini-2024-07-18", "--yes", *extra))
    assert data["job"]["object"] == "fine_tuning.job"


def test_submit_dpo_on_spec(prism_env: str, preference_file: Path) -> None:
    data = json.loads(ok("submit", str(preference_file), "--model", "gpt-4o-mini-2024-07-18",
                         "--yes", "--beta", "0.1"))
    assert data["job"]["object"] == "fine_tuning.job"


# -- eval and try: the chat completion requests they send ----------------------------------------
def _eval_test_file(path: Path) -> Path:
    tools = [{"type": "function", "function": {
        "name": "lookup", "description": "Find an order",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}]
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"id": "7"}'}}
    records = [
        {"messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Capital of France?"},
                      {"role": "assistant", "content": "Paris", "weight": 1}]},
        {"messages": [{"role": "user", "content": "Where is order 7?"},
                      {"role": "assistant", "tool_calls": [call]}], "tools": tools},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_eval_requests_on_spec(prism_env: str, tmp_path: Path) -> None:
    """Every request eval sends (answers with and without tools, seed, judge) passes Prism's
    validation: a 422 would be a failed request, and eval would exit 1."""
    test = _eval_test_file(tmp_path / "test.jsonl")
    shots = tmp_path / "train.jsonl"
    shots.write_text(test.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "eval.toml").write_text(
        '[[candidates]]\nmodel = "gpt-4o-mini"\n\n[[candidates]]\nlabel = "shots"\n'
        'model = "gpt-4.1-mini"\nsystem_prompt = "Answer exactly."\nfew_shot = 1\n'
        'shots_from = "train.jsonl"\n', encoding="utf-8")
    result = CliRunner().invoke(main, [
        "eval", str(test), "--candidates", str(tmp_path / "eval.toml"), "--seed", "3",
        "--judge", "gpt-4o", "--metric", "exact", "--no-cache", "--yes", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["errors"] for m in data["models"]] == [0, 0]


def test_try_request_on_spec(prism_env: str, tmp_path: Path) -> None:
    test = _eval_test_file(tmp_path / "test.jsonl")
    for args in (["try", "gpt-4o-mini", "hello", "--system", "Be brief.", "--temperature", "0",
                  "--max-tokens", "20", "--seed", "1"],
                 ["try", "gpt-4o-mini", "--from", str(test), "--line", "2"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
