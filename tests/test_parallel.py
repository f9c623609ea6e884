"""`parallel.ordered_map`: work handed out by demand comes back complete and in input order."""
from __future__ import annotations

import os

import pytest

from ftprep.parallel import ordered_map


def _work(i: int, size: int) -> tuple[int, int, int]:
    return i, sum(range(size)), os.getpid()  # uneven items: some finish out of order


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_in_input_order_whoever_computed_them(workers: int) -> None:
    items = [(i, (i * 7919) % 40_000) for i in range(60)]
    out = list(ordered_map(_work, iter(items), workers=workers))
    assert [(i, total) for i, total, _ in out] == [(i, sum(range(n))) for i, n in items]
    pids = {pid for *_, pid in out}
    assert len(pids) <= workers
    if workers == 1:
        assert pids == {os.getpid()}
