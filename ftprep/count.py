"""`count`: exact token counts of a fine-tuning file against a model's limits.

The file is streamed in batches of raw lines; on big files the batches are spread over worker
processes (results kept in file order, a bounded number in flight so memory stays flat). Per
example only a few 4-byte integers are kept (array('I')), which makes the percentiles exact.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import InputError, UsageError
from ftprep.formats import UNKNOWN, detect_format
from ftprep.io.jsonl import (
    BLANK,
    JsonLine,
    as_record_line,
    decoded_object,
    iter_line_chunks,
    parse_line,
)
from ftprep.parallel import file_size, ordered_map, worker_count
from ftprep.tokens import (
    SUPPORTED_ENCODINGS,
    ExampleTokens,
    count_record,
    get_encoding,
    plain_chat_counter,
    prepare_counter,
)

BATCH_BYTES = 1 << 20  # ~1 MB of raw lines per batch: big enough to amortise hand-over
PARALLEL_MIN_BYTES = 8 << 20  # smaller files are counted in-process (pool start-up dominates)
NO_ANSWER = 0xFFFFFFFF  # answer_start sentinel: the example has no final assistant answer
LINES_SHOWN = 1000  # over-limit / cut lines listed in reports (the counts are always complete)
PER_EXAMPLE_SUFFIXES = (".csv", ".parquet")
LOCAL_PREFIX = "local:"  # a tokenizer name "local:PATH" counts with an open model's files at PATH

RecordCounter = Callable[[dict, str], ExampleTokens]


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

    def extend(self, other: CountBatch) -> None:
        for name in ("lines", "tokens", "trainable", "messages", "answer_start"):
            getattr(self, name).extend(getattr(other, name))
        self.estimated = self.estimated or other.estimated

    def billed(self, limit: int) -> int:
        """Σ min(tokens, limit): what one epoch bills (tokens beyond the limit are cut)."""
        return sum(self.tokens) - _beyond(self.tokens, limit)

    @staticmethod
    def _np(values: array) -> Any:
        import numpy as np

        return np.frombuffer(values, dtype=np.uint32) if len(values) else np.zeros(0, np.uint32)


@dataclass
class CountBatch:
    """Per-example counts of one batch of lines (what a worker sends back); `TokenCounts`
    appends batches in file order. The report's single pass fills these too."""

    lines: array = field(default_factory=lambda: array("I"))
    tokens: array = field(default_factory=lambda: array("I"))
    trainable: array = field(default_factory=lambda: array("I"))
    messages: array = field(default_factory=lambda: array("I"))
    answer_start: array = field(default_factory=lambda: array("I"))
    estimated: bool = False
    error: tuple[int, str] | None = None  # the first bad line of the batch
    template_refused: bool = False  # ... refused by an open model's chat template, not malformed

    def add(self, line: int, counted: ExampleTokens) -> None:
        self.add_row(line, counted.total, counted.trainable, counted.messages,
                     counted.answer_start)
        self.estimated = self.estimated or counted.estimated

    def add_row(self, line: int, total: int, trainable: int, messages: int,
                answer_start: int | None) -> None:
        self.lines.append(line)
        self.tokens.append(total)
        self.trainable.append(trainable)
        self.messages.append(messages)
        self.answer_start.append(NO_ANSWER if answer_start is None else answer_start)


def record_counter(tokenizer: str) -> RecordCounter:
    """`(record, format) -> ExampleTokens` for an OpenAI encoding name, or for "local:PATH"
    (an open model's tokenizer and chat template; `ftprep.tokens.template`)."""
    if tokenizer.startswith(LOCAL_PREFIX):
        from ftprep.tokens.template import get_template_counter

        return get_template_counter(tokenizer[len(LOCAL_PREFIX):]).count_record
    if tokenizer not in SUPPORTED_ENCODINGS:
        get_encoding(tokenizer)  # the same one-line error for an unknown name
    # By name: the Rust counter needs no tiktoken encoder (built only for lone surrogates).
    prepare_counter(tokenizer)

    def count(record: dict, fmt: str) -> ExampleTokens:
        return count_record(record, tokenizer, fmt)

    return count


def _count_batch(tokenizer: str, first_line: int, chunk: bytes) -> CountBatch:
    """Count one chunk of whole lines (runs in a worker process or in-process). Lines are
    split here, not in the parent, so the parent only moves bytes.

    A line that orjson reads as a plain chat record (`plain_chat_counter`) is counted on the
    spot; any other line takes the reading validate and split share (`parse_line`), which
    gives the same value for a plain record, so both ways agree on every line."""
    count = record_counter(tokenizer)
    plain = None if tokenizer.startswith(LOCAL_PREFIX) else plain_chat_counter(tokenizer)
    out = CountBatch()
    add_row = out.add_row
    for line, raw in enumerate(chunk.split(b"\n"), start=first_line):
        if plain is not None:
            value = decoded_object(raw)
            row = plain(value) if value is not None else None
            if row is not None:
                add_row(line, *row)
                continue
        if not _count_line(out, count, parse_line(raw.rstrip(b"\r"), line)):
            return out
    return out


def _count_line(out: CountBatch, count: RecordCounter, jl: JsonLine) -> bool:
    """Count a line that is not a plain chat record into `out`; False (and `out.error` set)
    when it is no example."""
    jl = as_record_line(jl)
    if jl.error == BLANK:
        return True  # blank lines hold no example; `validate` reports them
    if jl.error:
        out.error = (jl.line, jl.detail)
        return False
    fmt = detect_format(jl.value)
    if fmt == UNKNOWN:
        out.error = (jl.line, "not a chat, preference or completion example")
        return False
    try:
        out.add(jl.line, count(jl.value, fmt))
    except UsageError as exc:  # an open model's chat template refused this record
        out.error, out.template_refused = (jl.line, str(exc)), True
        return False
    return True


def _chunks(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, whole lines joined by \\n) in blocks of ~BATCH_BYTES."""
    return iter_line_chunks(path, BATCH_BYTES)  # looked up per call: tests shrink it


def count_tokens(
    path: str | Path, encoding_name: str, *, workers: int | None = None
) -> TokenCounts:
    """Count every example of a file with an OpenAI encoding, or with "local:PATH" (an open
    model's tokenizer). A line that is not an example raises `InputError`."""
    record_counter(encoding_name)  # built once here: forked workers inherit it
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
            hint = ("" if result.template_refused else
                    " (count needs clean input; run `ftprep validate` for all problems)")
            raise InputError(f"{message}{hint}", path=str(path), line=line)
    return counts


def _count_serial(path: str | Path, encoding_name: str) -> Iterator[CountBatch]:
    for first_line, chunk in _chunks(path):
        yield _count_batch(encoding_name, first_line, chunk)


def _init_worker(encoding_name: str) -> None:
    record_counter(encoding_name)


def _count_parallel(
    path: str | Path, encoding_name: str, workers: int
) -> Iterator[CountBatch]:
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
    max_tokens: int | None  # None: no per-example limit known (an open model without --max-length)
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
    tokenizer: dict[str, Any] | None = None  # the open model's files (count --tokenizer)

    @property
    def ok(self) -> bool:
        """False when some example's final answer would be cut away entirely."""
        return self.answer_cut == 0

    def to_pandas(self) -> Any:
        """Per-example counts as a pandas DataFrame: line, tokens, trainable, messages,
        over_limit (needs pandas)."""
        from ftprep.frames import counts_frame

        if self.counts is None:
            raise UsageError("this report kept no per-example counts")
        return counts_frame(self.counts, self.max_tokens)

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
            **({"tokenizer": self.tokenizer} if self.tokenizer is not None else {}),
        }


NUMPY_SORT_FROM = 100_000  # examples: fewer sort faster in Python than numpy imports (0.1 s)


def _sorted(values: array) -> Any:
    """`values` sorted, indexable: a list, or from NUMPY_SORT_FROM values on a numpy array
    (4 bytes a value where a list of ints would take 36)."""
    if len(values) < NUMPY_SORT_FROM:
        return sorted(values)
    import numpy as np

    return np.sort(np.asarray(values))


def stats(values: array) -> dict[str, float]:
    """min/max/mean/median/p5/p95 (nearest-rank percentiles), exact; zeros when empty."""
    n = len(values)
    if not n:  # same JSON types as for a non-empty file: mean/median are floats
        return {"min": 0, "max": 0, "mean": 0.0, "median": 0.0, "p5": 0, "p95": 0}
    data = _sorted(values)

    def rank(p: float) -> int:
        return int(data[max(0, math.ceil(p * n) - 1)])

    mid = n // 2
    median = float(data[mid]) if n % 2 else (int(data[mid - 1]) + int(data[mid])) / 2
    return {
        "min": int(data[0]),
        "max": int(data[-1]),
        "mean": round(sum(values) / n, 2),  # exact sum; numpy's float mean gave the same
        "median": median,
        "p5": rank(0.05),
        "p95": rank(0.95),
    }


def _beyond(tokens: array, cap: int) -> int:
    """Σ (t - cap) over the examples longer than `cap`: the tokens a platform cuts."""
    if not tokens or max(tokens) <= cap:
        return 0
    return sum(t - cap for t in tokens if t > cap)


def report_for(counts: TokenCounts, model_id: str, limit: int | None) -> CountReport:
    """Judge per-example counts against a limit (None: no limit, nothing is over)."""
    cap = NO_ANSWER if limit is None else limit
    over_lines: list[int] = []
    cut_lines: list[int] = []
    over = cut = 0
    for line, tokens, answer in zip(counts.lines, counts.tokens, counts.answer_start,
                                    strict=True):
        if tokens > cap:
            over += 1
            if over <= LINES_SHOWN:
                over_lines.append(line)
        if cap <= answer != NO_ANSWER:
            cut += 1
            if cut <= LINES_SHOWN:
                cut_lines.append(line)
    total = sum(counts.tokens)
    tokens_cut = _beyond(counts.tokens, cap)
    return CountReport(
        path=counts.path,
        model=model_id,
        encoding=counts.encoding,
        examples=len(counts.tokens),
        total_tokens=total,
        trainable_tokens=sum(counts.trainable),
        max_tokens=limit,
        billed_tokens=total - tokens_cut,
        over_limit=over,
        over_limit_lines=over_lines,
        tokens_cut=tokens_cut,
        answer_cut=cut,
        answer_cut_lines=cut_lines,
        tokens_per_example=stats(counts.tokens),
        messages_per_example=stats(counts.messages),
        estimated=counts.estimated,
        counts=counts,
    )


def count_file(
    path: str | Path,
    *,
    model: str | None = None,
    tokenizer: str | Path | None = None,
    max_length: int | None = None,
    models_file: str | Path | None = None,
    workers: int | None = None,
    per_example: str | Path | None = None,
) -> CountReport:
    """Count a file's tokens for `model` (an OpenAI model of the registry) or with `tokenizer`
    (an open model's local tokenizer and chat template; needs the `open` extra). `max_length`
    replaces the per-example limit (for a tokenizer: else its model_max_length, else none).
    Optionally writes line → tokens to `per_example` (.csv or .parquet, atomically)."""
    if (model is None) == (tokenizer is None):
        raise UsageError("give {model} (an OpenAI model) or {tokenizer} (an open model's files), "
                         "exactly one", mentions=("model", "tokenizer"))
    if max_length is not None and max_length < 1:
        raise UsageError("must be at least 1", param="max_length", value=max_length)
    if per_example is not None:
        _check_per_example_path(per_example)
        if str(path) != "-" and Path(per_example).resolve() == Path(path).resolve():
            raise UsageError("would overwrite the input file", param="per_example",
                             value=str(per_example))
    if tokenizer is not None:
        report = _count_open(path, tokenizer, max_length, workers)
    else:
        from ftprep.models import get_model

        assert model is not None
        info = get_model(model, models_file=models_file)
        limit = info.max_example_tokens if max_length is None else max_length
        report = report_for(count_tokens(path, info.encoding, workers=workers), info.id, limit)
    if per_example is not None:
        assert report.counts is not None
        write_per_example(per_example, report.counts, report.max_tokens)
    return report


def _count_open(path: str | Path, tokenizer: str | Path, max_length: int | None,
                workers: int | None) -> CountReport:
    from ftprep.tokens.template import get_template_counter

    counter = get_template_counter(tokenizer)  # loads and checks the files before reading data
    local = counter.local
    counts = count_tokens(path, f"{LOCAL_PREFIX}{local.folder}", workers=workers)
    counts.encoding = str(local.tokenizer_file)
    limit = local.model_max_length if max_length is None else max_length
    report = report_for(counts, local.label, limit)
    report.tokenizer = {
        **local.to_dict(),
        "trainable_from": "generation mask" if counter.has_generation_mask
        else "assistant message spans",
    }
    return report


def _check_per_example_path(path: str | Path) -> None:
    if Path(path).suffix.lower() not in PER_EXAMPLE_SUFFIXES:
        raise UsageError("must end in .csv or .parquet", param="per_example", value=str(path))


def write_per_example(path: str | Path, counts: TokenCounts, limit: int | None) -> None:
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
        "over_limit": np.asarray(tokens > (NO_ANSWER if limit is None else limit)),
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
