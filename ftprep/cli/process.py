"""What the CLI sets up for the whole process: signals that clean up, a stdout whose reader
may go away, and the library's warnings on stderr."""
from __future__ import annotations

import io
import logging
import os
import signal
import sys
from types import FrameType

import click

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM/SIGHUP as an exception, so that every `finally` and context manager runs
    (temporaries removed, spill folders deleted) exactly as for Ctrl-C. A BaseException, like
    KeyboardInterrupt: no `except Exception` in the library may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_INSTALLED_BY: list[int] = []


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    if os.getpid() not in _INSTALLED_BY:
        # A forked worker, signalled before it reset the handler (a pool shutting down): it
        # has no outputs of its own to clean, so it dies the default way, silently.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise Terminated(signum)


def install_signal_handlers() -> None:
    _INSTALLED_BY.append(os.getpid())
    for sig in HANDLED_SIGNALS:
        if signal.getsignal(sig) in (signal.SIG_DFL, None):  # keep a handler someone set
            signal.signal(sig, _raise_terminated)


class _PipeTolerantStdout(io.RawIOBase):
    """fd 1 that survives its reader leaving: after EPIPE, output goes to /dev/null and the
    command runs to its end, so its exit code is the verdict on the data, not on `head`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.broken = False

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        try:
            return os.write(self.fd, view)
        except BrokenPipeError:
            self.broken = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.fd)
            os.close(devnull)
            return len(view)


def make_stdout_pipe_tolerant() -> None:
    """Replace the real sys.stdout (not a test runner's capture) with a pipe-tolerant one."""
    out = sys.__stdout__
    if out is None or sys.stdout is not out:
        return
    try:
        fd = out.fileno()
    except (OSError, ValueError):
        return
    out.flush()
    raw = _PipeTolerantStdout(fd)
    buffered = io.BufferedWriter(raw, 1 << 16)
    sys.stdout = io.TextIOWrapper(buffered, encoding=out.encoding, errors=out.errors,
                                  line_buffering=out.line_buffering, write_through=False)


class _NoteHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"ftprep: note: {record.getMessage()}", err=True)


def show_library_notes() -> None:
    """The library logs what it did on its own (finishing a killed run's commit) on the
    `ftprep.io` logger; the CLI shows it as one line on stderr."""
    logger = logging.getLogger("ftprep.io")
    if not any(isinstance(h, _NoteHandler) for h in logger.handlers):
        logger.addHandler(_NoteHandler())
        logger.propagate = False
        logger.setLevel(logging.INFO)
