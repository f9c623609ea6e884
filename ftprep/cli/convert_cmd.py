"""CLI: `ftprep convert` — raw tables and other dataset formats → fine-tuning JSONL."""
from __future__ import annotations

import json

import click

from ftprep.cli.common import emit_json, format_option, quiet_option
from ftprep.convert import (
    OVERFLOW_POLICIES,
    SOURCE_FORMATS,
    TARGET_FORMATS,
    ConvertOptions,
    ConvertResult,
    convert,
    read_system_file,
)
from ftprep.convert.grouping import DEFAULT_SPILL_THRESHOLD, parse_role_map
from ftprep.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ftprep.io.readers import INPUT_FORMATS


def _unescape_newlines(template: str | None) -> str | None:
    """Shells make a real newline awkward to type, so the two characters \\n mean one."""
    return None if template is None else template.replace("\\n", "\n")


@click.command("convert")
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", "output_path", required=True, help="Output JSONL ('-' = stdout).")
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), help="Override the extension.")
@click.option("--encoding", help="Text encoding of CSV/TSV/JSON(L) input (default UTF-8).")
@click.option("--delimiter", help="CSV field delimiter (default: the most frequent of , ; | tab "
              "in the header line).")
@click.option("--sheet", help="XLSX: sheet name, 1-based position, or 'all' (default: the "
              "active sheet).")
@click.option("--header-row", type=click.IntRange(min=1),
              help="Line (CSV/TSV) or row (XLSX) of the header, for title rows above it.")
@click.option("--from", "source_format", type=click.Choice(SOURCE_FORMATS), default="auto",
              show_default=True, help="Source record format.")
@click.option("--to", "target_format", type=click.Choice(TARGET_FORMATS),
              help="Output format (default chat; preference for preference input).")
@click.option("--user", help="Column holding the user message.")
@click.option("--assistant", help="Column holding the assistant answer.")
@click.option("--system", help="Column holding the system message.")
@click.option("--system-prompt", help="The same system message for every record.")
@click.option("--system-file", type=click.Path(dir_okay=False),
              help="Read the system message from this file.")
@click.option("--user-template", help='e.g. "Q: {question}\\nContext: {context}".')
@click.option("--assistant-template", help="Template for the assistant message.")
@click.option("--system-template", help="Template for the system message.")
@click.option("--prompt", help="Preference table: column holding the prompt (default 'prompt').")
@click.option("--chosen", help="Preference table: column holding the preferred answer.")
@click.option("--rejected", help="Preference table: column holding the rejected answer.")
@click.option("--group-by", help="Multi-turn: column identifying the conversation.")
@click.option("--order-by", help="Multi-turn: column giving the turn order.")
@click.option("--role-column", help="Multi-turn: column with the speaker.")
@click.option("--content-column", help="Multi-turn: column with the text.")
@click.option("--role-map", default="",
              help="Speaker values → roles, e.g. human=user,bot=assistant (multi-turn, ShareGPT).")
@click.option("--first-speaker", type=click.Choice(["user", "assistant"]),
              help="Speakers without a role alternate from this one, in order of appearance "
              "(e.g. UUID speakers).")
@click.option("--drop-empty-turns", is_flag=True,
              help="Leave out empty turns instead of rejecting the conversation (counted).")
@click.option("--na-values", default="",
              help="More cell texts that mean 'no value', comma-separated (added to the "
              "pandas-style defaults: #N/A, N/A, NA, NULL, NaN, None, ...).")
@click.option("--no-default-na", "keep_default_na", is_flag=True, flag_value=False,
              default=True, help="Only --na-values mean 'no value' (keep 'None', 'NA' as text).")
@click.option("--rejects", "rejects_path",
              help="Where rejected rows go (default <output stem>.rejects.jsonl; "
              "convert.rejects.jsonl when the output is stdout).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token limit per example.")
@click.option("--model", "-m", help="Take the token limit and encoding from this model.")
@click.option("--on-overflow", type=click.Choice(OVERFLOW_POLICIES), default="keep",
              show_default=True, help="What to do with examples over the limit.")
@click.option("--metadata", "metadata_columns", default="", metavar="COL,COL",
              help="Copy these columns into each record's `metadata` (for split --group-by "
              "metadata.COL); submit and export leave it out for platforms that refuse it.")
@click.option("--redact", is_flag=True,
              help="Replace API keys, private keys, card numbers, e-mail addresses, phone numbers, "
              "IBANs and IP addresses with placeholders such as <EMAIL> (see FT9xx rules).")
@click.option("--spill-threshold", type=click.IntRange(min=1), default=DEFAULT_SPILL_THRESHOLD,
              hidden=True, help="Multi-turn: rows held in memory before regrouping on disk.")
@quiet_option
@format_option
def convert_command(
    input_path: str,
    output_path: str,
    system_file: str | None,
    role_map: str,
    na_values: str,
    user_template: str | None,
    assistant_template: str | None,
    system_template: str | None,
    fmt: str,
    metadata_columns: str,
    **options: object,
) -> None:
    """Convert INPUT (CSV, TSV, Parquet, JSONL, JSON, XLSX, .gz) into fine-tuning JSONL.

    Rows that cannot become a record are written to a rejects file with the reason. Exit 0
    when every row was written, 1 when some were rejected, 2 on usage or input errors.
    """
    if system_file is not None:
        if options.get("system_prompt") is not None:
            raise UsageError("give --system-prompt or --system-file, not both")
        options["system_prompt"] = read_system_file(system_file)
    options["metadata"] = tuple(c.strip() for c in metadata_columns.split(",") if c.strip())
    opts = ConvertOptions(
        role_map=parse_role_map(role_map),
        na_values=tuple(v for v in na_values.split(",") if v.strip()),
        user_template=_unescape_newlines(user_template),
        assistant_template=_unescape_newlines(assistant_template),
        system_template=_unescape_newlines(system_template),
        **options,  # type: ignore[arg-type]
    )
    result = convert(input_path, output_path, opts)
    # Whatever stdout carries (records or rejects), the summary must not mix into it.
    _report(result, fmt, to_stderr="-" in (output_path, opts.rejects_path),
            alternating=opts.first_speaker is not None)
    click.get_current_context().exit(EXIT_FINDINGS if result.rejected else EXIT_OK)


def _noun(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def _report(result: ConvertResult, fmt: str, *, to_stderr: bool, alternating: bool) -> None:
    if fmt == "json":
        if to_stderr:  # stdout carries the records
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), err=True)
        else:
            emit_json(result)
        return
    unit = "" if result.unit == "row" else \
        f" {_noun(result.read, result.unit)} (from {result.rows} {_noun(result.rows, 'row')})"
    if result.lines is not None and result.lines != result.rows + 1:  # + the header line
        unit += f" {_noun(result.read, 'row')} ({result.lines} lines)" if result.unit == "row" else ""
    click.echo(
        f"read {result.read}{unit}, wrote {result.written}, rejected {result.rejected} "
        f"({result.format_from} → {result.format_to}) → {result.output}",
        err=to_stderr,
    )
    if result.redacted:
        kinds = ", ".join(f"{kind} {n}" for kind, n in result.redacted.items())
        click.echo(f"redacted: {kinds}", err=to_stderr)
    if result.rejected:
        reasons = ", ".join(f"{reason} {n}" for reason, n in result.reasons.items())
        click.echo(f"rejects: {result.rejects} ({reasons})", err=to_stderr)
    if result.unknown_speakers:
        # repr: a speaker value from the data cannot put control characters on the terminal.
        shown = ", ".join(f"{v!r} ×{n}" for v, n in result.unknown_speakers.items())
        # With --first-speaker these are third speakers: only --role-map places them.
        fixes = "--role-map VALUE=ROLE" if alternating else \
            "--role-map VALUE=ROLE or --first-speaker user"
        click.echo(f"speakers without a role: {shown} — map them with {fixes}", err=to_stderr)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=to_stderr)
    if result.dropped_turns:
        click.echo(f"left out {result.dropped_turns} empty turn(s) (--drop-empty-turns)",
                   err=to_stderr)
    if result.unused_columns:
        # repr: a column name from the data cannot put control characters on the terminal.
        shown = ", ".join(repr(c) for c in result.unused_columns)
        click.echo(f"note: columns in no record: {shown} (--metadata COLUMN keeps one in each "
                   "record's metadata)", err=to_stderr)


COMMANDS: list[click.Command] = [convert_command]
