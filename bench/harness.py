"""Paired timing for `make bench`: two commands doing the same work, run alternately for
several rounds, each side's median and min-max wall time, CPU time over all its processes,
peak RSS summed over its process tree (sampled from /proc), and the machine's load.

No figure is written down that this harness did not print.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

SAMPLE_SECONDS = 0.02  # /proc sampling period for the peak RSS of a process tree


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    output: bytes


@dataclass
class Side:
    label: str
    command: Sequence[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    def summary(self) -> str:
        walls = [r.wall for r in self.runs]
        peak = max(r.peak_mb for r in self.runs)
        return (f"{self.label:<28} median {self.median:7.2f} s (min {min(walls):.2f}, max "
                f"{max(walls):.2f}), CPU {self.cpu:6.2f} s, peak RSS {peak:5.0f} MB")


@dataclass
class Pair:
    """`ours` against `reference`; `goal` says what the ratio must reach, `check` compares the
    outputs of one round (identical totals, byte-identical files...) and returns a problem."""

    name: str
    ours: Side
    reference: Side
    goal: str
    passes: Callable[[float], bool]
    check: Callable[[bytes, bytes], str | None] = lambda a, b: None
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """reference time / our time: > 1 means ftprep is faster."""
        return self.reference.median / self.ours.median

    @property
    def cpu_ratio(self) -> float:
        """The same for CPU time over all processes: the work itself, which the machine's
        load disturbs much less than wall time (but which does not show a second core)."""
        return self.reference.cpu / max(self.ours.cpu, 1e-9)


def measure(command: Sequence[str]) -> Run:
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = _PeakRss(proc.pid)
    peak.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    peak.stop()
    after = os.times()
    if proc.returncode not in (0, 1):  # 1: findings in the data, which some cases have
        raise SystemExit(f"bench: {' '.join(command)} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace').strip()[-400:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system
                                                          - before.children_system)
    return Run(wall, cpu, peak.mb, out)


def run_pair(pair: Pair, rounds: int) -> Pair:
    for i in range(rounds):
        # Alternate which side goes first: a neighbour's burst or a warm cache must not
        # always favour the same side.
        sides = (pair.ours, pair.reference) if i % 2 == 0 else (pair.reference, pair.ours)
        for side in sides:
            side.runs.append(measure(side.command))
        problem = pair.check(pair.ours.runs[-1].output, pair.reference.runs[-1].output)
        if problem:
            pair.problems.append(f"round {i + 1}: {problem}")
    return pair


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"


class _PeakRss(threading.Thread):
    """Samples the summed RSS of a process and its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.mb, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.mb = max(self.mb, sum(_rss_kb(p) for p in _tree(self.pid)) / 1024)
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
