"""Ordered, bounded work over processes: how `count` and `validate` use every core.

Items (byte chunks of the input) go to worker processes and to the calling process itself;
results come back in input order, and at most `workers × IN_FLIGHT_PER_WORKER` items are queued
at once, so memory stays flat however large the file.
"""
from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ftprep.errors import FtprepError
from ftprep.faults import fault_point

if TYPE_CHECKING:
    from concurrent.futures import Future

R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 3  # enough to keep workers busy, few enough to bound memory
QUEUED_PER_WORKER = 2  # one running, one waiting: a worker never idles for want of work
MAX_AUTO_WORKERS = 8


def file_size(path: str | Path) -> int | None:
    """Bytes of a file; None for stdin or an unreadable path (reading raises the real error)."""
    if str(path) == "-":
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def worker_count(size: int | None, requested: int | None, min_bytes: int) -> int:
    """`requested` when given; else every core (up to MAX_AUTO_WORKERS) for inputs of at
    least `min_bytes`, and 1 below that, where starting a pool costs more than it saves."""
    if requested is not None:
        return max(1, requested)
    big = size is not None and size >= min_bytes
    return min(os.cpu_count() or 1, MAX_AUTO_WORKERS) if big else 1


def pool_context() -> Any:
    # fork shares what the parent already built (encodings, compiled schemas, rules) with the
    # workers instead of rebuilding it in each; elsewhere the platform default.
    import multiprocessing  # here: small files never start a pool, and start faster without

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def ordered_map(
    fn: Callable[..., R],
    items: Iterable[tuple[Any, ...]],
    *,
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """`fn(*item)` for every item over `workers` processes, yielded in input order: a pool
    of `workers - 1` is kept fed with QUEUED_PER_WORKER items each, and the calling process
    works on every other item itself. The caller would otherwise sit idle waiting, and each
    process holds its own copy of what the work needs (an o200k tokenizer is ~70 MB), so one
    process fewer is that much memory saved. Handing out by demand, not in turns, balances
    the load: the caller also reads the file and merges results, and on a shared machine
    one process may get less CPU than another. The caller runs `initializer` first, so
    forked workers inherit its result."""
    if initializer is not None:
        initializer(*initargs)
    if workers <= 1:
        yield from (fn(*item) for item in items)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pending: deque[Future[R] | _Done[R]] = deque()
    with ProcessPoolExecutor(workers - 1, mp_context=pool_context(), initializer=_init_worker,
                             initargs=(initializer, initargs)) as pool:
        try:
            queued = (workers - 1) * QUEUED_PER_WORKER
            for item in items:
                if sum(1 for p in pending if not p.done()) < queued:
                    pending.append(pool.submit(fn, *item))
                else:
                    pending.append(_Done(fn(*item)))
                while len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool:
            raise FtprepError("a worker process died (killed by a signal, or out of memory); "
                              "nothing was written, run again (--workers 1 uses none)") from None
        finally:
            for future in pending:  # an error or an early exit: drop the queued work
                future.cancel()


def _init_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    # A forked worker inherits the CLI's handlers, which turn SIGTERM/SIGHUP into cleanup of
    # the parent's outputs; a worker has none, so the signal just ends it (the parent reports).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    fault_point("worker:start")
    if initializer is not None:
        initializer(*initargs)


class _Done(Generic[R]):
    """A result computed in the calling process, shaped like a finished Future."""

    __slots__ = ("value",)

    def __init__(self, value: R) -> None:
        self.value = value

    def result(self) -> R:
        return self.value

    def done(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False
