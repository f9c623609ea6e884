"""`submit` refuses what cannot train before anything is sent: a model whose fine-tuning is
shut down or closed, a method the model lacks. And Azure: trainingType, the v1 endpoint."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.models import FineTuningRefused
from ftprep.platform.jobs import JobOptions
from ftprep.platform.submit import plan_submission
from tests.conftest import FAKE_KEY
from tests.fake_openai import FakeOpenAI


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def use_azure(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, endpoint: str = "") -> None:
    """Point --provider azure at the fake server: its resource root, or `endpoint` under it."""
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", f"{server.root}{endpoint}")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_KEY)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("extra", [["--yes"], ["--dry-run"]])
def test_shut_down_model_is_refused_before_any_request(
    platform_env: FakeOpenAI, chat_file: Path, extra: list[str]
) -> None:
    line = one_line_error(run("submit", str(chat_file), "--model", "gpt-4.1-nano", *extra))
    assert "not submitting: fine-tuning gpt-4.1-nano-2025-04-14 is shut down since 2026-10-23" in line
    assert "--force" in line
    assert platform_env.requests == []


def test_dpo_on_a_supervised_only_model_is_refused_before_any_request(
    platform_env: FakeOpenAI, preference_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_azure(platform_env, monkeypatch, "/openai/v1/")
    for extra in (["--yes"], ["--dry-run"]):
        line = one_line_error(run("submit", str(preference_file), "--model", "gpt-4.1-nano",
                                  "--provider", "azure", *extra))
        assert ("azure/gpt-4.1-nano-2025-04-14 does not support dpo fine-tuning "
                "(supported: supervised)") in line
    assert platform_env.requests == []


def test_force_overrides_the_refusal(platform_env: FakeOpenAI, chat_file: Path) -> None:
    model = "gpt-4.1-nano-2025-04-14"
    platform_env.models[model] = {"id": model, "object": "model", "created": 1, "owned_by": "system"}
    result = run("submit", str(chat_file), "--model", "gpt-4.1-nano", "--yes", "--force",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    (job,) = platform_env.calls("POST", "/fine_tuning/jobs")
    assert json.loads(job.body)["model"] == model


def test_closed_and_open_dates_with_injected_today(chat_file: Path,
                                                   preference_file: Path) -> None:
    options = JobOptions(model="gpt-4o-mini")
    with pytest.raises(FineTuningRefused, match=r"no new fine-tuning jobs .* since 2027-01-06"):
        plan_submission(chat_file, None, options, today=dt.date(2027, 1, 7))
    plan = plan_submission(chat_file, None, options, today=dt.date(2026, 12, 1))
    assert plan.options.model == "gpt-4o-mini-2024-07-18"
    assert plan_submission(preference_file, None, options, today=dt.date(2026, 12, 1)).ok
    forced = plan_submission(chat_file, None, options, today=dt.date(2027, 1, 7), force=True)
    assert forced.options.model == "gpt-4o-mini-2024-07-18"


def test_azure_training_type_goes_in_the_job_body(
    platform_env: FakeOpenAI, chat_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_azure(platform_env, monkeypatch)
    result = run("submit", str(chat_file), "--model", "gpt-4.1-mini", "--provider", "azure",
                 "--training-type", "globalstandard", "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    (job,) = platform_env.calls("POST", "/fine_tuning/jobs")
    body = json.loads(job.body)
    assert body["trainingType"] == "GlobalStandard"
    assert body["model"] == "gpt-4.1-mini-2025-04-14"  # the Azure row's API id, no azure/ prefix
    assert job.query.get("api-version")
    dry = run("submit", str(chat_file), "--model", "gpt-4.1-mini", "--provider", "azure",
              "--training-type", "developertier", "--dry-run")
    assert '"trainingType": "developerTier"' in dry.output


def test_training_type_is_refused_outside_azure(platform_env: FakeOpenAI,
                                                chat_file: Path) -> None:
    line = one_line_error(run("submit", str(chat_file), "--model", "gpt-4o-mini",
                              "--training-type", "Standard", "--dry-run"))
    assert "--training-type is an Azure OpenAI option" in line
    assert platform_env.requests == []


def test_azure_v1_endpoint_beside_the_api_version_style(
    platform_env: FakeOpenAI, chat_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_azure(platform_env, monkeypatch, "/openai/v1/")
    result = run("submit", str(chat_file), "--model", "gpt-4o-mini", "--provider", "azure",
                 "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    assert platform_env.requests
    for req in platform_env.requests:
        assert req.raw_path.startswith("/openai/v1/")
        assert "api-version" not in req.query
        assert req.headers.get("api-key") == FAKE_KEY
    line = one_line_error(run("jobs", "list", "--provider", "azure", "--api-version",
                              "2025-04-01-preview"))
    assert "does not apply to the v1 endpoint" in line
