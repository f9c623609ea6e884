"""CLI: `count` and `estimate`."""
from __future__ import annotations

from typing import Any

import click

from ftprep.cli.common import (
    as_flags,
    emit_json,
    format_option,
    models_file_option,
    print_rows,
    print_table,
    quiet_option,
    usd,
)
from ftprep.errors import EXIT_FINDINGS, UsageError

workers_option = click.option(
    "--workers", type=click.IntRange(1), default=None,
    help="Worker processes (default: all cores for big files, 1 for small ones).",
)


def _stats_table(rows: dict[str, dict[str, float]]) -> None:
    from rich.table import Table

    table = Table(title="per example", title_justify="left")
    table.add_column("")
    keys = ("min", "p5", "median", "mean", "p95", "max")
    for key in keys:
        table.add_column(key, justify="right")
    for name, s in rows.items():
        table.add_row(name, *(f"{s[k]:,}" for k in keys))
    print_table(table)


def _lines_text(lines: list[int], total: int) -> str:
    shown = ", ".join(map(str, lines[:20]))
    return f"{shown}{' …' if total > 20 else ''}"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "-m", default=None, help="Model id, alias or ft: name (OpenAI models).")
@click.option("--tokenizer", "tokenizer", type=click.Path(exists=False), default=None,
              help="An open model's tokenizer.json, chat_template.jinja, its folder or its Hugging "
                   "Face cache folder: counts the chat template's tokens (needs ftprep[open]).")
@click.option("--max-length", type=click.IntRange(1), default=None,
              help="Per-example limit (default: the model's; for --tokenizer its model_max_length).")
@click.option("--per-example", type=click.Path(dir_okay=False), default=None,
              help="Write line → tokens, trainable, over_limit (.csv or .parquet).")
@models_file_option
@workers_option
@quiet_option
@format_option
def count(file: str, model: str | None, tokenizer: str | None, max_length: int | None,
          per_example: str | None, models_file: str | None, workers: int | None,
          fmt: str) -> None:
    """Count the tokens of FILE exactly, against MODEL's per-example limit, or as an open
    model's trainer sees them (--tokenizer: chat template applied, trainable assistant spans).

    Exit 1 when some example's final answer would be cut away entirely."""
    from ftprep.count import count_file

    if (model is None) == (tokenizer is None):
        raise UsageError("give --model (an OpenAI model) or --tokenizer (an open model's files), "
                         "exactly one")
    try:
        report = count_file(file, model=model, tokenizer=tokenizer, max_length=max_length,
                            models_file=models_file, workers=workers, per_example=per_example)
    except UsageError as e:  # the library names its parameters; the user typed flags
        raise UsageError(as_flags(str(e), {"tokenizer=": "--tokenizer ",
                                           "max_length=": "--max-length "})) from None
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        _print_count(report)
    if report.examples == 0:
        _no_examples(file)
    if not report.ok:
        click.get_current_context().exit(EXIT_FINDINGS)


def _no_examples(file: str) -> None:
    """Zeros with exit 0 read like success; an empty file is a finding about the data."""
    click.echo(f"ftprep: {file}: no examples (is the file empty?)", err=True)
    click.get_current_context().exit(EXIT_FINDINGS)


def _print_count(r: Any) -> None:
    rows: list[tuple[str, Any]] = [
        ("examples", r.examples),
        ("total tokens", r.total_tokens),
        ("trainable tokens", r.trainable_tokens),
        ("limit per example", "none" if r.max_tokens is None else r.max_tokens),
        ("billed tokens per epoch", r.billed_tokens),
        ("examples over the limit", r.over_limit),
        ("tokens cut", r.tokens_cut),
        ("answers cut away", r.answer_cut),
    ]
    print_rows(f"{r.path} · {r.model} ({r.encoding})", rows)
    if r.tokenizer is not None:
        t = r.tokenizer
        click.echo(f"chat template: {t['template_source']}; trainable tokens from the "
                   f"{t['trainable_from']}")
    _stats_table({"tokens": r.tokens_per_example, "messages": r.messages_per_example})
    if r.over_limit:
        click.echo(f"over the limit (lines): {_lines_text(r.over_limit_lines, r.over_limit)}")
    if r.answer_cut:
        click.echo(f"error: the final answer would be cut away entirely (lines): "
                   f"{_lines_text(r.answer_cut_lines, r.answer_cut)}")
    if r.estimated:
        click.echo("note: images or tools present; their token counts are estimates")


def _epochs(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(f"{value!r} is not a positive integer or 'auto'",
                                 param_hint="'--epochs'")
    return n


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "-m", required=True, help="Model id/alias, or 'all' to compare.")
@click.option("--epochs", default="auto", show_default=True, help="Epochs, or 'auto'.")
@click.option("--validation", type=click.Path(dir_okay=False), default=None,
              help="Validation file (priced like training tokens, as an upper bound).")
@click.option("--requests", type=click.IntRange(0), default=None,
              help="Inference requests to compare fine-tuned vs. base model costs for.")
@click.option("--prompt-tokens-saved", type=click.IntRange(0), default=0, show_default=True,
              help="Extra few-shot prompt tokens per request the base model would need.")
@click.option("--prompt-tokens", type=click.IntRange(0), default=500, show_default=True)
@click.option("--completion-tokens", type=click.IntRange(0), default=200, show_default=True)
@click.option("--target", default=None, metavar="NAME",
              help="Also check this platform's tokens × epochs limit per job (azure: 2B).")
@click.option("--targets-file", type=click.Path(dir_okay=False), envvar="FTPREP_TARGETS_FILE",
              help="A targets.toml that overrides the built-in target facts.")
@models_file_option
@workers_option
@quiet_option
@format_option
def estimate(file: str, model: str, epochs: str, validation: str | None, requests: int | None,
             prompt_tokens_saved: int, prompt_tokens: int, completion_tokens: int,
             target: str | None, targets_file: str | None,
             models_file: str | None, workers: int | None, fmt: str) -> None:
    """Estimate the cost of fine-tuning on FILE (billed tokens × epochs × price)."""
    from ftprep.estimate import estimate_all, estimate_file

    n_epochs = _epochs(epochs)
    _refuse_inference_options_without_requests(requests)
    if model == "all":
        if requests is not None:  # the comparison is per model: silently dropping it misleads
            raise UsageError("--requests compares one fine-tuned model with its base model; "
                             "give one --model, not 'all'")
        if target is not None:  # the limit is checked per job, i.e. per model
            raise UsageError("--target checks one job's token limit; give one --model, not 'all'")
        results = estimate_all(file, epochs=n_epochs, validation=validation,
                               models_file=models_file, workers=workers)
        if fmt == "json":
            emit_json([e.to_dict() for e in results])
        else:
            _print_comparison(results, models_file, validation is not None)
        if results and results[0].examples == 0:
            _no_examples(file)
        return
    est = estimate_file(
        file, model=model, epochs=n_epochs, validation=validation, models_file=models_file,
        requests=requests, prompt_tokens_saved=prompt_tokens_saved,
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, workers=workers,
        target=target, targets_file=targets_file,
    )
    if fmt == "json":
        emit_json(est.to_dict())
    else:
        _print_estimate(est)
    if est.examples == 0:
        _no_examples(file)


def _refuse_inference_options_without_requests(requests: int | None) -> None:
    # Without --requests there is no inference comparison: these options would do nothing.
    if requests is not None:
        return
    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}"
             for name in ("prompt_tokens_saved", "prompt_tokens", "completion_tokens")
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        verb = "has" if len(given) == 1 else "have"
        raise UsageError(f"{', '.join(given)} {verb} no effect without --requests N (the "
                         "inference comparison); add --requests")


def _print_estimate(e: Any) -> None:
    rows: list[tuple[str, Any]] = [
        ("examples", e.examples),
        ("epochs", e.epochs),
        ("billed tokens (all epochs)", e.billed_tokens),
        ("price per 1M training tokens", f"${e.price_per_1m:,.2f}"),
        ("training cost", usd(e.cost_usd)),
    ]
    if e.validation_cost_usd is not None:
        rows.append(("validation cost (upper bound)", usd(e.validation_cost_usd)))
    if e.inference:
        i = e.inference
        rows += [
            (f"inference, fine-tuned ({i.requests:,} requests)", usd(i.fine_tuned_cost_usd)),
            (f"inference, base + {i.prompt_tokens_saved:,} prompt tokens", usd(i.base_cost_usd)),
            ("break-even requests", "never" if i.break_even_requests is None
             else f"{i.break_even_requests:,}"),
        ]
    print_rows(f"estimate · {e.model}", rows)
    for warning in e.warnings:
        click.echo(f"warning: {warning}")


def _print_comparison(results: list[Any], models_file: str | None, validation: bool) -> None:
    from rich.table import Table

    from ftprep.models import get_model, lifecycle_status

    table = Table(title="fine-tuning cost by model (models still open for fine-tuning)")
    columns = ["model", "epochs", "billed tokens", "$/1M", "cost"]
    columns += ["validation (upper bound)"] if validation else []
    for name in (*columns, "fine-tuning"):
        table.add_column(name, justify="left" if name in ("model", "fine-tuning") else "right")
    notes: dict[str, list[str]] = {}
    for e in results:
        info = get_model(e.model, models_file=models_file)
        closes = info.lifecycle.new_jobs_closed
        state = lifecycle_status(info).state + (f" until {closes}" if closes else "")
        val = [usd(e.validation_cost_usd)] if validation else []
        table.add_row(e.model, str(e.epochs), f"{e.billed_tokens:,}", f"{e.price_per_1m:,.2f}",
                      usd(e.cost_usd), *val, state)
        if info.lifecycle.notes:
            notes.setdefault(info.lifecycle.notes, []).append(e.model)
    print_table(table)
    for note, models in notes.items():  # once per distinct note, not once per model
        who = "all of these models" if len(models) == len(results) else ", ".join(models)
        click.echo(f"warning ({who}): {note}")


COMMANDS: list[click.Command] = [count, estimate]
