"""Cost estimates: the seed example, the auto-epoch rule, lifecycle warnings, --model all,
inference break-even and the CLI."""
from __future__ import annotations

import datetime as dt
import json
from array import array
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.count import TokenCounts
from ftprep.errors import UsageError
from ftprep.estimate import (
    auto_epochs,
    estimate_all,
    estimate_counts,
    estimate_file,
    inference_comparison,
    training_cost,
)
from ftprep.models import get_model
from ftprep.tokens import get_encoding


def counts_of(tokens: list[int]) -> TokenCounts:
    c = TokenCounts("mem", "cl100k_base")
    c.tokens = array("I", tokens)
    c.lines = array("I", range(1, len(tokens) + 1))
    return c


def test_seed_example_is_exactly_2_40() -> None:
    assert training_cost(100_000, 3, 8.00) == 2.40
    # 100 examples of 1,000 tokens on gpt-3.5-turbo: auto epochs = 3
    est = estimate_counts(counts_of([1000] * 100), get_model("gpt-3.5-turbo"))
    assert (est.epochs, est.billed_tokens, est.cost_usd) == (3, 300_000, 2.40)
    assert est.model == "gpt-3.5-turbo-0125"


@pytest.mark.parametrize(("n", "epochs"), [
    (1, 25), (4, 25), (5, 20), (10, 10), (33, 3), (34, 3), (100, 3),
    (8333, 3), (8334, 2), (12500, 2), (12501, 1), (25000, 1), (100000, 1),
])
def test_auto_epochs_boundaries(n: int, epochs: int) -> None:
    assert auto_epochs(n) == epochs


def test_billed_tokens_are_capped_at_the_limit() -> None:
    info = get_model("gpt-3.5-turbo-0613")  # 4096 per example
    est = estimate_counts(counts_of([5000, 100]), info, epochs=2)
    assert est.billed_tokens == (4096 + 100) * 2
    assert est.cost_usd == training_cost(4196, 2, 8.00)


def test_lifecycle_warning_for_shut_down_model_still_computes(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"prompt": "a b c", "completion": " d"}) + "\n")
    est = estimate_file(path, model="davinci-002", epochs=1)
    assert est.lifecycle == "shutdown"
    assert any("shut down" in w for w in est.warnings)
    enc = get_encoding("cl100k_base")
    tokens = len(enc.encode("a b c")) + len(enc.encode(" d"))
    assert est.cost_usd == training_cost(tokens, 1, 6.00)
    assert est.to_dict()["warnings"] == est.warnings


def test_closing_model_warns_with_its_date() -> None:
    est = estimate_counts(counts_of([10] * 50), get_model("gpt-4o-mini"),
                          today=dt.date(2026, 11, 24))
    assert est.lifecycle == "closing"
    assert any("2027-01-06" in w for w in est.warnings)


def test_epochs_none_means_auto_and_bad_epochs_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                             {"role": "assistant", "content": "a"}]}) + "\n")
    assert estimate_file(path, model="gpt-4o-mini", epochs=None).epochs == 25
    with pytest.raises(UsageError):
        estimate_file(path, model="gpt-4o-mini", epochs=0)


def test_validation_cost_separate(tmp_path: Path) -> None:
    train, val = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    rec = json.dumps({"messages": [{"role": "user", "content": "q"},
                                   {"role": "assistant", "content": "a"}]})
    train.write_text(f"{rec}\n" * 40)
    val.write_text(f"{rec}\n" * 10)
    est = estimate_file(train, model="gpt-4.1-nano", epochs=3, validation=val)
    assert est.validation_examples == 10
    assert est.validation_billed_tokens * 4 == est.billed_tokens
    assert est.validation_cost_usd == pytest.approx(est.cost_usd / 4)


def test_inference_break_even() -> None:
    info = get_model("gpt-4o-mini")  # ft 0.30/1.20, base 0.15/0.60
    inf = inference_comparison(info, 3.0, requests=1000, prompt_tokens=500,
                               completion_tokens=200, prompt_tokens_saved=4000)
    tuned = (500 * 0.30 + 200 * 1.20) / 1e6
    base = (4500 * 0.15 + 200 * 0.60) / 1e6
    assert inf.fine_tuned_cost_usd == pytest.approx(tuned * 1000)
    assert inf.base_cost_usd == pytest.approx(base * 1000)
    assert inf.break_even_requests == -(-3.0 // (base - tuned))
    never = inference_comparison(info, 3.0, requests=1, prompt_tokens=500,
                                 completion_tokens=200, prompt_tokens_saved=0)
    assert never.break_even_requests is None


def test_estimate_all_only_open_models_counted_once_per_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftprep import estimate as est_mod

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                             {"role": "assistant", "content": "a"}]}) + "\n")
    calls: list[str] = []
    real = est_mod.count_tokens
    monkeypatch.setattr(est_mod, "count_tokens",
                        lambda p, e, **kw: calls.append(e) or real(p, e, **kw))
    results = estimate_all(path, today=dt.date(2026, 11, 24))
    ids = {e.model for e in results}
    # gpt-4.1-nano retired on 2026-10-23; Azure rows are not OpenAI price comparisons
    assert ids == {"gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14",
                   "gpt-4.1-mini-2025-04-14"}
    assert calls == ["o200k_base"]
    assert [e.cost_usd for e in results] == sorted(e.cost_usd for e in results)


def test_cli_estimate_json_and_all(tmp_path: Path) -> None:
    from ftprep.cli import main

    path = tmp_path / "d.jsonl"
    rec = {"messages": [{"role": "user", "content": "question"},
                        {"role": "assistant", "content": "answer"}]}
    path.write_text(json.dumps(rec) + "\n")
    runner = CliRunner()
    one = runner.invoke(main, ["estimate", str(path), "-m", "gpt-3.5-turbo", "--epochs", "2",
                               "--format", "json"])
    assert one.exit_code == 0, one.output
    data = json.loads(one.output)
    for key in ("model", "examples", "epochs", "billed_tokens", "cost_usd"):
        assert key in data
    assert data["epochs"] == 2 and data["examples"] == 1
    assert data["warnings"] and "shut down" in data["warnings"][0]
    every = runner.invoke(main, ["estimate", str(path), "-m", "all", "--format", "json"])
    assert every.exit_code == 0, every.output
    listing = json.loads(every.output)
    from ftprep.models import lifecycle_status, list_models

    open_models = {m.id for m in list_models()
                   if m.provider == "openai" and lifecycle_status(m).can_fine_tune}
    assert isinstance(listing, list) and {e["model"] for e in listing} == open_models
    table = runner.invoke(main, ["estimate", str(path), "-m", "all"])
    assert table.exit_code == 0, table.output
    assert all(model in table.output for model in open_models)
    assert table.output.count("warning") == 1  # the shared wind-down note once, not per model
    text = runner.invoke(main, ["estimate", str(path), "-m", "gpt-4o-mini", "--requests", "100",
                                "--prompt-tokens-saved", "3000"])
    assert text.exit_code == 0, text.output
    assert "break-even requests" in text.output and "warning:" in text.output
    bad = runner.invoke(main, ["estimate", str(path), "-m", "gpt-4o-mini", "--epochs", "x"])
    assert bad.exit_code == 2


def _priced(**prices: float):  # type: ignore[no-untyped-def]
    import dataclasses

    info = get_model("gpt-4o-mini")
    return dataclasses.replace(info, prices=dataclasses.replace(info.prices, **prices))


@pytest.mark.parametrize("requests_needed", [1, 3, 7, 300, 1999])
def test_break_even_is_exact_when_cost_is_a_whole_number_of_savings(requests_needed: int) -> None:
    # saving per request: 1,000 prompt tokens at $0.07/1M = $0.00007; training exactly
    # requests_needed × that. Float division made this requests_needed + 1 (e.g. 2000).
    info = _priced(ft_input=0.0, ft_output=0.0, base_input=0.07, base_output=0.0)
    training = round(requests_needed * 0.00007, 6)
    inf = inference_comparison(info, training, requests=10, prompt_tokens=0,
                               completion_tokens=0, prompt_tokens_saved=1000)
    assert inf.saving_per_request_usd == 0.00007
    assert inf.break_even_requests == requests_needed
    one_more = inference_comparison(info, training + 0.000001, requests=10, prompt_tokens=0,
                                    completion_tokens=0, prompt_tokens_saved=1000)
    assert one_more.break_even_requests == requests_needed + 1


def test_estimate_file_break_even_from_exact_training_cost(tmp_path: Path) -> None:
    # 9 examples of 13 tokens (o200k); auto epochs for n=9: 100 // 9 = 11; billed 1,287 tokens
    # at $1.00/1M = $0.001287. Saving: 1,000 prompt tokens at $0.099/1M = $0.000099 a request,
    # so exactly 13 requests pay it back (float arithmetic said 14).
    record = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
    path = tmp_path / "d.jsonl"
    path.write_text((json.dumps(record) + "\n") * 9)
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nprices = { training = 1.0, '
                      'ft_input = 0.0, ft_output = 0.0, base_input = 0.099, base_output = 0.0 }\n')
    est = estimate_file(path, model="gpt-4o-mini", models_file=models, requests=5,
                        prompt_tokens=0, completion_tokens=0, prompt_tokens_saved=1000)
    assert (est.epochs, est.billed_tokens, est.cost_usd) == (11, 1287, 0.001287)
    assert est.inference is not None
    assert est.inference.break_even_requests == 13


def test_cli_model_all_shows_validation_and_refuses_requests(tmp_path: Path) -> None:
    # --model all used to drop --validation from its table and ignore --requests silently.
    from ftprep.cli import main

    rec = {"messages": [{"role": "user", "content": "question"},
                        {"role": "assistant", "content": "answer"}]}  # 13 tokens (o200k)
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(rec) + "\n")
    val = tmp_path / "val.jsonl"
    val.write_text((json.dumps(rec) + "\n") * 10)
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nprices = { training = 10000.0 }\n')
    runner = CliRunner()
    args = ["estimate", str(train), "-m", "all", "--validation", str(val),
            "--models-file", str(models)]
    table = runner.invoke(main, args)
    assert table.exit_code == 0, table.output
    row = next(ln for ln in table.output.splitlines() if "gpt-4o-mini-2024-07-18" in ln)
    # 1 example → 25 epochs: train 13 × 25 = 325 tokens, validation 130 × 25 = 3,250 tokens.
    assert "$3.25" in row and "$32.50" in row
    assert "validation (upper bound)" in table.output
    listing = json.loads(runner.invoke(main, [*args, "--format", "json"]).output)
    mini = next(e for e in listing if e["model"] == "gpt-4o-mini-2024-07-18")
    assert (mini["validation_billed_tokens"], mini["validation_cost_usd"]) == (3250, 32.5)
    refused = runner.invoke(main, [*args, "--requests", "1000"])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "ftprep: error: --requests compares one fine-tuned model with its base model; "
        + "give one --model, not 'all'"]


@pytest.mark.parametrize("value", ["0", "-3", "x", "1.5"])
def test_cli_bad_epochs_names_the_option(tmp_path: Path, value: str) -> None:
    from ftprep.cli import main

    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n')
    bad = CliRunner().invoke(main, ["estimate", str(path), "-m", "gpt-4o-mini", "--epochs", value])
    assert bad.exit_code == 2
    assert f"Invalid value for '--epochs': '{value}' is not a positive integer or 'auto'" in bad.output


@pytest.mark.parametrize(("today", "state", "warning"), [
    (dt.date(2026, 12, 31), "available", None),
    (dt.date(2027, 1, 5), "closing", ("fine-tuning my-model is closing: no new jobs after "
                                     "2027-01-06 (1 day left). Our note.")),
    (dt.date(2027, 1, 6), "closed", ("no new fine-tuning jobs for my-model since 2027-01-06. "
                                    "Our note.")),
    (dt.date(2027, 6, 1), "shutdown", ("fine-tuning my-model is shut down since 2027-06-01. "
                                      "Our note.")),
])
def test_estimate_file_lifecycle_with_injected_today(
    tmp_path: Path, today: dt.date, state: str, warning: str | None
) -> None:
    models = tmp_path / "m.toml"
    models.write_text(
        '[models."my-model"]\nencoding = "o200k_base"\nmax_example_tokens = 100\n'
        'prices = { training = 1.0, ft_input = 1.0, ft_output = 1.0, base_input = 1.0, '
        'base_output = 1.0 }\nsources = { default = "pricing" }\n'
        'lifecycle = { fine_tuning_available = true, new_jobs_closed = "2027-01-06", '
        'shutdown = "2027-06-01", notes = "Our note." }\n')
    if state == "available":  # no closing date at all
        models.write_text(models.read_text().replace('new_jobs_closed = "2027-01-06", ', "")
                          .replace('shutdown = "2027-06-01", ', ""))
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    est = estimate_file(data, model="my-model", models_file=models, today=today)
    assert est.lifecycle == state
    assert est.warnings == ([warning] if warning else [])


@pytest.mark.parametrize("model", ["gpt-4o-mini", "all"])
def test_training_and_validation_both_from_stdin_is_refused(model: str) -> None:
    # The validation read found stdin already consumed and priced 0 examples, silently.
    from ftprep.cli import main

    line = '{"prompt": "a", "completion": "b"}\n'
    result = CliRunner().invoke(main, ["estimate", "-", "-m", model, "--validation", "-"],
                                input=line * 10)
    assert result.exit_code == 2
    assert "cannot both come from stdin" in result.output
    assert result.output.count("\n") == 1


def test_model_all_from_stdin_with_two_tokenizers_is_refused(tmp_path: Path) -> None:
    # A second tokenizer re-read the consumed stdin and priced 0 examples, silently.
    from ftprep.cli import main

    models = tmp_path / "m.toml"
    models.write_text(
        '[models."open-cl100k"]\nencoding = "cl100k_base"\nmax_example_tokens = 100\n'
        'prices = { training = 1.0, ft_input = 1.0, ft_output = 1.0, base_input = 1.0, '
        'base_output = 1.0 }\nlifecycle = { fine_tuning_available = true }\n'
        'sources = { default = "pricing" }\n')
    line = '{"prompt": "a", "completion": "b"}\n'
    args = ["estimate", "-", "-m", "all", "--models-file", str(models)]
    result = CliRunner().invoke(main, args, input=line * 10)
    assert result.exit_code == 2
    assert "stdin ('-') can be read only once" in result.output
    data = tmp_path / "d.jsonl"
    data.write_text(line * 10)
    listing = json.loads(CliRunner().invoke(main, [*args[:1], str(data), *args[2:],
                                                   "--format", "json"]).output)
    assert {e["examples"] for e in listing} == {10}
    assert "open-cl100k" in {e["model"] for e in listing}
    one_tokenizer = CliRunner().invoke(main, ["estimate", "-", "-m", "all", "--format", "json"],
                                       input=line * 10)
    assert one_tokenizer.exit_code == 0, one_tokenizer.output
    assert {e["examples"] for e in json.loads(one_tokenizer.output)} == {10}


@pytest.mark.parametrize(("extra", "named"), [
    (["--prompt-tokens-saved", "1500"], "--prompt-tokens-saved has"),
    (["--prompt-tokens", "800", "--completion-tokens", "50"],
     "--prompt-tokens, --completion-tokens have"),
])
def test_inference_options_without_requests_are_refused(
    tmp_path: Path, extra: list[str], named: str
) -> None:
    # They used to be accepted and silently did nothing (no break-even without --requests).
    from ftprep.cli import main

    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n')
    runner = CliRunner()
    refused = runner.invoke(main, ["estimate", str(path), "-m", "gpt-4o-mini", *extra])
    assert refused.exit_code == 2
    assert refused.output == (f"ftprep: error: {named} no effect without --requests N "
                              "(the inference comparison); add --requests\n")
    ok = runner.invoke(main, ["estimate", str(path), "-m", "gpt-4o-mini", *extra,
                              "--requests", "10", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["inference"]["requests"] == 10


def test_target_job_token_limit_warns_with_the_epochs_that_fit(tmp_path: Path) -> None:
    # Azure refuses a job whose tokens × epochs pass its limit (2B); a small override limit
    # stands in for a 2B-token file. Without --target, or under the limit, no warning.
    from ftprep.cli import main

    data = tmp_path / "d.jsonl"
    line = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    data.write_text(line * 10)
    low = tmp_path / "t.toml"
    low.write_text("[targets.azure]\njob_token_limit = 250\n")
    args = ["estimate", str(data), "-m", "gpt-4o-mini", "--epochs", "3", "--format", "json"]
    runner = CliRunner()
    plain = json.loads(runner.invoke(main, args).output)
    per_epoch = plain["billed_tokens"] // 3
    assert plain["billed_tokens"] > 250 and per_epoch <= 250  # one epoch fits, three do not
    over = runner.invoke(main, [*args, "--target", "azure", "--targets-file", str(low)])
    assert over.exit_code == 0, over.output
    warnings = json.loads(over.output)["warnings"]
    assert warnings[:-1] == plain["warnings"]  # the lifecycle note, unchanged
    assert warnings[-1:] == [f"{plain['billed_tokens']:,} tokens × epochs is over azure's 250 per job "
                        "(an unconfirmed fact: see `ftprep targets azure`): azure would refuse "
                        f"it; train fewer epochs (at most {250 // per_epoch}) or fewer examples"]
    built_in = json.loads(runner.invoke(main, [*args, "--target", "azure"]).output)
    assert built_in["warnings"] == plain["warnings"]  # far under the real 2,000,000,000
    unknown = runner.invoke(main, [*args, "--target", "azur"])
    assert unknown.exit_code == 2 and "unknown target 'azur'" in unknown.output, unknown.output
    assert runner.invoke(main, [*args[:3], "all", "--target", "azure"]).exit_code == 2
