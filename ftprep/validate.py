"""`validate`: every problem in a fine-tuning file, each with its line, JSON path and rule code.

Layer 1 is the JSON Schema of the file's format; layer 2 the semantic rules in `ftprep.rules`.
The file is streamed once, in raw chunks of lines: in-process for small files, spread over
worker processes for big ones (results taken in file order, so the report is the same).
Memory grows with the number of findings and a 16-byte digest per record, not with the file
size.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ftprep.errors import UsageError
from ftprep.findings import NO_FACTS, Facts, Finding, Severity
from ftprep.formats import CHAT, FORMATS, UNKNOWN, detect_format
from ftprep.io.jsonl import (
    BAD_JSON,
    BAD_UTF8,
    BLANK,
    NOT_OBJECT,
    JsonLine,
    as_record_line,
    decoded_object,
    iter_line_chunks,
    parse_chunk,
    parse_line,
    too_deep,
    wide_encoding,
)
from ftprep.parallel import file_size, ordered_map, worker_count
from ftprep.quality.neardup import DEFAULT_THRESHOLD, NearDuplicateIndex, check_threshold, near_dup_key
from ftprep.rules import FILE_CHECKS, RECORD_CHECKS, RULES, Context, Hit, load_rules
from ftprep.rules import lines as L
from ftprep.rules import targets as T
from ftprep.rules.base import PLAIN_SILENT, select_codes
from ftprep.rules.fastpath import COVERED, clears_but_unknown_keys, demands_of
from ftprep.rules.limits import fits_by_size, token_limit
from ftprep.rules.neardup import NEAR_DUPLICATE
from ftprep.rules.privacy import may_hold_sensitive, sensitive_content
from ftprep.rules.schema import METADATA, schema_check
from ftprep.rules.source_format import CONVERTIBLE_SOURCE, source_format_of

MAX_FILE_BYTES = 512 * 1024 * 1024  # the platform's limit for one training file
FORMAT_LOOKAHEAD = 100  # lines read to find the file's format before checking any
CHUNK_BYTES = 1 << 20  # raw lines handed to a worker at a time: amortises the hand-over
PARALLEL_MIN_BYTES = 4 << 20  # smaller files are checked in-process (pool start-up dominates)
_LINE_ERRORS = {BLANK: L.BLANK_LINE.code, BAD_UTF8: L.INVALID_UTF8.code, BAD_JSON: L.INVALID_JSON.code,
                NOT_OBJECT: L.NOT_AN_OBJECT.code}


class RecordObserver(Protocol):
    """Looks at every JSON object a validation pass decodes, in the process that decodes it
    (the report profiles the file in the same pass: one read and one parse instead of two).
    Picklable where the platform cannot fork: workers get a copy. Per chunk of lines,
    `open_chunk` gives an empty part, `see` adds a record to it (never mutating `record`), and
    the part travels back to the calling process, where `take` gets every part in file order.
    `cleared`: the record took the short way (`fastpath.clears_but_unknown_keys`), so it is a
    chat record without tools whose messages all have a string role and a non-empty string
    content, no tool calls, instructions (system/developer) only before the first turn, and an
    assistant message last."""

    def open_chunk(self) -> Any: ...

    def see(self, part: Any, line: int, raw: bytes, record: dict[str, Any],
            cleared: bool) -> None: ...

    def take(self, part: Any) -> None: ...


@dataclass
class ValidationReport:
    """What `validate_file` found. `ok` is False when there is any error (or, with
    strict, any warning)."""

    path: str
    format: str
    examples: int
    lines: int
    findings: list[Finding]
    strict: bool = False
    model: str | None = None
    target: str = "openai"
    target_notes: list[str] = field(default_factory=list)  # limits beyond one file (quotas)
    suppressed: int = 0  # lines left unchecked behind a file-level finding (FT105/FT106/FT941)
    # code → number of findings, all of them, also those streamed to `on_finding` or beyond
    # `max_per_code` (which `findings` then leaves out); empty = count `findings`.
    tallies: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self._with_severity(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self._with_severity(Severity.WARNING)

    def _with_severity(self, severity: Severity) -> int:
        if not self.tallies:
            return sum(f.severity is severity for f in self.findings)
        rules = load_rules()
        return sum(n for code, n in self.tallies.items() if rules[code].severity is severity)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not (self.strict and self.warnings)

    def to_pandas(self) -> Any:
        """The findings as a pandas DataFrame, one row each (needs pandas)."""
        from ftprep.frames import findings_frame

        return findings_frame(self.findings)

    def counts(self) -> dict[str, int]:
        found = self.tallies or Counter(f.code for f in self.findings)
        return dict(sorted(found.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "path": self.path,
            "format": self.format,
            "examples": self.examples,
            "lines": self.lines,
            "model": self.model,
            "target": self.target,
            "target_notes": self.target_notes,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": self.counts(),
            "issues": [f.to_dict() for f in self.findings],
        }


def validate_file(
    path: str | Path,
    *,
    model: str | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    extend_select: Iterable[str] | None = None,
    strict: bool = False,
    models_file: str | Path | None = None,
    workers: int | None = None,
    target: str | None = None,
    targets_file: str | Path | None = None,
    near_dup_threshold: float | None = None,
    on_finding: Callable[[Finding], None] | None = None,
    max_per_code: int | None = None,
    observer: RecordObserver | None = None,
) -> ValidationReport:
    """Check a JSONL file against the schema and every selected rule.

    `model` adds the token rules (limit per example) for that model; `select`/`ignore` take
    rule codes or prefixes (`FT3` = all role rules); without `select`, the default rules run,
    plus the opt-in ones `extend_select` names (e.g. `FT91` for every personal-data rule).
    `workers` processes check the records (default: every core for files over 4 MB,
    in-process otherwise); the report is the same whatever the number. `target` (default
    openai) applies that platform's or trainer's rules instead: its own FT8xx rules, without
    the OpenAI rules whose limits it does not share. Memory: `on_finding` receives every
    finding of a line (line >= 1) in file order as the file is checked, and the report then
    keeps only the whole-file ones; `max_per_code` keeps at most that many per code in the
    report (its counts stay exact either way). `near_dup_threshold` selects FT921
    (near-duplicates, opt-in) with that Jaccard threshold (default 0.8 when FT921 is selected).
    `observer` sees every record that decodes to a JSON object, whatever its findings
    (`RecordObserver`)."""
    from ftprep.targets import DEFAULT_TARGET, get_target

    rules = load_rules()
    select = None if select is None else list(select)
    _check_token_rules_have_a_model(select, model)
    target_info = get_target(target or DEFAULT_TARGET, targets_file)
    if near_dup_threshold is not None:
        check_threshold(near_dup_threshold)
        extend_select = [*(extend_select or ()), NEAR_DUPLICATE.code]
    enabled = frozenset(T.enabled_codes(select_codes(rules, select, ignore, extend_select),
                                        target_info))
    near_dups = (near_dup_threshold or DEFAULT_THRESHOLD) if NEAR_DUPLICATE.code in enabled else None
    ctx_model, encoding_name = _model_and_encoding(model, models_file)
    chunks = iter_line_chunks(path, CHUNK_BYTES)
    head = _head(chunks)
    head_lines = _head_lines(head)
    fmt, file_mode = _file_shape(head_lines)
    if file_mode in (L.JSON_ARRAY_FILE.code, L.PRETTY_PRINTED.code):
        source = source_format_of(_document_head(path))  # alpaca_data.json is an array
    else:
        source = None if file_mode else source_format_of([jl.value for jl in head_lines if jl.ok])
    if source:  # Alpaca/ShareGPT: one FT941 instead of errors on every line
        fmt, file_mode = source, CONVERTIBLE_SOURCE.code
    plan = _Plan(fmt, file_mode, enabled, ctx_model, encoding_name, target_info, near_dups,
                 observer)
    run = _Run(plan, on_finding, max_per_code)
    size = file_size(path)
    first_detail = head_lines[0].detail if head_lines else ""
    for hit in _whole_file_hits(size, file_mode, first_detail, fmt):
        run.add(hit)
    if head:
        for hit in T.file_hits(target_info, fmt, size, _has_bom(path)):
            run.add(hit)
    all_chunks = itertools.chain(head, chunks)
    n_workers = worker_count(size, workers, PARALLEL_MIN_BYTES)
    results = (_check_serial(plan, all_chunks) if n_workers == 1
               else _check_parallel(plan, all_chunks, n_workers))
    for result in results:
        run.take(result)
    run.finish()
    if not file_mode and head:
        for hit in T.count_hits(target_info, run.examples):
            run.add(hit)
    findings = sorted(run.findings, key=lambda f: (f.line, f.path, f.code))
    return ValidationReport(
        path=str(path),
        format=fmt,
        examples=run.examples,
        lines=run.lines,
        findings=findings,
        strict=strict,
        model=getattr(ctx_model, "id", model),
        target=target_info.name,
        target_notes=list(target_info.notes) if target_info.name != DEFAULT_TARGET else [],
        suppressed=run.suppressed,
        tallies=dict(run.tallies),
    )


def validate_records(
    records: Iterable[bytes | str | dict[str, Any]],
    *,
    model: str | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    target: str | None = None,
    record_format: str | None = None,
    first_line: int = 1,
) -> list[Finding]:
    """The record-level findings of a batch of records (raw JSON lines or decoded dicts),
    numbered from `first_line`: the same checks `validate_file` runs on each line, for engines
    that hand out batches (Ray Data `map_batches`, Spark `mapInArrow`). Whole-file rules
    (example count, duplicates, file size) need every record and do not run here; nor does
    the format detection across a file: the batch's format is `record_format` or its first
    record's."""
    from ftprep.targets import DEFAULT_TARGET, get_target

    lines = [_as_line(r) for r in records]
    select = None if select is None else list(select)
    _check_token_rules_have_a_model(select, model)
    target_info = get_target(target or DEFAULT_TARGET)
    enabled = frozenset(T.enabled_codes(select_codes(load_rules(), select, ignore), target_info))
    ctx_model, encoding_name = _model_and_encoding(model, None)
    fmt = record_format or next(
        (f for f in (detect_format(parse_line(raw, 0).value) for raw in lines) if f in FORMATS),
        CHAT)
    plan = _Plan(fmt, None, enabled, ctx_model, encoding_name, target_info)
    return _ChunkChecker(plan).check(first_line, b"\n".join(lines)).findings


def _as_line(record: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(record, dict):
        import orjson

        return orjson.dumps(record)
    line = record.encode("utf-8", "surrogatepass") if isinstance(record, str) else record
    if b"\n" in line:
        raise UsageError("records= holds a line with a newline: one JSON record per item")
    return line


def _check_token_rules_have_a_model(select: list[str] | None, model: str | None) -> None:
    """Selecting only token rules without a model checks nothing, and "valid" would lie."""
    wanted = [p for p in (select or []) if p.upper().startswith("FT7")]
    if wanted and model is None:
        raise UsageError(f"select={','.join(wanted)} picks token-limit rules (FT7xx), which need "
                         "model= (the limit is the model's)")


def _whole_file_hits(size: int | None, file_mode: str | None, first_detail: str,
                     fmt: str) -> Iterator[Hit]:
    if size is not None and size > MAX_FILE_BYTES:
        yield Hit(L.FILE_TOO_LARGE.code, "", f"file is {size / 1e6:.0f} MB; the limit is 512 MB", 0,
                  Facts(file_bytes=size, limit=MAX_FILE_BYTES))
    if file_mode == L.JSON_ARRAY_FILE.code:
        yield Hit(file_mode, "", "the file is a JSON array; JSONL needs one object per line", 1)
    elif file_mode == L.INVALID_UTF8.code:  # UTF-16/32: every line would be garbage
        yield Hit(file_mode, "", first_detail, 1)
    elif file_mode == CONVERTIBLE_SOURCE.code:
        yield Hit(file_mode, "", f"this is {fmt} data, not a fine-tuning format; run `ftprep "
                  f"convert FILE --from {fmt} -o train.jsonl`", 1)
    elif file_mode:
        yield Hit(file_mode, "", "the file is pretty-printed JSON; each example must be on one line", 1)


def _has_bom(path: str | Path) -> bool | None:
    """Whether the file starts with a UTF-8 byte-order mark; None for stdin (not peekable)."""
    if str(path) == "-":
        return None
    from ftprep.io.jsonl import open_binary

    with open_binary(path) as f:
        return f.read(3) == b"\xef\xbb\xbf"


def _model_and_encoding(model: str | None, models_file: str | Path | None) -> tuple[Any, str | None]:
    if not model:
        return None, None
    from ftprep.models import get_model
    from ftprep.tokens import prepare_counter

    info = get_model(model, models_file=models_file)
    prepare_counter(info.encoding)  # built once here: forked workers inherit it
    return info, info.encoding


# -- the file's shape, from its first lines --------------------------------------------------


def _head(chunks: Iterator[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The first chunks, enough to hold FORMAT_LOOKAHEAD lines (or the whole file)."""
    head: list[tuple[int, bytes]] = []
    lines = 0
    for chunk in chunks:
        head.append(chunk)
        lines += chunk[1].count(b"\n") + 1
        if lines >= FORMAT_LOOKAHEAD:
            break
    return head


def _head_lines(head: list[tuple[int, bytes]]) -> list[JsonLine]:
    found: list[JsonLine] = []
    for first_line, chunk in head:
        for jl in parse_chunk(first_line, chunk):
            if len(found) == FORMAT_LOOKAHEAD:
                return found
            found.append(jl)
    return found


_DOCUMENT_HEAD = 20  # records of a JSON document looked at to tell Alpaca/ShareGPT


def _document_head(path: str | Path) -> list[Any]:
    """The first records of a file that is one JSON document (an array, or objects spread
    over lines), read as `convert` reads it; [] when they cannot be read."""
    import itertools

    from ftprep.errors import FtprepError
    from ftprep.io.readers.json_array import json_rows

    try:
        rows = itertools.islice(json_rows(str(path), None), 1, _DOCUMENT_HEAD + 1)
        return [row.values for row in rows if row.problem is None]
    except (FtprepError, OSError, ValueError):
        return []


def _file_shape(lines: list[JsonLine]) -> tuple[str, str | None]:
    """The file's format (that of its first recognisable record, chat if none is among the
    first lines) and, when the whole file is a JSON document rather than JSONL, FT105/FT106."""
    if not lines:
        return UNKNOWN, None  # an empty file has no format
    fmt = next((f for f in (detect_format(jl.value) for jl in lines if jl.ok) if f in FORMATS), CHAT)
    first = lines[0]
    if wide_encoding(first.raw):
        return fmt, L.INVALID_UTF8.code
    head = first.raw.strip()
    if head.startswith(b"[") and (first.error or isinstance(first.value, list)):
        return fmt, L.JSON_ARRAY_FILE.code
    if head == b"{" or (first.error == BAD_JSON and head.startswith(b"{") and not head.endswith(b"}")):
        return fmt, L.PRETTY_PRINTED.code
    return fmt, None


# -- checking chunks of lines (in-process or in workers) -------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything checking a chunk needs; picklable, handed to every worker."""

    format: str
    file_mode: str | None  # FT105/FT106: one JSON document, not JSONL; FT104: UTF-16/32
    enabled: frozenset[str]
    model: Any
    encoding_name: str | None
    target: Any = None  # ftprep.targets.TargetInfo
    near_dup_threshold: float | None = None  # FT921 selected: records get MinHash signatures
    observer: RecordObserver | None = None


@dataclass
class _ChunkResult:
    """What a chunk gave: its findings, and per record the small keys of the file checks."""

    findings: list[Finding] = field(default_factory=list)
    keys: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)  # (line, keys)
    signatures: list[tuple[int, bytes | None]] = field(default_factory=list)  # FT921: (line, sig)
    observed: Any = None  # the observer's part of the chunk
    examples: int = 0
    suppressed: int = 0
    last_line: int = 0


def _finding(hit: Hit, line: int | None, enabled: frozenset[str]) -> Finding | None:
    if hit.code not in enabled:
        return None
    at = hit.line if hit.line is not None else (line or 0)
    return Finding.of(hit.code, RULES[hit.code].severity, at, _printable(hit.path),
                      _printable(hit.message), hit.facts or NO_FACTS)


class _ChunkChecker:
    """Checks lines into a `_ChunkResult`: everything that depends on one record only.

    A line of a chat file whose record `fastpath.clears` (nearly all of them; keys the format
    does not define are reported and let through, `clears_but_unknown_keys`) takes the short
    way: decoded once, its schema and structural rules cleared in one pass, secrets ruled out
    on its JSON bytes, its tokens counted only when its length could reach the model's limit
    (`limits.fits_by_size`), only the checks left over run. Any other line takes the full way,
    with the same findings in the same order."""

    def __init__(self, plan: _Plan, *, short: bool = True) -> None:
        """`short=False`: every line the full way (tests compare the two)."""
        load_rules()
        self.plan = plan
        # The token rules count by encoding name: the Rust counter, no tiktoken encoder.
        self.encoding = plan.encoding_name
        self.file_checks = [factory() for factory in FILE_CHECKS]
        self.keys = [check.key for check in self.file_checks]
        self.checks = [check for formats, check in RECORD_CHECKS if plan.format in formats]
        self.plain_checks = [check for check in self.checks if check not in PLAIN_SILENT]
        self.rest = [check for check in self.plain_checks if check not in COVERED]
        self.fast = short and plan.format == CHAT and not plan.file_mode
        self.demands = demands_of(plan.target, plan.enabled, plan.format)
        self.fits = None if plan.model is None else fits_by_size(plan.model.max_example_tokens)
        # No check keeps state in its context: one serves every record, its line updated.
        self.ctx = Context(line=0, format=plan.format, model=plan.model, encoding=self.encoding,
                           target=plan.target, enabled=plan.enabled)

    def check(self, first_line: int, chunk: bytes) -> _ChunkResult:
        out = _ChunkResult()
        observer = self.plan.observer
        part = out.observed = observer.open_chunk() if observer is not None else None
        line = first_line
        for line, raw in enumerate(chunk.split(b"\n"), first_line):
            if self.fast:
                value = decoded_object(raw)
                if value is not None and self._fast_record(value, raw, line, out):
                    if observer is not None:
                        observer.see(part, line, raw, value, True)
                    continue
            jl = as_record_line(parse_line(raw.rstrip(b"\r"), line))
            self._check_line(jl, out)
            if observer is not None and jl.error is None:
                observer.see(part, line, raw, jl.value, False)
        out.last_line = line
        return out

    def _fast_record(self, record: dict, raw: bytes, line: int, out: _ChunkResult) -> bool:
        """Check a decoded record the short way; False (nothing done) when it needs the full
        one. Only a `metadata` value can nest deeper than MAX_DEPTH in a record `clears`."""
        schema_hits = clears_but_unknown_keys(record, self.demands)
        if schema_hits is None or (
                METADATA in record and not _shallow(record[METADATA]) and too_deep(raw, record)):
            return False
        out.examples += 1
        for hit in schema_hits:  # keys the format does not define (FT203), if any
            self._add(out, hit, line)
        ctx = self.ctx
        ctx.line = line
        for check in self.rest:
            if check is sensitive_content and not may_hold_sensitive(raw, self.plan.enabled):
                continue
            if check is token_limit and self.fits is not None and self.fits(raw, record):
                continue  # too short to reach the model's limit: no need to count
            for hit in check(record, ctx):
                self._add(out, hit, line)
        self._file_keys(record, line, out)
        return True

    def _file_keys(self, record: dict, line: int, out: _ChunkResult) -> None:
        out.keys.append((line, tuple([key(record) for key in self.keys])))
        if self.plan.near_dup_threshold is not None:
            out.signatures.append((line, near_dup_key(record)))

    def _add(self, out: _ChunkResult, hit: Hit, line: int) -> None:
        finding = _finding(hit, line, self.plan.enabled)
        if finding is not None:
            out.findings.append(finding)

    def _check_line(self, jl: JsonLine, out: _ChunkResult) -> None:
        if self.plan.file_mode and (jl.error or not isinstance(jl.value, dict)
                                    or self.plan.file_mode == CONVERTIBLE_SOURCE.code):
            out.suppressed += 1  # one file-level finding says it all
            return
        if jl.error:
            self._add(out, Hit(_LINE_ERRORS[jl.error], "", jl.detail), jl.line)
            return
        self._check_record(jl.value, jl.line, out)

    def _check_record(self, record: dict, line: int, out: _ChunkResult) -> None:
        out.examples += 1
        fmt = self.plan.format
        own = detect_format(record)
        if own not in (UNKNOWN, fmt):
            self._add(out, Hit(L.MIXED_FORMATS.code, "", f"a {own} record in a {fmt} file"), line)
            return
        ctx = self.ctx
        ctx.line = line
        hits, plain = schema_check(record, fmt)
        for hit in hits:
            self._add(out, hit, line)
        for check in self.plain_checks if plain else self.checks:
            for hit in check(record, ctx):
                self._add(out, hit, line)
        self._file_keys(record, line, out)


def _shallow(value: Any) -> bool:
    """A scalar, or an object of scalars (the usual `metadata`): nothing deep inside, so the
    record is no deeper than its messages; cheaper to see than counting the line's brackets.
    Decoded by orjson, so containers are exactly dict and list."""
    if type(value) is dict:
        return not any(type(v) is dict or type(v) is list for v in value.values())
    return type(value) is not list


def _check_serial(plan: _Plan, chunks: Iterable[tuple[int, bytes]]) -> Iterator[_ChunkResult]:
    checker = _ChunkChecker(plan)
    for first_line, chunk in chunks:
        yield checker.check(first_line, chunk)


_worker_checker: _ChunkChecker | None = None  # one per worker process, built once


def _init_worker(plan: _Plan) -> None:
    global _worker_checker
    _worker_checker = _ChunkChecker(plan)


def _check_in_worker(first_line: int, chunk: bytes) -> _ChunkResult:
    assert _worker_checker is not None, "worker not initialised"
    return _worker_checker.check(first_line, chunk)


def _check_parallel(
    plan: _Plan, chunks: Iterable[tuple[int, bytes]], workers: int
) -> Iterator[_ChunkResult]:
    """Chunks checked by `workers` processes, results in file order (see ftprep.parallel)."""
    return ordered_map(_check_in_worker, chunks, workers=workers, initializer=_init_worker,
                       initargs=(plan,))


# -- the parent: file order, file checks -----------------------------------------------------


class _Run:
    """The parent's side of one validation pass: findings, counts and the file checks, fed
    in file order whatever process checked the records. Findings of one chunk (its records'
    and the file checks' on its lines) are sorted, then streamed to `sink` (line >= 1) or kept,
    at most `cap` per code; `tallies` counts every one."""

    def __init__(self, plan: _Plan, sink: Callable[[Finding], None] | None = None,
                 cap: int | None = None) -> None:
        self.plan = plan
        self.sink, self.cap = sink, cap
        self.findings: list[Finding] = []
        self.tallies: Counter[str] = Counter()
        self._batch: list[Finding] | None = None  # the chunk being taken
        self.examples = self.lines = self.suppressed = 0
        self.file_checks = [factory() for factory in FILE_CHECKS]
        threshold = plan.near_dup_threshold
        self.near_dups = None if threshold is None else NearDuplicateIndex(threshold)

    def add(self, hit: Hit, line: int | None = None) -> None:
        finding = _finding(hit, line, self.plan.enabled)
        if finding is None:
            return
        if self._batch is not None:
            self._batch.append(finding)
        else:
            self._keep(finding)

    def _keep(self, finding: Finding) -> None:
        self.tallies[finding.code] += 1
        if self.sink is not None and finding.line:
            self.sink(finding)
        elif self.cap is None or self.tallies[finding.code] <= self.cap:
            self.findings.append(finding)

    def take(self, result: _ChunkResult) -> None:
        if self.plan.observer is not None:
            self.plan.observer.take(result.observed)
        self._batch = list(result.findings)
        self.examples += result.examples
        self.suppressed += result.suppressed
        self.lines = max(self.lines, result.last_line)
        if result.keys:
            lines = [line for line, _ in result.keys]
            for i, check in enumerate(self.file_checks):
                for hit in check.feed([keys[i] for _, keys in result.keys], lines):
                    self.add(hit)
        if self.near_dups is not None:
            for line, sig in result.signatures:
                match = self.near_dups.add(line, sig)
                if match is not None:
                    self.add(Hit(NEAR_DUPLICATE.code, "", f"near-duplicate of line {match.first} "
                                 f"(similarity {match.similarity:.2f})", line))
        batch, self._batch = self._batch, None
        for finding in sorted(batch, key=lambda f: (f.line, f.path, f.code)):
            self._keep(finding)

    def finish(self) -> None:
        if self.plan.file_mode:  # not JSONL at all: counts and duplicates would only add noise
            return
        for check in self.file_checks:
            for hit in check.finish():
                self.add(hit)


def _printable(text: str) -> str:
    """Lone surrogates (legal in JSON, e.g. in a key) cannot be printed as UTF-8: escape them."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


