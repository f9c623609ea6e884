"""CLI: `ftprep report` — one self-contained HTML page about a dataset."""
from __future__ import annotations

import click

from ftprep.cli.common import emit_json, format_option, models_file_option, quiet_option
from ftprep.errors import EXIT_FINDINGS, UsageError


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "-m", "models", multiple=True,
              help="OpenAI model to count, limit-check and price for (repeatable; "
                   "default gpt-4.1-mini unless --tokenizer is given).")
@click.option("--tokenizer", type=click.Path(), default=None,
              help="An open model's tokenizer files (as for `count --tokenizer`).")
@click.option("--split", "split_dir", type=click.Path(file_okay=False), default=None,
              help="A folder written by `ftprep split -o`: its sizes, strata and leakage check.")
@click.option("--eval", "eval_dir", type=click.Path(file_okay=False), default=None,
              help="A folder written by `ftprep eval -o`: its summary.")
@click.option("--near-dups", is_flag=True,
              help="Also find near-duplicates (validate's opt-in FT921: MinHash, needs "
                   "ftprep[dedup]). Costs about 4x the report's CPU (measured: 20 MB chat "
                   "file, 1.9 s -> 7.4 s), so it is not on by default.")
@click.option("--epochs", default="auto", show_default=True,
              help="Epochs for the cost table (a number or 'auto').")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Where to write the HTML report (required unless --format json).")
@models_file_option
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes (default: all cores for big files, 1 for small ones).")
@quiet_option
@format_option
def report(file: str, models: tuple[str, ...], tokenizer: str | None, split_dir: str | None,
           eval_dir: str | None, near_dups: bool, epochs: str, output: str | None,
           models_file: str | None, workers: int | None, fmt: str) -> None:
    """Write one self-contained HTML page about FILE (nothing is fetched when it opens).

    It shows validation findings by rule, tokens per example against each model's limit,
    conversations, duplicates, secrets (masked), cost, and optionally a split and an eval.

    --format json prints the data behind the page instead (with -o, the page is written
    too). Exit 1 when the data has errors (as `validate`)."""
    from ftprep.report.dataset import report_data

    if output is None and fmt != "json":
        raise UsageError("give -o/--output FILE.html (or --format json for the data)")
    data = report_data(file, models=models, tokenizer=tokenizer, split_dir=split_dir,
                       eval_dir=eval_dir, models_file=models_file, epochs=epochs,
                       workers=workers, near_dups=near_dups)
    if output is not None:
        from ftprep.report.render import write_report

        size = write_report(data, output)
    if fmt == "json":
        emit_json(data.to_dict())
    else:
        v = data.validation
        verdict = "valid" if v["valid"] else f"{v['errors']:,} errors"
        click.echo(f"wrote {output}: {data.examples:,} examples, {verdict}, "
                   f"{v['warnings']:,} warnings ({size / 1024:,.0f} KB)")
    if not data.validation["valid"]:
        click.get_current_context().exit(EXIT_FINDINGS)


COMMANDS = [report]
