"""Lifecycles that tell the truth: retirements, the day fine-tuned models stop serving (with
their base model), days left with an injected today, Azure rows, and the CLI views of them."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.errors import UsageError
from ftprep.models import (
    fine_tuned_lifecycle,
    get_model,
    lifecycle_status,
    list_models,
    resolve_today,
)
from tests.fake_openai import FakeOpenAI

TODAY = dt.date(2026, 11, 29)
RETIRED = dt.date(2026, 10, 23)


@pytest.mark.parametrize("name", ["gpt-4.1-nano", "gpt-3.5-turbo-0125", "gpt-4-0613"])
def test_models_retired_on_2026_10_23_with_their_fine_tunes(name: str) -> None:
    info = get_model(name)
    status = lifecycle_status(info, TODAY)
    assert status.state == "shutdown" and not status.can_fine_tune
    assert info.lifecycle.shutdown == info.lifecycle.model_shutdown == RETIRED
    assert status.serving_ends == RETIRED and status.serving_days_left == 0
    assert "stopped serving on 2026-10-23" in status.message
    # the day before, fine-tuning was still open for the two that had it on the registry
    before = lifecycle_status(info, RETIRED - dt.timedelta(days=1))
    assert before.serving_days_left == 1


def test_reinforcement_fine_tuning_o4_mini_is_shut_down() -> None:
    info = get_model("o4-mini")
    assert info.methods == ("reinforcement",)
    assert lifecycle_status(info, TODAY).state == "shutdown"
    assert info.lifecycle.shutdown == RETIRED


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"])
def test_reported_base_shutdown_is_marked_uncertain_with_days_left(name: str) -> None:
    status = lifecycle_status(get_model(name), TODAY)
    assert status.state == "closing" and status.days_to_close == 38  # to 2027-01-06
    assert status.serving_ends == dt.date(2027, 1, 14) and status.serving_days_left == 46
    assert status.dates_uncertain and "reported, not confirmed" in status.message
    assert get_model(name).sources["lifecycle"].note.startswith("Uncertain")
    later = lifecycle_status(get_model(name), dt.date(2027, 1, 10))
    assert later.state == "closed" and later.serving_days_left == 4


def test_fine_tuned_model_stops_with_its_base() -> None:
    life = fine_tuned_lifecycle("ft:gpt-4.1-mini-2025-04-14:acme:bot:abc123", TODAY)
    assert (life.base_model, life.stops_serving, life.days_left) == (
        "gpt-4.1-mini-2025-04-14", dt.date(2027, 1, 14), 46)
    assert life.uncertain and "not confirmed" in life.message
    gone = fine_tuned_lifecycle("ft:gpt-4.1-nano-2025-04-14:acme::x", TODAY)
    assert gone.days_left == 0 and "stopped serving on 2026-10-23" in gone.message
    unknown = fine_tuned_lifecycle("ft:custom-model:acme::x", TODAY)
    assert unknown.base_model is None and unknown.stops_serving is None


def test_azure_rows_methods_limits_and_ft_names() -> None:
    nano = get_model("gpt-4.1-nano", provider="azure")
    assert (nano.id, nano.api_id, nano.provider) == (
        "azure/gpt-4.1-nano-2025-04-14", "gpt-4.1-nano-2025-04-14", "azure")
    assert nano.methods == ("supervised",) and nano.max_example_tokens == 32768
    assert "dpo" in get_model("gpt-4.1-mini", provider="azure").methods
    assert get_model("azure/o4-mini").methods == ("reinforcement",)
    assert get_model("gpt-4.1-nano").provider == "openai"  # OpenAI stays the default
    azure_ft = fine_tuned_lifecycle("gpt-4.1-2025-04-14.ft-b044a9d3cf9c", TODAY, provider="azure")
    assert azure_ft.base_model == "azure/gpt-4.1-2025-04-14"
    for info in list_models():
        if info.provider == "azure":
            assert info.lifecycle.dates_uncertain
            assert info.sources["prices.training"].note.startswith("Uncertain")


def test_today_is_injectable_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPREP_TODAY", "2027-01-13")
    assert resolve_today() == dt.date(2027, 1, 13)
    assert lifecycle_status(get_model("gpt-4o")).serving_days_left == 1
    monkeypatch.setenv("FTPREP_TODAY", "tomorrow")
    with pytest.raises(UsageError, match="FTPREP_TODAY must be a YYYY-MM-DD date"):
        resolve_today()


def test_models_info_shows_days_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPREP_TODAY", TODAY.isoformat())
    runner = CliRunner()
    data = json.loads(runner.invoke(main, ["models", "info", "gpt-4.1", "--format", "json"]).output)
    assert data["status"]["days_to_close"] == 38
    assert data["status"]["fine_tuned_serving_days_left"] == 46
    assert data["lifecycle"]["model_shutdown"] == "2027-01-14"
    text = runner.invoke(main, ["models", "info", "gpt-4.1"]).output
    assert "days left to start jobs" in text and "~2027-01-14 (46 days left)" in text
    listing = runner.invoke(main, ["models", "info"], env={"COLUMNS": "200"}).output
    assert "stopped 2026-10-23" in listing


@pytest.fixture
def fine_tuned_models(platform_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("FTPREP_TODAY", TODAY.isoformat())
    for model_id in ("ft:gpt-4o-mini-2024-07-18:org-fake:bot:aaa111",
                     "ft:gpt-4.1-nano-2025-04-14:org-fake::bbb222",
                     "ft:my-own-base:org-fake::ccc333"):
        platform_env.models[model_id] = {"id": model_id, "object": "model",
                                         "created": 1_760_000_000, "owned_by": "org-fake"}
    return platform_env


def test_models_list_fine_tuned_shows_stop_date_and_days_left(
    fine_tuned_models: FakeOpenAI,
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["models", "list", "--fine-tuned", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {m["id"]: m["lifecycle"] for m in json.loads(result.output)["data"]}
    assert set(rows) == {"ft:gpt-4o-mini-2024-07-18:org-fake:bot:aaa111",
                         "ft:gpt-4.1-nano-2025-04-14:org-fake::bbb222",
                         "ft:my-own-base:org-fake::ccc333"}
    assert rows["ft:gpt-4o-mini-2024-07-18:org-fake:bot:aaa111"]["days_left"] == 46
    assert rows["ft:gpt-4.1-nano-2025-04-14:org-fake::bbb222"]["stops_serving"] == "2026-10-23"
    assert rows["ft:gpt-4.1-nano-2025-04-14:org-fake::bbb222"]["days_left"] == 0
    assert rows["ft:my-own-base:org-fake::ccc333"]["stops_serving"] is None
    text = runner.invoke(main, ["models", "list", "--fine-tuned"]).output
    header, *lines = text.splitlines()
    assert header.split() == ["ID", "OWNER", "CREATED", "STOPS_SERVING", "DAYS_LEFT"]
    mini = next(line for line in lines if "gpt-4o-mini" in line)
    assert mini.split()[-2:] == ["~2027-01-14", "~46"]
    base = runner.invoke(main, ["models", "list", "--base", "--format", "json"]).output
    assert all(m["lifecycle"] is None for m in json.loads(base)["data"])


def test_models_get_shows_when_a_fine_tuned_model_stops(fine_tuned_models: FakeOpenAI) -> None:
    runner = CliRunner()
    model_id = "ft:gpt-4o-mini-2024-07-18:org-fake:bot:aaa111"
    data = json.loads(runner.invoke(main, ["models", "get", model_id, "--format", "json"]).output)
    assert data["id"] == model_id and data["lifecycle"]["days_left"] == 46
    text = runner.invoke(main, ["models", "get", model_id]).output
    assert "stops serving on 2027-01-14, in 46 days (gpt-4o-mini-2024-07-18 shuts down)" in text
    base = json.loads(runner.invoke(main, ["models", "get", "gpt-4o-mini-2024-07-18",
                                           "--format", "json"]).output)
    assert base["lifecycle"] is None


def test_models_list_and_summary_use_the_sdk_functions(fine_tuned_models: FakeOpenAI) -> None:
    from ftprep.platform.sdk import TrainGPT

    sdk = TrainGPT()
    summary = json.loads(CliRunner().invoke(main, ["models", "summary", "--format", "json"]).output)
    assert {o: v["models"] for o, v in summary["owners"].items()} == sdk.list_models_by_owner()
    listed = json.loads(CliRunner().invoke(main, ["models", "list", "--owner", "org-fake",
                                                  "--format", "json"]).output)
    assert [m["id"] for m in listed["data"]] == sorted(
        m.id for m in sdk.list_models(owner="org-fake"))
    assert sdk.model_lifecycle("ft:gpt-4o-mini-2024-07-18:org-fake:bot:aaa111",
                               TODAY).days_left == 46
