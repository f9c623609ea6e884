"""CLI: `ftprep targets` (what each platform or trainer accepts, with sources)."""
from __future__ import annotations

from typing import Any

import click

from ftprep.cli.common import as_flags, emit_json, format_option, quiet_option
from ftprep.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ftprep.targets import TargetInfo, get_target, list_targets

_targets_file = click.option(
    "--targets-file", type=click.Path(dir_okay=False), envvar="FTPREP_TARGETS_FILE",
    help="A targets.toml that overrides the built-in target facts.")


@click.command()
@click.argument("name", required=False)
@_targets_file
@format_option
def targets(name: str | None, targets_file: str | None, fmt: str) -> None:
    """List the targets `validate --target` and `export --to` know, or show one with the
    source of every fact (ftprep targets azure)."""
    if name:
        info = get_target(name, targets_file)
        if fmt == "json":
            emit_json(info.to_dict())
        else:
            _print_target(info)
        return
    found = list_targets(targets_file)
    if fmt == "json":
        emit_json([t.to_dict() for t in found])
        return
    width = max(len(t.name) for t in found)
    for t in found:
        click.echo(f"{t.name:<{width}}  {t.kind:<8}  {', '.join(t.formats):<28} {t.title}")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _print_target(info: TargetInfo) -> None:
    click.echo(f"{info.name}: {info.title} ({info.kind})\n")
    facts = info.facts()
    notes = facts.pop("notes")
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        mark = " (uncertain)" if key in info.uncertain else ""
        click.echo(f"  {key:<{width}}  {_shown(value)}{mark}")
    for note in notes:
        click.echo(f"  note: {note}{' (uncertain)' if 'notes' in info.uncertain else ''}")
    click.echo("\nSources:")
    by_source: dict[tuple[str, str, str], list[str]] = {}
    for key, source in info.sources.items():
        by_source.setdefault((source.title, source.url, source.date), []).append(key)
    for (title, url, date), keys in by_source.items():
        click.echo(f"  {title} — {url} (read {date})\n    for: {', '.join(keys)}")



@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--to", "to", required=True, help="Target to write for (see `ftprep targets`).")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Output file (its companions, e.g. dataset_info.json, go beside it).")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Where examples that cannot be expressed go [default: OUTPUT.rejects.jsonl].")
@click.option("--weight0", type=click.Choice(["drop-example", "keep-as-context"]),
              help="What to do with weight-0 assistant turns a target cannot express.")
@click.option("--file-format", "file_format", type=click.Choice(["jsonl", "parquet"]),
              default=None, help="jsonl, or parquet for trl (what datasets reads fastest) "
              "[default: parquet when OUTPUT ends in .parquet, else jsonl].")
@_targets_file
@quiet_option
@format_option
def export(file: str, to: str, output: str, rejects: str | None, weight0: str | None,
           file_format: str | None, targets_file: str | None, fmt: str) -> None:
    """Write FILE in the shape TARGET reads, atomically, with a summary of what changed and a
    rejects file for what cannot be expressed (read = written + rejected).

    Exit 0 when every example was written, 1 when some were rejected (as convert), 2 on usage
    or input errors."""
    from ftprep.targets.export import export_file

    try:
        result = export_file(file, to, output, rejects=rejects, weight0=weight0,
                             file_format=file_format, targets_file=targets_file)
    except UsageError as e:  # the library names its parameters; the user typed flags
        raise UsageError(as_flags(str(e), _FLAGS)) from None
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        _print_export(result)
    raise SystemExit(EXIT_FINDINGS if result.rejected else EXIT_OK)


_FLAGS = {"out=": "--output ", "weight0=": "--weight0 ", "file_format=": "--file-format "}


def _print_export(result: Any) -> None:
    click.echo(f"{result.input} → {result.output} ({result.target}, {result.file_format}, "
               f"{result.record_format})")
    click.echo(f"  read {result.read}, written {result.written}, rejected {result.rejected}"
               + ("" if result.reconciled else "  (COUNTS DO NOT RECONCILE)"))
    if result.bom_added:
        click.echo("  UTF-8 byte-order mark added")
    for key, n in sorted(result.changes.items()):
        click.echo(f"  changed: {key} ×{n}")
    for key, n in sorted(result.dropped_keys.items()):
        click.echo(f"  dropped key: {key} ×{n}")
    for key, n in sorted(result.reasons.items()):
        click.echo(f"  rejected: {key} ×{n}")
    if result.blank_lines:
        click.echo(f"  blank lines skipped: {result.blank_lines}")
    if result.rejects_path:
        click.echo(f"  rejects: {result.rejects_path}")
    for path in result.companions:
        click.echo(f"  wrote: {path}")


COMMANDS: list[click.Command] = [targets, export]
