"""The `ftprep` command: thin click layers over the library. Only this package prints."""
from __future__ import annotations

import os
import sys
from typing import Any

import click

from ftprep import __version__
from ftprep.errors import EXIT_USAGE, FtprepError


class FtprepGroup(click.Group):
    """Turns every expected failure into one line on stderr and its exit code.
    Unexpected errors also become one line; FTPREP_DEBUG=1 shows the traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # pipeline order, as registered, not alphabetical

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FtprepError as e:
            click.echo(f"ftprep: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:
            # `ftprep ... | head`: the reader went away; that is not our error.
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("ftprep: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if os.environ.get("FTPREP_DEBUG"):
                raise
            from ftprep.platform.redact import redact  # keys never reach the terminal

            click.echo(
                f"ftprep: internal error: {type(e).__name__}: {redact(str(e))} "
                "(set FTPREP_DEBUG=1 for the traceback, and please report it)",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@click.group(cls=FtprepGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftprep")
def main() -> None:
    """Prepare, check, count, split and submit fine-tuning datasets."""


def _register() -> None:
    # Each module owns one area of the CLI; they are wired together only here.
    from ftprep.cli import (
        convert_cmd,
        count_cmd,
        platform_cmd,
        split_cmd,
        validate_cmd,
    )

    for module in (convert_cmd, validate_cmd, count_cmd, split_cmd, platform_cmd):
        for command in module.COMMANDS:
            main.add_command(command)
    models_group = main.commands.get("models")
    if isinstance(models_group, click.Group):
        for command in count_cmd.MODELS_COMMANDS:  # offline registry views: `models info`
            models_group.add_command(command)


_register()
