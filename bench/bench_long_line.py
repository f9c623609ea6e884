"""Benchmark: one physical line of 80 MB (a JSON array on one line), through `ftprep convert`.

The text reader used to rebuild the unfinished line on every 64 KiB block (quadratic: 45 s and
182 MB for this file). Now the JSON array reader sees a sliding window of decoded blocks and the
line splitter joins a long line's pieces once. Run by `make bench`, not tests.
Goal: time grows linearly with the size (4x the data, about 4x the time, not 16x),
peak RSS < 150 MB.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import measure

OUT = Path(__file__).resolve().parent / "out"
SIZES_MB = (20, 80)
RSS_GOAL_MB = 150


def _generate(path: Path, megabytes: int) -> None:
    if path.exists():
        return
    OUT.mkdir(parents=True, exist_ok=True)
    element = json.dumps({"q": "What is the capital of France? " * 3, "a": "Paris. " * 6})
    n = megabytes * 1024 * 1024 // (len(element) + 1)
    with open(path, "w") as f:
        f.write("[" + ",".join([element] * n) + "]")  # one line, no newline at all


def _run(path: Path) -> tuple[float, float]:
    """Wall seconds and this convert's own peak RSS (its process tree, sampled: the shared
    harness; RUSAGE_CHILDREN would report the largest child of the whole bench run)."""
    ftprep = str(Path(sys.executable).with_name("ftprep"))
    run = measure([ftprep, "convert", str(path), "-o", str(OUT / "long_line_out.jsonl"),
                   "--user", "q", "--assistant", "a"])
    return run.wall, run.peak_mb


def main() -> None:
    times = {}
    for mb in SIZES_MB:
        path = OUT / f"one_line_{mb}mb.json"
        _generate(path, mb)
        seconds, rss = _run(path)
        times[mb] = seconds
        print(f"one-line JSON array {mb} MB: {seconds:.1f} s, peak RSS {rss:.0f} MB")
    ratio = times[SIZES_MB[1]] / times[SIZES_MB[0]]
    size_ratio = SIZES_MB[1] / SIZES_MB[0]
    print(f"time ratio {ratio:.1f} for {size_ratio:.0f}x the data (linear: ~{size_ratio:.0f}, "
          f"quadratic: ~{size_ratio ** 2:.0f}); RSS goal < {RSS_GOAL_MB} MB")


if __name__ == "__main__":
    main()
