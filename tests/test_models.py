"""The model registry: required models and figures, aliases, ft: names, suggestions, user
override files, sources for every figure, lifecycle status, `ftprep models info`."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ftprep.errors import UsageError
from ftprep.models import FIGURES, get_model, lifecycle_status, list_models

TODAY = dt.date(2026, 11, 24)


@pytest.mark.parametrize(("model", "limit", "training"), [
    ("gpt-3.5-turbo-0613", 4096, 8.00),
    ("gpt-3.5-turbo-1106", 16385, 8.00),
    ("gpt-3.5-turbo-0125", 16385, 8.00),
    ("davinci-002", None, 6.00),
    ("babbage-002", None, 0.40),
    ("gpt-4-0613", None, None),
    ("gpt-4o-2024-08-06", 65536, 25.00),
    ("gpt-4o-mini-2024-07-18", 65536, 3.00),
    ("gpt-4.1-2025-04-14", None, 25.00),
    ("gpt-4.1-mini-2025-04-14", None, 5.00),
    ("gpt-4.1-nano-2025-04-14", None, 1.50),
])
def test_required_models_and_figures(model: str, limit: int | None, training: float | None) -> None:
    info = get_model(model)
    assert info.id == model
    if limit is not None:
        assert info.max_example_tokens == limit
    if training is not None:
        assert info.prices.training == training
    assert info.encoding in ("cl100k_base", "o200k_base")


@pytest.mark.parametrize(("name", "resolved"), [
    ("gpt-3.5-turbo", "gpt-3.5-turbo-0125"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4o", "gpt-4o-2024-08-06"),
    ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ("ft:gpt-4.1-mini-2025-04-14:org::abc123", "gpt-4.1-mini-2025-04-14"),
    ("ft:gpt-4.1-2025-04-14:org:suffix:abc123", "gpt-4.1-2025-04-14"),
    ("ft:gpt-4o-mini:org:suffix:id", "gpt-4o-mini-2024-07-18"),
    ("ft:gpt-3.5-turbo-0613:org::x", "gpt-3.5-turbo-0613"),
])
def test_aliases_and_fine_tuned_names(name: str, resolved: str) -> None:
    assert get_model(name).id == resolved


def test_unknown_model_suggests_close_matches() -> None:
    with pytest.raises(UsageError) as err:
        get_model("gpt-4o-minii")
    assert "gpt-4o-mini" in str(err.value) and "did you mean" in str(err.value)
    with pytest.raises(UsageError, match="ftprep models info"):
        get_model("zzzzzzzz")


def test_every_figure_has_a_source_and_date() -> None:
    for info in list_models():
        assert set(info.sources) == set(FIGURES), info.id
        for figure, source in info.sources.items():
            assert source.title and source.url.startswith("https://"), (info.id, figure)
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source.date), (info.id, figure)


def test_lifecycle_states() -> None:
    assert lifecycle_status(get_model("gpt-3.5-turbo"), TODAY).state == "shutdown"
    for legacy in ("babbage-002", "davinci-002", "gpt-4-0613", "gpt-3.5-turbo-0613"):
        status = lifecycle_status(get_model(legacy), TODAY)
        assert status.state == "shutdown" and not status.can_fine_tune
    mini = get_model("gpt-4o-mini")
    closing = lifecycle_status(mini, TODAY)
    assert closing.state == "closing" and "2027-01-06" in closing.message
    assert closing.can_fine_tune
    closed = lifecycle_status(mini, dt.date(2027, 1, 7))
    assert closed.state == "closed" and not closed.can_fine_tune


def test_user_file_overrides_field_by_field_and_adds(tmp_path: Path) -> None:
    user = tmp_path / "models.toml"
    user.write_text(
        '[models."gpt-4o-mini-2024-07-18".prices]\ntraining = 2.5\n\n'
        '[sources.mine]\ntitle = "our contract"\nurl = "https://example.com/c"\n'
        'date = "2026-11-01"\n\n'
        '[models."my-model"]\naliases = ["mine"]\nencoding = "o200k_base"\n'
        'max_example_tokens = 1000\nmethods = ["supervised"]\n'
        'prices = { training = 1, ft_input = 1, ft_output = 1, base_input = 1, base_output = 1 }\n'
        'lifecycle = { fine_tuning_available = true }\nsources = { default = "mine" }\n'
    )
    mini = get_model("gpt-4o-mini", models_file=user)
    assert mini.prices.training == 2.5
    assert mini.prices.ft_input == 0.30  # untouched fields keep the bundled values
    assert mini.max_example_tokens == 65536
    mine = get_model("mine", models_file=user)
    assert mine.id == "my-model" and mine.sources["prices.training"].title == "our contract"
    assert lifecycle_status(mine, TODAY).state == "available"
    assert get_model("gpt-4o-mini").prices.training == 3.00  # bundled data unchanged


def test_env_models_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "m.toml"
    user.write_text('[models."gpt-4.1-nano-2025-04-14"]\nmax_example_tokens = 123\n')
    monkeypatch.setenv("FTPREP_MODELS_FILE", str(user))
    assert get_model("gpt-4.1-nano").max_example_tokens == 123


@pytest.mark.parametrize(("content", "message"), [
    ("not = [toml", "not valid TOML"),
    ('[models."x"]\nencoding = "o200k_base"\n', "lacks the field"),
    ('[models."gpt-4o-mini-2024-07-18".lifecycle]\nshutdown = "soon"\n', "YYYY-MM-DD"),
    ('[models."gpt-4o-mini-2024-07-18"]\nsources = { default = "nowhere" }\n', "no source"),
])
def test_bad_user_file_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    user = tmp_path / "m.toml"
    user.write_text(content)
    with pytest.raises(UsageError, match=message):
        list_models(user)
    with pytest.raises(UsageError, match="not found"):
        list_models(tmp_path / "missing.toml")


def _info_runner() -> tuple[click.Command, list[str]]:
    from ftprep.cli import main

    return main, ["models", "info"]


def test_models_info_cli_json_and_text() -> None:
    cmd, prefix = _info_runner()
    runner = CliRunner()
    one = runner.invoke(cmd, [*prefix, "gpt-4o-mini", "--format", "json"])
    assert one.exit_code == 0, one.output
    data = json.loads(one.output)
    assert data["id"] == "gpt-4o-mini-2024-07-18"
    assert data["max_example_tokens"] == 65536 and data["prices_per_1m"]["training"] == 3.0
    assert data["status"]["state"] in ("closing", "closed")
    assert data["sources"]["prices.training"]["date"]
    every = runner.invoke(cmd, [*prefix, "--format", "json"])
    assert len(json.loads(every.output)) == len(list_models())
    text = runner.invoke(cmd, [*prefix, "babbage-002"])
    assert text.exit_code == 0 and "shut down" in text.output and "source for" in text.output
    unknown = runner.invoke(cmd, [*prefix, "gpt-5-turbo-x"])
    assert unknown.exit_code != 0


@pytest.mark.parametrize(("content", "message"), [
    ('models = 3\n', "models must be a table, not int"),
    ('[models]\n"gpt-4o-mini-2024-07-18" = "x"\n', "gpt-4o-mini-2024-07-18 must be a table"),
    ('[models."gpt-4o-mini-2024-07-18"]\nsources = "pricing"\n', "sources must be a table"),
    ('[models."gpt-4o-mini-2024-07-18"]\nprices = 3\n', "prices must be a table"),
    ('[models."gpt-4o-mini-2024-07-18"]\nlifecycle = "open"\n', "lifecycle must be a table"),
    ('sources = "none"\n', "sources must be a table"),
    ('[sources]\npricing = "x"\n', "sources.pricing must be a table"),
    ('[models."gpt-4o-mini-2024-07-18"]\nprices = { training = -1 }\n', "price >= 0, not -1"),
    ('[models."gpt-4o-mini-2024-07-18"]\nprices = { ft_input = nan }\n', "price >= 0, not nan"),
    ('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 0\n', "whole number >= 1"),
    ('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = -5\n', "whole number >= 1"),
    ('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 1.5\n', "whole number >= 1"),
    ('[models."gpt-4o-mini-2024-07-18"]\naliases = "mini"\n', "aliases must be a list of strings"),
    ('[models."gpt-4o-mini-2024-07-18"]\nmethods = "dpo"\n', "methods must be a list of strings"),
])
def test_malformed_registry_shapes_are_one_line_usage_errors(
    tmp_path: Path, content: str, message: str
) -> None:
    # These used to escape as AttributeError/OverflowError ("internal error"), or, for a
    # string of aliases, silently made every character an alias.
    user = tmp_path / "m.toml"
    user.write_text(content)
    with pytest.raises(UsageError, match=message):
        list_models(user)


def test_malformed_registry_through_the_cli(tmp_path: Path) -> None:
    from ftprep.cli import main

    user = tmp_path / "m.toml"
    user.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = -5\n')
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n')
    result = CliRunner().invoke(main, ["count", str(data), "-m", "gpt-4o-mini",
                                       "--models-file", str(user)])
    assert result.exit_code == 2
    expected = ("ftprep: error: model registry: model gpt-4o-mini-2024-07-18: "
                "max_example_tokens must be a whole number >= 1, not -5")
    assert result.output.strip().splitlines() == [expected]
