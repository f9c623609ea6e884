"""A progress bar on stderr for long reads: bytes read of the file, rate and time left.

The library never prints: the CLI opens a `session` (only when stderr is a terminal and the
command was not given --quiet), and the shared reading layer (`ftprep.io.jsonl.open_binary`)
hands every file it opens to `watch`. While no session is open `watch` returns the file as it
is, so library users and piped runs pay nothing.

A watched file is re-buffered over a raw reader that counts bytes: lines are still split by
the C buffered reader, and the count is taken once per buffer refill (64 KB or more), so the
bar costs one time check per refill and a redraw at most every `INTERVAL` seconds. Worker
processes never draw (the bar belongs to the process that opened the session).
"""
from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

INTERVAL = 0.25  # seconds between redraws ("a few times a second")
DELAY = 0.5  # nothing is drawn for reads that finish sooner (FTPREP_PROGRESS_DELAY overrides)
DELAY_ENV = "FTPREP_PROGRESS_DELAY"
WIDTH = 24  # characters of the bar itself
BUFFER = 1 << 16

_bar: ContextVar[Bar | None] = ContextVar("ftprep_progress", default=None)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - the loop returns


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, DELAY)))
    except ValueError:
        return DELAY


class Bar:
    """The state of one bar: the file being read, its size, bytes so far, when drawn."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.pid = os.getpid()
        self.label = ""
        self.stage = ""
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self.last = -INTERVAL  # the first redraw is not held back
        self.delay = _delay()
        self.drawn = False

    def start(self, label: str, total: int | None) -> None:
        """A new file (or a new pass over one): the bar starts again from 0."""
        self.label, self.total, self.done = label, total, 0
        self.started = time.monotonic()
        self.last = -INTERVAL  # a new pass shows its name at its first read (after the delay)

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last < INTERVAL or now - self.started < self.delay \
                or os.getpid() != self.pid:
            return
        self.last = now
        self.draw(now)

    def draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        name = f"{self.stage} {self.label}".strip()
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * WIDTH)
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            text = (f"{name} [{'#' * filled}{'.' * (WIDTH - filled)}] {frac:4.0%} "
                    f"{_size(self.done)}/{_size(self.total)} {_size(rate)}/s "
                    f"ETA {_clock(max(left, 0.0))}")
        else:
            text = f"{name} {_size(self.done)} {_size(rate)}/s"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn and os.getpid() == self.pid:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


class _Counting(io.RawIOBase):
    """A raw file that tells the bar how many bytes each read brought."""

    def __init__(self, raw: Any, bar: Bar) -> None:
        super().__init__()
        self.raw, self.bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        n = self.raw.readinto(buffer)
        if n:
            self.bar.advance(n)
        elif n == 0:  # the end: what the command prints next starts on a clean line
            self.bar.clear()
        return n

    def fileno(self) -> int:
        return int(self.raw.fileno())

    def close(self) -> None:
        if not self.closed:
            self.bar.clear()
            self.raw.close()
        super().close()


def watch(f: io.BufferedReader, path: str | Path) -> io.BufferedReader:
    """`f` (just opened, nothing read yet), counted by the open bar; `f` itself when none is."""
    bar = _bar.get()
    if bar is None or os.getpid() != bar.pid:
        return f
    try:
        total: int | None = os.fstat(f.fileno()).st_size
    except OSError:
        total = None
    bar.start(Path(path).name, total or None)
    return io.BufferedReader(_Counting(f.detach(), bar), buffer_size=BUFFER)


def stage(name: str) -> None:
    """Name what the next reads are for (a command that reads a file more than once)."""
    bar = _bar.get()
    if bar is not None:
        bar.stage = name


@contextmanager
def session(enabled: bool, stream: IO[str] | None = None) -> Iterator[None]:
    """Show a bar for the files read inside the block (when `enabled`); the line is
    cleared at the end, so what the command prints next starts on a clean line."""
    if not enabled:
        yield
        return
    bar = Bar(stream or sys.stderr)
    token = _bar.set(bar)
    try:
        yield
    finally:
        bar.clear()
        _bar.reset(token)


def disable() -> None:
    """Turn the bar of the current session off (`--quiet`)."""
    bar = _bar.get()
    if bar is not None:
        bar.clear()
        _bar.set(None)


def active() -> bool:
    """Whether progress may be shown now: a CLI session is open and not turned off (--quiet).
    Commands with their own bar (eval's requests) ask this too."""
    return _bar.get() is not None


def wanted(stream: IO[str] | None = None) -> bool:
    """Whether a bar should be drawn: stderr is a terminal (and not TERM=dumb)."""
    stream = stream or sys.stderr
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
