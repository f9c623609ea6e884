"""CLI: `models info`, the offline model registry (limits, prices, lifecycle, sources).
The API-backed `models` subcommands live in platform_cmd; this one needs no key."""
from __future__ import annotations

from typing import Any

import click

from ftprep.cli.common import emit_json, format_option, models_file_option, print_rows, print_table


@click.command("info")
@click.argument("model", required=False)
@models_file_option
@format_option
def info(model: str | None, models_file: str | None, fmt: str) -> None:
    """Show the offline model registry: limits, prices, lifecycle and sources."""
    from ftprep.models import get_model, lifecycle_status, list_models

    models = [get_model(model, models_file)] if model else list_models(models_file)
    entries = [{**m.to_dict(), "status": lifecycle_status(m).to_dict()} for m in models]
    if fmt == "json":
        emit_json(entries[0] if model else entries)
    elif model:
        _print_model(entries[0])
    else:
        _print_registry(models)


def _print_registry(models: list[Any]) -> None:
    from rich.table import Table

    from ftprep.models import lifecycle_status

    table = Table(title="model registry (USD per 1M tokens)")
    table.add_column("model", no_wrap=True)
    for name in ("aliases", "limit", "train $", "ft in/out $", "status", "ft models stop"):
        table.add_column(name)
    for m in models:
        p = m.prices
        status = lifecycle_status(m)
        table.add_row(m.id, ", ".join(m.aliases), f"{m.max_example_tokens:,}",
                      f"{p.training:.2f}", f"{p.ft_input:.2f}/{p.ft_output:.2f}",
                      status.state, _serving_text(status.to_dict()))
    print_table(table)


def _print_model(entry: dict[str, Any]) -> None:
    prices = entry["prices_per_1m"]
    rows: list[tuple[str, Any]] = [
        ("aliases", ", ".join(entry["aliases"]) or "-"),
        ("encoding", entry["encoding"]),
        ("max tokens per example", entry["max_example_tokens"]),
        ("methods", ", ".join(entry["methods"])),
        *((f"{k} $/1M", f"{v:,.2f}") for k, v in prices.items()),
        ("status", entry["status"]["state"]),
    ]
    status = entry["status"]
    if status["days_to_close"] is not None:
        rows.append(("days left to start jobs", status["days_to_close"]))
    rows.append(("fine-tuned models stop serving", _serving_text(status) or "not published"))
    print_rows(entry["id"], rows)
    click.echo(entry["status"]["message"])
    seen: dict[tuple[str, str, str, str], list[str]] = {}
    for figure, src in entry["sources"].items():
        seen.setdefault((src["title"], src["url"], src["date"], src["note"]), []).append(figure)
    for (title, url, date, note), figures in seen.items():
        suffix = f" — {note}" if note else ""
        click.echo(f"source for {', '.join(figures)}: {title} <{url}> ({date}){suffix}")


def _serving_text(status: dict[str, Any]) -> str:
    """'2027-01-14 (46 days left)', '~' first when reported but unconfirmed; '' if unknown."""
    day = status["fine_tuned_serving_ends"]
    if day is None:
        return ""
    mark = "~" if status["dates_uncertain"] else ""
    left = status["fine_tuned_serving_days_left"]
    if left == 0:
        return f"stopped {mark}{day}"
    return f"{mark}{day} ({left} day{'' if left == 1 else 's'} left)"


COMMANDS: list[click.Command] = [info]
