"""Atomic output: write to a temporary file beside the target, then rename over it.

A crash or Ctrl-C leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ftprep.errors import InputError
from ftprep.io.jsonl import dumps_line


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file handle; on success the content replaces `path` atomically.
    `path == '-'` writes to stdout (not atomic, by nature)."""
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        # mkstemp creates 0600; an output file gets the mode `open()` would give it
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror or e}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; restored at once
    os.umask(mask)
    return mask


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    n = 0
    with atomic_writer(path) as f:
        for record in records:
            f.write(dumps_line(record))
            n += 1
    return n
