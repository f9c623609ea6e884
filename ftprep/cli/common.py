"""Options and output helpers shared by the commands."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from ftprep.errors import FtprepError, UsageError
from ftprep.plain import to_plain
from ftprep.text import json_printable

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format; json is stable and machine-readable.",
)


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from ftprep import progress

        progress.disable()


quiet_option = click.option(
    "--quiet", "-q", is_flag=True, expose_value=False, callback=_quiet,
    help="No progress bar (it is shown only when stderr is a terminal).",
)
models_file_option = click.option(
    "--models-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file merged over the bundled model registry (env FTPREP_MODELS_FILE).",
)


# Library parameters whose flag is not `--` + the name with dashes (the CLI's one mapping).
FLAG_NAMES = {"source_format": "--from", "target_format": "--to", "out_dir": "--output-dir",
              "fmt": "--format"}


def stdin_is_tty() -> bool:
    """Whether a person can answer a confirmation prompt (tests patch this one place)."""
    return sys.stdin.isatty()


def flag(name: str) -> str:
    """The flag that sets the library parameter `name` (`group_by` → `--group-by`)."""
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def error_line(error: FtprepError) -> str:
    """An error as the CLI says it: parameters named by their flags."""
    if isinstance(error, UsageError):
        text, hint = error.worded(flag), error.worded_hint(flag)
    else:
        text, hint = error.message, error.hint
    return f"{text} ({hint})" if hint else text


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout (UTF-8, not ASCII-escaped, stable key order; the
    control characters JSON would leave raw are escaped, so server text cannot drive the
    terminal)."""
    click.echo(json_printable(json.dumps(data, ensure_ascii=False, indent=2, default=_default)))


def _default(obj: Any) -> Any:
    plain = to_plain(obj)
    return str(obj) if plain is obj else plain


def split_codes(values: tuple[str, ...]) -> list[str]:
    """`--select A,B --select C` → ['A', 'B', 'C'] (upper-cased, stripped)."""
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


PIPE_WIDTH = 160


def print_table(table: Any) -> None:
    """Print a rich renderable on stdout. Piped or captured output gets a wide console, so
    tables are never squeezed (and model names never wrapped) to a default 80 columns."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, PIPE_WIDTH))
    console.print(table)


def print_rows(title: str, rows: list[tuple[str, Any]]) -> None:
    """A titled two-column table of name → value (numbers with thousands separators)."""
    from rich.table import Table

    click.echo(title)  # a plain line: a rich title wraps to the table's width
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, value if isinstance(value, str) else f"{value:,}")
    print_table(table)


def usd(amount: float) -> str:
    """Dollars for people: cents as usual, but a cost under a cent keeps two significant
    digits instead of showing as $0.00 (small datasets cost fractions of a cent)."""
    if 0 < abs(amount) < 0.01:
        return f"${amount:.2g}" if abs(amount) >= 0.0001 else "<$0.0001"
    return f"${amount:,.2f}"


def as_flags(message: str, flags: dict[str, str]) -> str:
    """A library message worded for the command line: `param=` becomes its flag (the library
    names its parameters, the user typed flags). `flags` maps "param=" → "--flag "."""
    for param, flag in flags.items():
        message = message.replace(param, flag)
    return message
