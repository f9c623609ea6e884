"""CLI: `ftprep split` — reproducible train/test splits without leakage."""
from __future__ import annotations

import click

from ftprep.cli.common import emit_json, format_option, quiet_option
from ftprep.errors import EXIT_FINDINGS, EXIT_OK
from ftprep.text import printable

CLASSES_SHOWN = 20  # class rows printed; the manifest has them all


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--test", "test_size", default="0.2", show_default=True, metavar="SIZE",
              help="Test split size: a fraction (0.2) or a whole count (500).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for the (deterministic) choice of test examples.")
@click.option("--stratify-by", metavar="KEY",
              help="Keep class proportions: a JSON path (label, metadata.class) or "
                   "'assistant' for the final assistant message.")
@click.option("--group-by", metavar="KEY",
              help="Keep records sharing this JSON path value (metadata.user_id, "
                   "messages[0].content) in the same split.")
@click.option("--dedupe", is_flag=True, help="Keep only the first copy of exact duplicates.")
@click.option("--model", "-m", help="Also report token totals per split for this model.")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Keep examples this similar (MinHash Jaccard, e.g. 0.8) in one split, and "
              "check the written splits for near-duplicates (needs ftprep[dedup]).")
@click.option("-o", "--output-dir", "out_dir", required=True,
              type=click.Path(file_okay=False), help="Directory for train/test.jsonl, split.json.")
@quiet_option
@format_option
def split(file: str, test_size: str, seed: int, stratify_by: str | None,
          group_by: str | None, dedupe: bool, model: str | None, near_dup_threshold: float | None,
          out_dir: str, fmt: str) -> None:
    """Split FILE (JSONL) into DIR/train.jsonl and DIR/test.jsonl, plus a manifest
    DIR/split.json. Exact duplicates and groups never straddle the two files.

    With both --stratify-by and --group-by, each group counts in the class of its first
    record."""
    from ftprep.split import SplitOptions, parse_test_size, split_file  # keep CLI start fast

    options = SplitOptions(test=parse_test_size(test_size), seed=seed, stratify_by=stratify_by,
                           group_by=group_by, dedupe=dedupe, model=model,
                           near_dup_threshold=near_dup_threshold)
    result = split_file(file, out_dir, options)  # its errors name parameters: worded as flags
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        _print_summary(result.to_dict(), out_dir)
    raise SystemExit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _print_summary(stats: dict, out_dir: str) -> None:
    counts, leakage = stats["counts"], stats["leakage"]
    click.echo(f"train: {counts['train']} examples → {out_dir}/train.jsonl")
    click.echo(f"test:  {counts['test']} examples → {out_dir}/test.jsonl "
               f"(target {counts['target_test']})")
    if counts["exact_duplicates"]:
        click.echo(f"exact duplicates: {counts['exact_duplicates']} "
                   f"({counts['dropped_duplicates']} dropped)")
    if stats["tokens"]:
        tokens = stats["tokens"]
        click.echo(f"tokens ({tokens['model']}): train {tokens['train']}, test {tokens['test']}")
    classes = (stats["strata"] or {}).get("classes", [])
    for row in classes[:CLASSES_SHOWN]:
        label = "(missing)" if row["class"] is None else row["class"]
        click.echo(f"  class {printable(label)}: {row['train']} train, {row['test']} test")
    if len(classes) > CLASSES_SHOWN:
        click.echo(f"  … and {len(classes) - CLASSES_SHOWN} more classes (split.json lists all)")
    near = leakage["near_duplicates"]
    near_text = "" if near is None else f", {near} near-duplicates"
    if leakage["ok"]:
        click.echo(f"leakage check: ok (0 examples and 0 groups in both splits, 0 prompts "
                   f"with another answer{near_text})")
    else:
        click.echo(click.style(
            f"leakage check: FAILED ({leakage['duplicated_examples']} examples, "
            f"{leakage['shared_groups']} groups in both splits, {leakage['same_prompt']} "
            f"prompts with another answer{near_text})", fg="red"))
    if not counts["reconciled"]:
        click.echo(click.style("counts do not reconcile with the input", fg="red"))
    click.echo(f"manifest: {out_dir}/split.json")
    for warning in stats["warnings"]:
        click.echo(f"ftprep: warning: {warning}", err=True)


COMMANDS: list[click.Command] = [split]
