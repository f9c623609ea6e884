"""Convert raw tables and other dataset formats into fine-tuning JSONL.

`convert(input, output, options)` streams the input (see `ftprep.io.readers`), turns every row
into a record or a `Rejected` entry (written to a rejects JSONL), and guarantees that
read == written + rejected. `iter_converted(input, options)` yields the same outcomes for
callers that want to stream them elsewhere.

Multi-turn input (`group_by`) is regrouped in memory up to `spill_threshold` rows and through
hash-partitioned temporary files beyond that. Limit: one group (conversation) must fit in
memory; see `ftprep.convert.grouping`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ftprep.convert.columnar import Lines, columnar_units
from ftprep.convert.plan import (
    METADATA,
    MULTITURN,
    OVERFLOW_POLICIES,
    SOURCE_FORMATS,
    TARGET_FORMATS,
    ConvertOptions,
    Plan,
    detect_source_format,
    plan_conversion,
)
from ftprep.convert.records import NOT_FINITE, Converted, Outcome, Rejected
from ftprep.errors import FtprepError, InputError, UsageError
from ftprep.formats import CHAT, COMPLETION, json_text, json_type
from ftprep.io.readers.rows import ReadNotes
from ftprep.io.writer import OutputSet

UNENCODABLE = "unencodable_text"
TOO_MANY_TOKENS = "too_many_tokens"
UNKNOWN_SPEAKERS_SHOWN = 10


@dataclass
class ConvertResult:
    """What a conversion did; `read == written + rejected` always holds."""

    input: str
    output: str
    rejects: str | None  # None when nothing was rejected (no file then, not even a stale one)
    read: int
    written: int
    rejected: int
    reasons: dict[str, int]
    format_from: str
    format_to: str
    rows: int  # input rows; differs from `read` when rows are grouped into conversations
    unit: str  # what read/written/rejected count: "row" or "conversation"
    dropped_turns: int = 0  # empty turns left out of written conversations (drop_empty_turns)
    # Speaker values no role was found for, with how many rejects each caused (the most
    # frequent UNKNOWN_SPEAKERS_SHOWN): what --role-map is missing.
    unknown_speakers: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what the reader noticed (sheets, quotes)
    lines: int | None = None  # physical lines read (CSV/TSV), to compare with rows
    redacted: dict[str, int] = field(default_factory=dict)  # kind → values replaced (--redact)
    # Columns of a plain or multi-turn table that no option reads (not in any record).
    unused_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input, "output": self.output, "rejects": self.rejects,
            "read": self.read, "written": self.written, "rejected": self.rejected,
            "reasons": dict(self.reasons), "format_from": self.format_from,
            "format_to": self.format_to, "rows": self.rows, "unit": self.unit,
            "dropped_turns": self.dropped_turns, "unknown_speakers": dict(self.unknown_speakers),
            "warnings": list(self.warnings), "lines": self.lines,
            "redacted": dict(self.redacted), "unused_columns": list(self.unused_columns),
        }


# ---------------------------------------------------------------- token limits


def _token_limit(options: ConvertOptions) -> tuple[int, Any]:
    """The limit and the encoding the options ask for (a model's, else o200k_base)."""
    # Imported here: the tokenizer stack is only needed when a limit is asked for.
    from ftprep.models import get_model
    from ftprep.tokens import get_encoding

    limit, encoding_name = options.max_tokens, "o200k_base"
    if options.model:
        model = get_model(options.model)
        limit = limit or model.max_example_tokens
        encoding_name = model.encoding
    assert limit is not None
    return limit, get_encoding(encoding_name)


def _with_token_limit(outcomes: Iterator[Outcome], plan: Plan,
                      options: ConvertOptions) -> Iterator[Outcome]:
    """`ftprep.overflow.fit_to_limit` on every record. A record still too long is a
    `too_many_tokens` reject; from a mapped table it names the input field of its longest
    part (the one to shorten), with that part's path and tokens in the detail."""
    if options.max_tokens is None and options.model is None:
        yield from outcomes
        return
    from ftprep.overflow import fit_to_limit

    limit, encoding = _token_limit(options)
    policy = options.on_overflow
    for outcome in outcomes:
        if isinstance(outcome, Converted):
            record, why = fit_to_limit(outcome.record, limit=limit, encoding=encoding,
                                       policy=policy)
            if record is None:
                # One stable reason key for the summary; the counts go in the detail.
                field, detail = _longest_part(outcome, plan, encoding, why or "")
                outcome = Rejected(outcome.row, outcome.line, field, TOO_MANY_TOKENS,
                                   outcome.source, detail, rows=outcome.rows)
            else:
                outcome = dataclasses.replace(outcome, record=record)
        yield outcome


def _longest_part(outcome: Converted, plan: Plan, encoding: Any,
                  why: str) -> tuple[str | None, str]:
    """(field, detail) of a record over the token limit: `messages` (None for other
    formats) and `why`, or, for a plan that knows its fields, the input field of the part
    with the most tokens and `why` saying which part that is."""
    record = outcome.record
    field = "messages" if "messages" in record else None
    if plan.fields is None:
        return field, why
    from ftprep.rules.base import iter_messages
    from ftprep.tokens import count_record

    # Each part's tokens as the record's total counts them (a message with its framing).
    parts = [(key, count_record({key: record.get(key)}, encoding, COMPLETION).total)
             for key in ("prompt", "completion") if plan.target == COMPLETION]
    parts += [(path, count_record({"messages": [message]}, encoding, CHAT).per_message[0])
              for path, message in iter_messages(record, plan.target)]
    if not parts:
        return field, why
    path, tokens = max(parts, key=lambda part: part[1])  # the first of equals
    found = plan.fields.find(path, outcome.source, record)
    if found is None:
        return field, f"{why}; the most in {path} ({tokens} tokens)"
    return found.field, f"{why}; the most in {found.field} ({found.note}: {tokens} tokens)"


def _with_record_rules(outcomes: Iterator[Outcome], plan: Plan) -> Iterator[Outcome]:
    """Never write a record that `validate` would call an error: it becomes a reject whose
    reason is the rule code (e.g. FT302 for a conversation without an assistant turn),
    naming the input field the finding's place was built from where the plan knows it
    (`answer`, with `messages[2].content` kept in the detail), else the record's path."""
    from ftprep.rules import record_errors

    for outcome in outcomes:
        if isinstance(outcome, Converted):
            errors = record_errors(outcome.record, plan.target)
            if errors:
                first = errors[0]
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                field, detail = first.path or None, f"{first.message}{more}"
                found = plan.fields.find(first.path, outcome.source, outcome.record) \
                    if plan.fields is not None else None
                if found is not None:
                    field, detail = found.field, f"{first.message} ({found.note}){more}"
                outcome = Rejected(outcome.row, outcome.line, field, first.code,
                                   outcome.source, detail, rows=outcome.rows)
        yield outcome


def _outcomes(plan: Plan, options: ConvertOptions,
              redacted: Counter[str] | None = None) -> Iterator[Outcome]:
    counts: Counter[str] = Counter() if redacted is None else redacted
    found = late_keys_found(plan.outcomes(options.spill_threshold), plan)
    return _checked(found, plan, options, counts)


def _checked(outcomes: Iterator[Outcome], plan: Plan, options: ConvertOptions,
             redacted: Counter[str]) -> Iterator[Outcome]:
    """What every outcome goes through before it is written (one output per input, in order).
    Redaction first (the token limit sees the final text); rules last: what a token-limit
    trim leaves must pass them too."""
    finite = _with_finite_numbers(outcomes)
    tagged = _with_metadata(finite, plan, options)
    clean = _with_redaction(tagged, options, redacted)
    fitted = _with_token_limit(clean, plan, options)
    return _with_record_rules(fitted, plan)


def _units(plan: Plan, options: ConvertOptions,
           redacted: Counter[str]) -> Iterator[Lines | Outcome]:
    """The columnar path's units where it applies (ftprep.convert.columnar), else outcomes."""
    columnar = columnar_units(plan, options,
                              lambda outcomes: _checked(outcomes, plan, options, redacted))
    return columnar if columnar is not None else _outcomes(plan, options, redacted)
# ---------------------------------------------------------------- numbers JSON cannot hold


def _with_finite_numbers(outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
    """NaN, Infinity and numbers beyond a double (1e999) in JSON input: Python reads them, but
    JSON cannot hold them and orjson would write null. The record is rejected, naming the field."""
    from ftprep.quality.walk import first_non_finite

    for outcome in outcomes:
        if isinstance(outcome, Converted):
            bad = first_non_finite(outcome.record)
            if bad is not None:
                field, value = bad
                outcome = Rejected(outcome.row, outcome.line, field, NOT_FINITE, outcome.source,
                                   f"{field} is {value} (NaN, Infinity or a number beyond a "
                                   "double such as 1e999), which JSON cannot hold",
                                   rows=outcome.rows)
        yield outcome


# ---------------------------------------------------------------- metadata


def _with_metadata(outcomes: Iterator[Outcome], plan: Plan,
                   options: ConvertOptions) -> Iterator[Outcome]:
    """--metadata COL,COL: those columns of each row (of a conversation's first row) put
    into the record's `metadata` object, for `split --group-by metadata.COL`; submit and
    export leave `metadata` out of what a platform that refuses it receives. A cell that is
    NaN/NA is missing (null); one holding ±Infinity (or a NaN inside a list or object) is a
    number JSON cannot hold: the row is rejected as `not_finite` naming the column, as it
    is when a message column holds one, never written as null.

    A record that passes through (chat or preference records, whose extra keys it keeps)
    has the key moved: it leaves the top level, where `validate` would call it an unknown
    key (FT203), unless the format defines it (`tools`...: `record_keys`), which stays
    and is copied. A `metadata` object the record already has is kept and added to: the
    same key with the same value, or a missing (null) value here, is no conflict; another
    value is a `metadata_conflict` reject naming `metadata.KEY` (neither value is dropped
    unsaid), as is a `metadata` that is not an object.

    JSON/JSONL input has no header: a key may first appear in any record, and a record
    without it has null there (missing); one that no record holds is an error once the
    pass is over (`late_keys_found`)."""
    if not options.metadata:
        yield from outcomes
        return
    from ftprep.convert.records import require_columns
    from ftprep.rules.schema import record_keys

    if not plan.table.keys_vary:
        require_columns(plan.table.columns, list(options.metadata), "metadata")
    stays = record_keys(plan.target) | {METADATA}
    for outcome in outcomes:
        if isinstance(outcome, Converted):
            row = outcome.source
            if isinstance(row, dict) and isinstance(row.get("rows"), list) and row["rows"]:
                row = row["rows"][0]  # a grouped conversation: its first row
            values = row if isinstance(row, dict) else {}
            cells = {col: json_value(values.get(col)) for col in options.metadata}
            bad = _non_finite_cell(cells) or _metadata_conflict(outcome.record, cells)
            if bad is not None:
                field, reason, detail = bad
                yield Rejected(outcome.row, outcome.line, field, reason, outcome.source,
                               detail, rows=outcome.rows)
                continue
            outcome = dataclasses.replace(outcome, record=_moved_into_metadata(
                outcome.record, cells, stays))
        yield outcome


METADATA_CONFLICT = "metadata_conflict"


def _metadata_conflict(record: dict[str, Any],
                       cells: dict[str, Any]) -> tuple[str, str, str] | None:
    """(field, reason, detail) when the record's own `metadata` cannot take `cells`: it is
    not an object, or it holds one of the keys with another value (a null cell adds nothing,
    so it conflicts with nothing)."""
    own = record.get(METADATA)
    if own is None:
        return None
    if not isinstance(own, dict):
        return (METADATA, METADATA_CONFLICT,
                f"the record's metadata is not an object ({json_type(own)} {json_text(own)}): "
                f"--metadata cannot add {next(iter(cells))!r} to it")
    for col, value in cells.items():
        if value is not None and col in own and own[col] != value:
            return (f"{METADATA}.{col}", METADATA_CONFLICT,
                    f"the record's metadata.{col} is {json_text(own[col])} but its {col!r} "
                    f"is {json_text(value)}: --metadata {col} would overwrite one of them")
    return None


def _moved_into_metadata(record: dict[str, Any], cells: dict[str, Any],
                         stays: frozenset[str]) -> dict[str, Any]:
    """The record with `cells` in its `metadata` (what it held there kept, null cells adding
    nothing to a key it has) and off its top level, except the keys in `stays`."""
    merged = dict(record.get(METADATA) or {})
    merged.update((col, value) for col, value in cells.items()
                  if value is not None or col not in merged)
    kept = {k: v for k, v in record.items() if k not in cells or k in stays}
    return {**kept, METADATA: merged}


def late_keys_found(outcomes: Iterator[Outcome], plan: Plan) -> Iterator[Outcome]:
    """The outcomes, unchanged; once the last has gone by, a UsageError if a key an option
    names (`Plan.late_keys`: JSON/JSONL, not in the first record) is in no record: the
    first such option, with its keys. Which keys exist is known only then (checking first
    would read the file twice); `convert` raises it before committing, so nothing is
    written (with `-o -`, records already printed stay printed). A column option's key is
    found with spaces trimmed too (`cell_of`), --metadata's only as named. Cost: one dict
    lookup per key still unseen per record (a look at the record's keys when absent),
    nothing once every key has been seen."""
    if not plan.late_keys:
        yield from outcomes
        return
    unseen = {(key, option == METADATA) for option, keys in plan.late_keys.items()
              for key in keys}
    for outcome in outcomes:
        if unseen:
            unseen.difference_update(_keys_in(outcome.source, unseen))
        yield outcome
    for option, keys in plan.late_keys.items():
        missing = [key for key in keys if (key, option == METADATA) in unseen]
        if missing:
            raise UsageError(
                f"{{{option}}}: no record has the key {missing[0]!r}"
                + (f" (nor {', '.join(map(repr, missing[1:]))})" if missing[1:] else ""),
                mentions=(option,),
                hint=f"keys of the first record: {', '.join(plan.table.columns) or '(none)'}")


def _keys_in(source: Any, keys: set[tuple[str, bool]]) -> set[tuple[str, bool]]:
    """Which of `keys` ((key, exact only)) a unit's source row holds (for a conversation:
    any of its rows)."""
    from ftprep.io.readers.rows import cell_of

    rows = source.get("rows") if isinstance(source, dict) else None
    found: set[tuple[str, bool]] = set()
    for row in rows if isinstance(rows, list) else [source]:
        if isinstance(row, dict):
            found.update((k, exact) for k, exact in keys
                         if k in row or (not exact and cell_of(row, k)[1] in row))
    return found


def _non_finite_cell(cells: dict[str, Any]) -> tuple[str, str, str] | None:
    """(field, reason, detail) for the first metadata cell holding a number JSON cannot
    hold."""
    from ftprep.quality.walk import first_non_finite

    for col, value in cells.items():
        bad = first_non_finite(value, col)
        if bad is not None:
            return bad[0], NOT_FINITE, (f"{bad[1]} is not a finite number (the --metadata column {col!r}); "
                            "JSON cannot hold it")
    return None


def json_value(value: Any) -> Any:
    """A cell as a JSON value: NaN/NA → null (a missing cell), numpy scalars → Python, dates →
    ISO text. ±Infinity stays a float, for `_with_metadata` to reject: JSON cannot hold it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, int):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        with contextlib.suppress(ValueError, TypeError):
            return json_value(item())
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        with contextlib.suppress(ValueError, TypeError):
            return iso()
    if isinstance(value, (list, dict)):
        return value
    return None if str(value) in ("<NA>", "NaT") else str(value)


# ---------------------------------------------------------------- redaction


def _with_redaction(outcomes: Iterator[Outcome], options: ConvertOptions,
                    counts: Counter[str]) -> Iterator[Outcome]:
    """--redact: every string of every record, and of every reject's source (the rejects file
    is output too), with secrets and personal data replaced by placeholders; `counts` tallies
    the replacements by kind. Runs before the token limit, which then sees the final text."""
    if not options.redact:
        yield from outcomes
        return
    from ftprep.quality.redact import Redactor

    redactor, uncounted = Redactor(counts), Redactor()  # sources are counted through records
    for outcome in outcomes:
        if isinstance(outcome, Converted):
            yield dataclasses.replace(outcome, record=redactor.record(outcome.record),
                                      source=uncounted.record(outcome.source))
        else:
            yield dataclasses.replace(outcome, source=uncounted.record(outcome.source),
                                      detail=uncounted.text(outcome.detail))


# ---------------------------------------------------------------- running


def iter_converted(input_path: str | Path, options: ConvertOptions) -> Iterator[Outcome]:
    """Stream the outcome of every input unit: `Converted(record)` or `Rejected(...)`."""
    plan = plan_conversion(input_path, options)
    yield from _outcomes(plan, options)


def default_rejects_path(output_path: str | Path) -> str:
    """`out/train.jsonl` → `out/train.rejects.jsonl`; stdout output → `convert.rejects.jsonl`."""
    if str(output_path) == "-":
        return "convert.rejects.jsonl"
    path = Path(output_path)
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):  # in this order: train.jsonl.gz → train
        name = name.removesuffix(suffix)
    return str(path.with_name(f"{name}.rejects.jsonl"))


def convert(input_path: str | Path, output_path: str | Path, options: ConvertOptions) -> ConvertResult:
    """Convert `input_path` to chat/completion/preference JSONL at `output_path` (atomically;
    '-' = stdout). Rows that cannot become records go to the rejects file."""
    rejects_path = options.rejects_path or default_rejects_path(output_path)
    _check_paths(str(input_path), str(output_path), rejects_path)
    plan = plan_conversion(input_path, options)
    redacted: Counter[str] = Counter()
    units = _units(plan, options, redacted)
    reasons: Counter[str] = Counter()
    speakers: Counter[str] = Counter()
    written = dropped_turns = rows_accounted = 0
    # Output and rejects are one set: both replaced together, or neither (ftprep.io.writer).
    with OutputSet() as outputs, contextlib.ExitStack() as stack:
        out = _open_output(outputs, stack, str(output_path))
        rejects: IO[bytes] | None = None
        for outcome in units:
            if isinstance(outcome, Lines):  # rows the columnar path wrote (one line each)
                out.write(outcome.data)
                written += outcome.count
                rows_accounted += outcome.count
                continue
            rows_accounted += outcome.rows
            if isinstance(outcome, Converted):
                line = _encode_record(outcome)
                if isinstance(line, bytes):
                    out.write(line)
                    written += 1
                    dropped_turns += outcome.dropped_turns
                    continue
                outcome = line
            if rejects is None:  # created only when there is something to put in it
                rejects = outputs.open(rejects_path)
            rejects.write(_dump_any(_reject_entry(outcome, plan.table.notes)))
            reasons[outcome.reason] += 1
            if outcome.value is not None:
                speakers[outcome.value] += 1
        if plan.rows_seen == 0:
            raise InputError("no rows to convert (only a header?)", path=str(input_path))
        # The reader counts rows as it hands them out; the outcomes say how many rows each
        # stands for. Checked before the outputs are committed: a mismatch writes nothing.
        _check_every_row_accounted(plan.rows_seen, rows_accounted, str(input_path))
        if rejects is None:
            # A clean run leaves no rejects file: one from an earlier run would describe rows
            # that this output no longer lacks.
            outputs.remove(rejects_path)
    rejected = sum(reasons.values())
    read = written + rejected
    grouped = plan.source == MULTITURN
    return ConvertResult(
        input=str(input_path), output=str(output_path),
        rejects=rejects_path if rejected else None,
        read=read, written=written, rejected=rejected, reasons=dict(sorted(reasons.items())),
        format_from=plan.source, format_to=plan.target,
        rows=plan.rows_seen, unit="conversation" if grouped else "row",
        dropped_turns=dropped_turns,
        unknown_speakers=dict(speakers.most_common(UNKNOWN_SPEAKERS_SHOWN)),
        warnings=list(plan.table.notes.warnings), lines=plan.table.notes.lines,
        redacted=dict(sorted(redacted.items())), unused_columns=list(plan.unused_columns),
    )


def _reject_entry(reject: Rejected, notes: ReadNotes) -> dict[str, Any]:
    """The rejects file's line; rows of a workbook read with several sheets also name their
    sheet, since `line` (the sheet row) alone is ambiguous there."""
    entry = reject.to_dict()
    sheet = notes.sheet_of(reject.row) if notes.sheets else None
    if sheet is None:
        return entry
    return {"row": entry.pop("row"), "sheet": sheet, **entry}


def _check_every_row_accounted(rows_read: int, rows_accounted: int, path: str) -> None:
    if rows_read != rows_accounted:
        raise FtprepError(
            f"{path}: {rows_read} rows read but {rows_accounted} written or rejected; nothing "
            "was written (a bug in ftprep: please report it)")


def _check_paths(input_path: str, output_path: str, rejects_path: str) -> None:
    both_stdout = output_path == rejects_path == "-"  # rejects would mix into the records
    if both_stdout or ("-" not in (output_path, rejects_path)
                       and _same_file(output_path, rejects_path)):
        raise UsageError("the rejects file cannot be the output file")
    for other in (output_path, rejects_path):
        if other != "-" and input_path != "-" and _same_file(input_path, other):
            raise UsageError(f"{other} is the input file; write somewhere else")


def _same_file(a: str, b: str) -> bool:
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def _open_output(outputs: OutputSet, stack: contextlib.ExitStack, output_path: str) -> IO[bytes]:
    f = outputs.open(output_path)
    if output_path.endswith(".gz"):
        # mtime=0 and no embedded name: the same input gives byte-identical output.
        gz = gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0)
        stack.callback(gz.close)  # closed before the set commits (the stack exits first)
        return gz  # type: ignore[return-value]  # GzipFile is a binary writable stream
    return f


def _encode_record(outcome: Converted) -> bytes | Rejected:
    try:
        return orjson.dumps(outcome.record) + b"\n"
    except orjson.JSONEncodeError as e:  # e.g. lone surrogates from a JSON input
        return Rejected(outcome.row, outcome.line, None, UNENCODABLE, outcome.source, str(e),
                        rows=outcome.rows)


def _dump_any(data: Any) -> bytes:
    """Rejects keep the source as it was, so fall back to escaped JSON for odd values."""
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n"
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(data, default=str).encode("ascii") + b"\n"


def read_system_file(path: str | Path) -> str:
    """The text of a --system-file (UTF-8), without a trailing newline."""
    try:
        return Path(path).read_text(encoding="utf-8-sig").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the system prompt file: {e}", path=str(path)) from None


__all__ = [
    "OVERFLOW_POLICIES",
    "SOURCE_FORMATS",
    "TARGET_FORMATS",
    "ConvertOptions",
    "ConvertResult",
    "Converted",
    "Rejected",
    "convert",
    "default_rejects_path",
    "detect_source_format",
    "iter_converted",
    "plan_conversion",
    "read_system_file",
]
