"""`ftprep submit`: checks, estimate, confirmation, dry run, dedupe, job body, --wait."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.cli.common import usd
from tests.fake_openai import FakeOpenAI

BASE = "gpt-4o-mini-2024-07-18"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def submit(path: Path, *extra: str, input: str | None = None):
    return run("submit", str(path), "--model", BASE, *extra, input=input)


def created_bodies(server: FakeOpenAI) -> list[dict]:
    return [json.loads(r.body) for r in server.calls("POST", "/fine_tuning/jobs")]


def test_submit_uploads_creates_job_and_prints_next_steps(
        platform_env: FakeOpenAI, chat_file: Path, chat_valid_file: Path) -> None:
    result = submit(chat_file, "--validation", str(chat_valid_file), "--yes", "--epochs", "2",
                    "--suffix", "demo", "--seed", "7", "--metadata", "team=nlp",
                    "--metadata", "run=1", "--wandb-project", "proj")
    assert result.exit_code == 0, result.output
    from ftprep.estimate import estimate_file

    est = estimate_file(chat_file, model=BASE, epochs=2, validation=chat_valid_file)
    assert f"estimated cost: {usd(est.cost_usd)} for {est.billed_tokens:,} billed tokens" in (
        result.stdout)
    assert "12 examples" in result.stdout and "10 examples" in result.stdout
    job_id = next(iter(platform_env.jobs))
    assert f"job {job_id} created" in result.stdout
    assert f"ftprep jobs watch {job_id}" in result.stdout
    (body,) = created_bodies(platform_env)
    train_id, valid_id = body["training_file"], body["validation_file"]
    assert platform_env.files[train_id]["filename"].startswith("train.")
    assert platform_env.files[valid_id]["filename"].startswith("valid.")
    assert body["method"] == {"type": "supervised",
                              "supervised": {"hyperparameters": {"n_epochs": 2}}}
    request_id = body["metadata"].pop("ftprep_request_id")  # makes creation idempotent
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert (body["suffix"], body["seed"], body["metadata"]) == ("demo", 7, {"team": "nlp",
                                                                            "run": "1"})
    assert body["integrations"] == [{"type": "wandb", "wandb": {"project": "proj"}}]


def test_resubmitting_reuses_uploaded_files(platform_env: FakeOpenAI,
                                            chat_file: Path) -> None:
    assert submit(chat_file, "--yes").exit_code == 0
    second = submit(chat_file, "--yes", "--format", "json")
    assert second.exit_code == 0
    data = json.loads(second.stdout)
    assert data["files"]["training_file"]["reused"] is True
    assert len(platform_env.calls("POST", "/files")) == 1
    assert len(platform_env.jobs) == 2


def test_preference_data_defaults_to_dpo_with_beta(platform_env: FakeOpenAI,
                                                   preference_file: Path) -> None:
    result = submit(preference_file, "--yes", "--beta", "0.2", "--batch-size", "4",
                    "--learning-rate-multiplier", "0.5")
    assert result.exit_code == 0, result.output
    (body,) = created_bodies(platform_env)
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {
        "batch_size": 4, "learning_rate_multiplier": 0.5, "beta": 0.2}}}


@pytest.mark.parametrize("extra, message", [
    (("--beta", "0.1"), "--beta only applies"),
    (("--method", "dpo"), "needs preference data"),
    (("--metadata", "oops"), "key=value"),
])
def test_option_conflicts_are_usage_errors_before_anything_is_sent(
        platform_env: FakeOpenAI, chat_file: Path, extra, message) -> None:
    result = submit(chat_file, "--yes", *extra)
    assert result.exit_code == 2 and message in result.stderr
    assert platform_env.requests == []


def test_refuses_without_tty_and_without_yes(platform_env: FakeOpenAI,
                                             chat_file: Path) -> None:
    result = submit(chat_file)  # CliRunner's stdin is not a terminal
    assert result.exit_code == 2
    assert "no terminal to ask on" in result.stderr and "--yes" in result.stderr
    assert platform_env.requests == []


def test_asks_on_a_terminal(platform_env: FakeOpenAI, chat_file: Path,
                            monkeypatch) -> None:
    monkeypatch.setattr("ftprep.cli.common.stdin_is_tty", lambda: True)
    declined = submit(chat_file, input="n\n")
    assert declined.exit_code == 1 and "not submitted" in declined.stderr
    assert platform_env.requests == []
    accepted = submit(chat_file, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Submit" in accepted.stderr and len(platform_env.jobs) == 1


def test_invalid_data_refused_unless_force(platform_env: FakeOpenAI,
                                           broken_file: Path) -> None:
    refused = submit(broken_file, "--yes")
    assert refused.exit_code == 1
    assert "not submitting" in refused.stderr and "broken.jsonl:12" in refused.stderr
    assert platform_env.requests == []
    forced = submit(broken_file, "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert "estimated cost: unknown" in forced.stdout and "broken.jsonl:12" in forced.stdout
    assert len(platform_env.jobs) == 1


def test_dry_run_shows_requests_and_sends_nothing(platform_env: FakeOpenAI,
                                                  chat_file: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")  # a preview needs no key
    result = submit(chat_file, "--dry-run", "--epochs", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (upload,) = data["requests"]["uploads"]
    assert upload["purpose"] == "fine-tune" and upload["bytes"] == chat_file.stat().st_size
    assert upload["filename"] == f"train.{upload['sha256'][:12]}.jsonl"
    job = data["requests"]["job"]
    assert job["model"] == BASE and job["training_file"].startswith("<file id of train.")
    assert job["method"]["supervised"]["hyperparameters"] == {"n_epochs": 3}
    assert data["provider"]["base_url"] == platform_env.url
    assert "estimate" in data and data["validation"][0]["examples"] == 12
    assert platform_env.requests == []
    text = submit(chat_file, "--dry-run")
    assert "dry run: nothing sent" in text.stdout and platform_env.requests == []


def test_submit_wait_then_metrics_end_to_end(platform_env: FakeOpenAI,
                                             chat_file: Path) -> None:
    result = submit(chat_file, "--yes", "--wait", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["job"]["status"] == "succeeded"
    assert data["job"]["fine_tuned_model"].startswith(f"ft:{BASE}:")
    assert data["files"]["training_file"]["file_id"] == data["job"]["training_file"]
    assert "status: succeeded" in result.stderr
    metrics = json.loads(run("jobs", "metrics", data["job"]["id"], "--format", "json").stdout)
    assert metrics["series"]["train_loss"]["last"] == 0.3333


def test_submit_wait_failed_job_exits_1(platform_env: FakeOpenAI,
                                        chat_file: Path) -> None:
    platform_env.fail_jobs = True
    result = submit(chat_file, "--yes", "--wait")
    assert result.exit_code == 1
    assert "failed" in result.stdout and "invalid training file" in result.stdout


def test_wind_down_403_on_job_creation_explains(platform_env: FakeOpenAI,
                                                chat_file: Path) -> None:
    from tests.fake_openai import Fault

    platform_env.faults.append(Fault("POST", "/fine_tuning/jobs", status=403,
                                     code="training_not_available",
                                     message="Fine-tuning is not available for your org"))
    result = submit(chat_file, "--yes")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "winding down" in line
    assert "Azure OpenAI" in line and "OpenAI-compatible" in line


def test_installed_script_dry_run(platform_env: FakeOpenAI, chat_file: Path) -> None:
    """The real console script, in a subprocess."""
    script = Path(sys.executable).with_name("ftprep")
    env = {**os.environ, "FTPREP_STATE_DIR": str(chat_file.parent / "state")}
    proc = subprocess.run([str(script), "submit", str(chat_file), "--model", BASE, "--dry-run",
                           "--format", "json"], check=False, capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["requests"]["job"]["model"] == BASE
    assert data["estimate"]["billed_tokens"] > 0 and data["validation"][0]["examples"] == 12
    assert platform_env.requests == []


def dry_run_job(path: Path, model: str) -> dict:
    result = run("submit", str(path), "--model", model, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("given", "sent"), [
    ("gpt-4o-mini", BASE),  # an alias: fine-tuning takes the snapshot id
    (BASE, BASE),
    ("ft:gpt-4o-mini-2024-07-18:acme:v1:abc123", "ft:gpt-4o-mini-2024-07-18:acme:v1:abc123"),
])
def test_model_is_resolved_through_the_registry(platform_env: FakeOpenAI, chat_file: Path,
                                                given: str, sent: str) -> None:
    data = dry_run_job(chat_file, given)
    assert data["requests"]["job"]["model"] == sent
    assert data["estimate"]["billed_tokens"] > 0  # priced as the base model


def test_model_unknown_to_the_registry_is_sent_as_given_without_price(
        platform_env: FakeOpenAI, chat_file: Path) -> None:
    # e.g. an open model on an OpenAI-compatible server: checked without token limits
    data = dry_run_job(chat_file, "acme/llama-3-8b")
    assert data["requests"]["job"]["model"] == "acme/llama-3-8b"
    assert data["validation"][0]["model"] is None and data["validation"][0]["valid"] is True
    assert data["estimate"] is None or data["estimate"].get("cost_usd") is None
