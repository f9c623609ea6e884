"""`count`: exact token counts of a fine-tuning file against a model's limits.

The file is streamed in batches of raw lines; on big files the batches are spread over worker
processes (results kept in file order, a bounded number in flight so memory stays flat). Per
example only a few 4-byte integers are kept (array('I')), which makes the percentiles exact.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ftprep.errors import InputError, UsageError
from ftprep.formats import UNKNOWN, detect_format
from ftprep.io.jsonl import iter_line_chunks, parse_line
from ftprep.parallel import file_size, ordered_map, worker_count
from ftprep.tokens import count_record, get_encoding

BATCH_BYTES = 1 << 20  # ~1 MB of raw lines per batch: big enough to amortise hand-over
PARALLEL_MIN_BYTES = 8 << 20  # smaller files are counted in-process (pool start-up dominates)
NO_ANSWER = 0xFFFFFFFF  # answer_start sentinel: the example has no final assistant answer
LINES_SHOWN = 1000  # over-limit / cut lines listed in reports (the counts are always complete)
PER_EXAMPLE_SUFFIXES = (".csv", ".parquet")


@dataclass
class TokenCounts:
    """Per-example counts of a whole file, in file order, as compact arrays."""

    path: str
    encoding: str
    lines: array = field(default_factory=lambda: array("I"))
    tokens: array = field(default_factory=lambda: array("I"))
    trainable: array = field(default_factory=lambda: array("I"))
    messages: array = field(default_factory=lambda: array("I"))
    answer_start: array = field(default_factory=lambda: array("I"))
    estimated: bool = False

    def extend(self, other: _BatchResult) -> None:
        for name in ("lines", "tokens", "trainable", "messages", "answer_start"):
            getattr(self, name).extend(getattr(other, name))
        self.estimated = self.estimated or other.estimated

    def billed(self, limit: int) -> int:
        """Σ min(tokens, limit): what one epoch bills (tokens beyond the limit are cut)."""
        import numpy as np

        return int(np.minimum(self._np(self.tokens), limit).sum(dtype=np.int64))

    @staticmethod
    def _np(values: array) -> Any:
        import numpy as np

        return np.frombuffer(values, dtype=np.uint32) if len(values) else np.zeros(0, np.uint32)


@dataclass
class _BatchResult:
    lines: array
    tokens: array
    trainable: array
    messages: array
    answer_start: array
    estimated: bool = False
    error: tuple[int, str] | None = None  # the first bad line of the batch


def _count_batch(encoding_name: str, first_line: int, chunk: bytes) -> _BatchResult:
    """Count one chunk of whole lines (runs in a worker process or in-process). Lines are
    split here, not in the parent, so the parent only moves bytes."""
    encoding = get_encoding(encoding_name)
    out = _BatchResult(array("I"), array("I"), array("I"), array("I"), array("I"))
    for line, raw in enumerate(chunk.split(b"\n"), start=first_line):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue  # blank lines hold no example; `validate` reports them
            parsed = parse_line(raw, line)  # slow path: lone surrogates, or explain the error
            if parsed.error:
                out.error = (line, parsed.detail)
                return out
            value = parsed.value
        fmt = detect_format(value) if isinstance(value, dict) else UNKNOWN
        if fmt == UNKNOWN:
            out.error = (line, _record_problem(value))
            return out
        counted = count_record(value, encoding, fmt)
        out.lines.append(line)
        out.tokens.append(counted.total)
        out.trainable.append(counted.trainable)
        out.messages.append(counted.messages)
        out.answer_start.append(NO_ANSWER if counted.answer_start is None else counted.answer_start)
        out.estimated = out.estimated or counted.estimated
    return out


def _record_problem(value: Any) -> str:
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    return "not a chat, preference or completion example"


def _chunks(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, whole lines joined by \\n) in blocks of ~BATCH_BYTES."""
    return iter_line_chunks(path, BATCH_BYTES)  # looked up per call: tests shrink it


def count_tokens(
    path: str | Path, encoding_name: str, *, workers: int | None = None
) -> TokenCounts:
    """Count every example of a file. A line that is not an example raises `InputError`."""
    get_encoding(encoding_name)  # built once here: forked workers inherit it
    counts = TokenCounts(str(path), encoding_name)
    n_workers = worker_count(file_size(path), workers, PARALLEL_MIN_BYTES)
    results = (
        _count_serial(path, encoding_name)
        if n_workers == 1
        else _count_parallel(path, encoding_name, n_workers)
    )
    for result in results:
        counts.extend(result)
        if result.error:
            line, message = result.error
            raise InputError(
                f"{message} (count needs clean input; run `ftprep validate` for all problems)",
                path=str(path), line=line,
            )
    return counts


def _count_serial(path: str | Path, encoding_name: str) -> Iterator[_BatchResult]:
    for first_line, chunk in _chunks(path):
        yield _count_batch(encoding_name, first_line, chunk)


def _init_worker(encoding_name: str) -> None:
    get_encoding(encoding_name)


def _count_parallel(
    path: str | Path, encoding_name: str, workers: int
) -> Iterator[_BatchResult]:
    batches = ((encoding_name, first_line, chunk) for first_line, chunk in _chunks(path))
    return ordered_map(_count_batch, batches, workers=workers, initializer=_init_worker,
                       initargs=(encoding_name,))


# -- report ---------------------------------------------------------------------------------


@dataclass
class CountReport:
    """What `count_file` found; `to_dict()` is the stable JSON of `ftprep count`."""

    path: str
    model: str
    encoding: str
    examples: int
    total_tokens: int
    trainable_tokens: int
    max_tokens: int
    billed_tokens: int
    over_limit: int
    over_limit_lines: list[int]
    tokens_cut: int
    answer_cut: int
    answer_cut_lines: list[int]
    tokens_per_example: dict[str, float]
    messages_per_example: dict[str, float]
    estimated: bool
    counts: TokenCounts | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """False when some example's final answer would be cut away entirely."""
        return self.answer_cut == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "model": self.model,
            "encoding": self.encoding,
            "examples": self.examples,
            "total_tokens": self.total_tokens,
            "trainable_tokens": self.trainable_tokens,
            "max_tokens": self.max_tokens,
            "billed_tokens": self.billed_tokens,
            "over_limit": self.over_limit,
            "over_limit_lines": self.over_limit_lines,
            "tokens_cut": self.tokens_cut,
            "answer_cut": self.answer_cut,
            "answer_cut_lines": self.answer_cut_lines,
            "tokens_per_example": self.tokens_per_example,
            "messages_per_example": self.messages_per_example,
            "estimated": self.estimated,
        }


def stats(values: array) -> dict[str, float]:
    """min/max/mean/median/p5/p95 (nearest-rank percentiles), exact; zeros when empty."""
    import numpy as np

    if not len(values):  # same JSON types as for a non-empty file: mean/median are floats
        return {"min": 0, "max": 0, "mean": 0.0, "median": 0.0, "p5": 0, "p95": 0}
    data = np.sort(TokenCounts._np(values))
    n = len(data)

    def rank(p: float) -> int:
        return int(data[max(0, math.ceil(p * n) - 1)])

    return {
        "min": int(data[0]),
        "max": int(data[-1]),
        "mean": round(float(data.mean(dtype=np.float64)), 2),
        "median": float(np.median(data)),
        "p5": rank(0.05),
        "p95": rank(0.95),
    }


def report_for(counts: TokenCounts, model_id: str, limit: int) -> CountReport:
    """Judge per-example counts against a limit."""
    import numpy as np

    tokens = TokenCounts._np(counts.tokens)
    lines = TokenCounts._np(counts.lines)
    answers = TokenCounts._np(counts.answer_start)
    over = tokens > limit
    cut = (answers != NO_ANSWER) & (answers >= limit)
    return CountReport(
        path=counts.path,
        model=model_id,
        encoding=counts.encoding,
        examples=len(tokens),
        total_tokens=int(tokens.sum(dtype=np.int64)),
        trainable_tokens=int(TokenCounts._np(counts.trainable).sum(dtype=np.int64)),
        max_tokens=limit,
        billed_tokens=counts.billed(limit),
        over_limit=int(over.sum()),
        over_limit_lines=[int(x) for x in lines[over][:LINES_SHOWN]],
        tokens_cut=int((tokens[over].astype(np.int64) - limit).sum()),
        answer_cut=int(cut.sum()),
        answer_cut_lines=[int(x) for x in lines[cut][:LINES_SHOWN]],
        tokens_per_example=stats(counts.tokens),
        messages_per_example=stats(counts.messages),
        estimated=counts.estimated,
        counts=counts,
    )


def count_file(
    path: str | Path,
    *,
    model: str,
    models_file: str | Path | None = None,
    workers: int | None = None,
    per_example: str | Path | None = None,
) -> CountReport:
    """Count a file's tokens for `model`; optionally write line → tokens to `per_example`
    (.csv or .parquet, atomically)."""
    from ftprep.models import get_model

    if per_example is not None:
        _check_per_example_path(per_example)
        if str(path) != "-" and Path(per_example).resolve() == Path(path).resolve():
            raise UsageError(f"--per-example {per_example} would overwrite the input file")
    info = get_model(model, models_file=models_file)
    counts = count_tokens(path, info.encoding, workers=workers)
    report = report_for(counts, info.id, info.max_example_tokens)
    if per_example is not None:
        write_per_example(per_example, counts, info.max_example_tokens)
    return report


def _check_per_example_path(path: str | Path) -> None:
    if Path(path).suffix.lower() not in PER_EXAMPLE_SUFFIXES:
        raise UsageError(f"--per-example must end in .csv or .parquet: {path}")


def write_per_example(path: str | Path, counts: TokenCounts, limit: int) -> None:
    """line, tokens, trainable, over_limit per example; CSV or Parquet by extension."""
    import numpy as np
    import pyarrow as pa

    from ftprep.io.writer import atomic_writer

    _check_per_example_path(path)
    tokens = TokenCounts._np(counts.tokens)
    table = pa.table({
        "line": TokenCounts._np(counts.lines),
        "tokens": tokens,
        "trainable": TokenCounts._np(counts.trainable),
        "over_limit": np.asarray(tokens > limit),
    })
    with atomic_writer(path) as f:
        if Path(path).suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, f)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, f)


__all__ = [
    "CountReport",
    "TokenCounts",
    "count_file",
    "count_tokens",
    "report_for",
    "stats",
    "write_per_example",
]
