"""The `ftprep` command: thin click layers over the library. Only this package prints."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, NoReturn

import click

from ftprep import __version__, progress
from ftprep.cli.process import (
    Terminated,
    install_signal_handlers,
    make_stdout_pipe_tolerant,
    show_library_notes,
)
from ftprep.errors import EXIT_USAGE, FtprepError
from ftprep.text import printable

# Command name → the module that defines it, in pipeline order. Modules are imported only
# when their command runs (or for --help), so `ftprep count` does not load the openai SDK.
LAZY_COMMANDS = {
    "convert": "convert_cmd",
    "validate": "validate_cmd",
    "rules": "validate_cmd",
    "count": "count_cmd",
    "estimate": "count_cmd",
    "split": "split_cmd",
    "targets": "targets_cmd",
    "export": "targets_cmd",
    "submit": "platform_cmd",
    "files": "platform_cmd",
    "jobs": "platform_cmd",
    "models": "platform_cmd",
    "eval": "eval_cmd",
    "try": "eval_cmd",
    "report": "report_cmd",
}


class FtprepGroup(click.Group):
    """Loads commands lazily, and turns every expected failure into one line on stderr and its
    exit code. Unexpected errors also become one line; FTPREP_DEBUG=1 shows the traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [name for name in self.commands if name not in LAZY_COMMANDS]
        return [*LAZY_COMMANDS, *extra]  # pipeline order, not alphabetical

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY_COMMANDS:
            self.add_command(_load(name))
        return self.commands.get(name)

    def invoke(self, ctx: click.Context) -> Any:
        install_signal_handlers()
        make_stdout_pipe_tolerant()
        show_library_notes()
        try:
            # a bar for long reads on a terminal (commands' --quiet turns it off); the
            # session ends, clearing its line, before any error below is printed
            with progress.session(progress.wanted()):
                return super().invoke(ctx)
        except FtprepError as e:
            from ftprep.cli.common import error_line  # parameters worded as flags

            click.echo(f"ftprep: error: {printable(error_line(e))}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:
            # A stdout the CLI did not wrap (a test runner's): the reader went away.
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("ftprep: interrupted", err=True)
            ctx.exit(130)
        except click.UsageError as e:
            # The option parser's errors carry no context: name the subcommand being parsed.
            sub = ctx.invoked_subcommand
            _usage_error(e, f"{ctx.command_path} {sub}" if sub else ctx.command_path)
        except Terminated as e:
            click.echo(f"ftprep: terminated by {e.name}", err=True)
            ctx.exit(128 + e.signum)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as e:  # I/O the library did not word itself: still one line, exit 2
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"ftprep: error: {printable(where)}{e.strerror or e}", err=True)
            ctx.exit(EXIT_USAGE)
        except Exception as e:
            if os.environ.get("FTPREP_DEBUG"):
                raise
            from ftprep.platform.redact import redact  # keys never reach the terminal

            click.echo(
                f"ftprep: internal error: {type(e).__name__}: {printable(redact(str(e)))} "
                "(set FTPREP_DEBUG=1 for the traceback, and please report it)",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:  # `ftprep --bogus`: the group's own options
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:
            _usage_error(e)


def _usage_error(e: click.UsageError, fallback: str = "ftprep") -> NoReturn:
    """Click's three-line usage message as one line in ftprep's format, exit 2."""
    command = e.ctx.command_path if e.ctx is not None else fallback
    click.echo(f"ftprep: error: {printable(e.format_message())} (see '{command} --help')",
               err=True)
    sys.exit(EXIT_USAGE)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@click.group(cls=FtprepGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftprep")
def main() -> None:
    """Prepare, check, count, split, export, submit and evaluate fine-tuning datasets."""


def _load(name: str) -> click.Command:
    module = importlib.import_module(f"ftprep.cli.{LAZY_COMMANDS[name]}")
    command = next(c for c in module.COMMANDS if c.name == name)
    if name == "models" and isinstance(command, click.Group):
        from ftprep.cli import models_cmd  # the offline registry view: `models info`

        for sub in models_cmd.COMMANDS:
            command.add_command(sub)
    return command
