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
import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ftprep.convert.grouping import DEFAULT_SPILL_THRESHOLD, GroupSpec, iter_grouped
from ftprep.convert.records import (
    Converted,
    Message,
    Outcome,
    Rejected,
    RowReject,
    alpaca_messages,
    chat_messages,
    column_renderer,
    completion_messages,
    constant_renderer,
    message,
    preference_record,
    require_columns,
    sharegpt_messages,
    template_renderer,
    to_completion,
    with_system,
)
from ftprep.errors import InputError, UsageError
from ftprep.io.readers import Row, Table, open_table
from ftprep.io.writer import atomic_writer

AUTO, TABLE, MULTITURN = "auto", "table", "multiturn"
CHAT, COMPLETION, ALPACA, SHAREGPT, PREFERENCE = (
    "chat", "completion", "alpaca", "sharegpt", "preference",
)
SOURCE_FORMATS = (AUTO, CHAT, COMPLETION, ALPACA, SHAREGPT, PREFERENCE)
TARGET_FORMATS = (CHAT, COMPLETION, PREFERENCE)
OVERFLOW_POLICIES = ("keep", "drop", "trim-history")
UNENCODABLE = "unencodable_text"

# The keys that identify each source format, in detection order.
_SIGNATURES = (
    (CHAT, ("messages",)),
    (PREFERENCE, ("input", "preferred_output", "non_preferred_output")),
    (SHAREGPT, ("conversations",)),
    (PREFERENCE, ("prompt", "chosen", "rejected")),
    (ALPACA, ("instruction", "output")),
    (COMPLETION, ("prompt", "completion")),
)
_MESSAGE_ADAPTERS: dict[str, Callable[[Any], list[Message]]] = {
    ALPACA: alpaca_messages,
    SHAREGPT: sharegpt_messages,
    COMPLETION: completion_messages,
    CHAT: chat_messages,
}


@dataclass
class ConvertOptions:
    """Everything `ftprep convert` can be told. Column options imply a plain table;
    group options imply multi-turn rows."""

    input_format: str | None = None  # csv|tsv|parquet|jsonl|json|xlsx; None = by extension
    encoding: str | None = None  # text formats; None = UTF-8 (BOMs honoured)
    source_format: str = AUTO
    target_format: str | None = None  # None = chat (preference for preference input)
    user: str | None = None
    assistant: str | None = None
    system: str | None = None  # a column
    system_prompt: str | None = None  # a fixed text
    user_template: str | None = None
    assistant_template: str | None = None
    system_template: str | None = None
    group_by: str | None = None
    order_by: str | None = None
    role_column: str | None = None
    content_column: str | None = None
    role_map: dict[str, str] = field(default_factory=dict)
    rejects_path: str | None = None
    max_tokens: int | None = None
    model: str | None = None
    on_overflow: str = "keep"
    spill_threshold: int = DEFAULT_SPILL_THRESHOLD

    @property
    def table_options(self) -> dict[str, str | None]:
        return {
            "--user": self.user, "--assistant": self.assistant, "--system": self.system,
            "--user-template": self.user_template,
            "--assistant-template": self.assistant_template,
            "--system-template": self.system_template,
        }

    @property
    def group_options(self) -> dict[str, str | None]:
        return {
            "--group-by": self.group_by, "--order-by": self.order_by,
            "--role-column": self.role_column, "--content-column": self.content_column,
        }


@dataclass
class ConvertResult:
    input: str
    output: str
    rejects: str | None  # None when nothing was rejected (no file is written then)
    read: int
    written: int
    rejected: int
    reasons: dict[str, int]
    format_from: str
    format_to: str
    rows: int  # input rows; differs from `read` when rows are grouped into conversations
    unit: str  # what read/written/rejected count: "row" or "conversation"

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input, "output": self.output, "rejects": self.rejects,
            "read": self.read, "written": self.written, "rejected": self.rejected,
            "reasons": dict(self.reasons), "format_from": self.format_from,
            "format_to": self.format_to, "rows": self.rows, "unit": self.unit,
        }


@dataclass
class Plan:
    """A checked conversion: what the input is, what it becomes, and how."""

    table: Table
    source: str
    target: str
    make: Callable[[dict[str, Any]], dict[str, Any]] | None  # per-row formats
    group: GroupSpec | None  # multi-turn
    rows_seen: int = 0

    def _counted(self) -> Iterator[Row]:
        for row in self.table.rows:
            self.rows_seen += 1
            yield row

    def outcomes(self, spill_threshold: int) -> Iterator[Outcome]:
        if self.group is not None:
            return iter_grouped(self._counted(), self.group, spill_threshold)
        assert self.make is not None
        return (_row_outcome(row, self.make) for row in self._counted())


def _row_outcome(row: Row, make: Callable[[dict[str, Any]], dict[str, Any]]) -> Outcome:
    if row.problem:
        return Rejected(row.row, row.line, None, row.problem, row.values, row.detail)
    try:
        return Converted(make(row.values), row.row, row.line, row.values)
    except RowReject as e:
        return Rejected(row.row, row.line, e.field, e.reason, row.values, e.detail)


# ---------------------------------------------------------------- planning


def plan_conversion(input_path: str | Path, options: ConvertOptions) -> Plan:
    """Open the input and check the options against its columns (UsageError if impossible)."""
    _check_option_values(options)
    table = open_table(input_path, input_format=options.input_format, encoding=options.encoding)
    source = _source_format(table.columns, options)
    target = options.target_format or (PREFERENCE if source == PREFERENCE else CHAT)
    _check_combination(source, target, options)
    if source == MULTITURN:
        return Plan(table, source, target, None, _group_spec(table.columns, options))
    return Plan(table, source, target, _row_maker(table.columns, source, target, options), None)


def _check_option_values(options: ConvertOptions) -> None:
    if options.source_format not in SOURCE_FORMATS:
        raise UsageError(f"--from: unknown format {options.source_format!r}")
    if options.target_format not in (None, *TARGET_FORMATS):
        raise UsageError(f"--to: unknown format {options.target_format!r}")
    if options.on_overflow not in OVERFLOW_POLICIES:
        raise UsageError(f"--on-overflow: one of {', '.join(OVERFLOW_POLICIES)}")
    if options.max_tokens is not None and options.max_tokens <= 0:
        raise UsageError("--max-tokens must be a positive number")
    if options.on_overflow != "keep" and options.max_tokens is None and options.model is None:
        raise UsageError("--on-overflow needs a limit: give --max-tokens or --model")
    pairs = (("--user", "--user-template"), ("--assistant", "--assistant-template"))
    for a, b in pairs:
        if options.table_options[a] is not None and options.table_options[b] is not None:
            raise UsageError(f"give {a} or {b}, not both")
    systems = [n for n, v in (("--system", options.system), ("--system-template",
               options.system_template), ("--system-prompt", options.system_prompt)) if v]
    if len(systems) > 1:
        raise UsageError(f"give only one of {', '.join(systems)}")


def _source_format(columns: list[str], options: ConvertOptions) -> str:
    table = [k for k, v in options.table_options.items() if v is not None]
    group = [k for k, v in options.group_options.items() if v is not None]
    if table and group:
        raise UsageError(f"{table[0]} and {group[0]} do not mix: one row per example or per turn")
    if (table or group) and options.source_format != AUTO:
        raise UsageError(f"{(table + group)[0]} implies a plain table; drop --from")
    if group:
        return MULTITURN
    if table:
        return TABLE
    if options.source_format != AUTO:
        _require_signature(columns, options.source_format)
        return options.source_format
    return detect_source_format(columns)


def detect_source_format(columns: list[str]) -> str:
    """The source format from the column names (or the first record's keys)."""
    present = set(columns)
    for name, keys in _SIGNATURES:
        if all(k in present for k in keys):
            return name
    raise UsageError(
        f"cannot tell the input format from its columns ({', '.join(columns) or 'none'})",
        hint="map columns with --user/--assistant, or give --from",
    )


def _require_signature(columns: list[str], source: str) -> None:
    options = [keys for name, keys in _SIGNATURES if name == source]
    if not any(all(k in columns for k in keys) for keys in options):
        wanted = " or ".join("/".join(keys) for keys in options)
        raise UsageError(
            f"--from {source} needs the columns {wanted}",
            hint=f"available columns: {', '.join(columns) or '(none)'}",
        )


def _check_combination(source: str, target: str, options: ConvertOptions) -> None:
    if (source == PREFERENCE) != (target == PREFERENCE):
        raise UsageError(
            f"cannot convert {source} input to {target} records",
            hint="preference (DPO) records come only from prompt/chosen/rejected data",
        )
    if target == COMPLETION:
        if source == MULTITURN:
            raise UsageError("multi-turn conversations cannot become prompt/completion records")
        if options.system or options.system_template or options.system_prompt:
            raise UsageError("prompt/completion records have no system message")


def _group_spec(columns: list[str], options: ConvertOptions) -> GroupSpec:
    needed = {k: v for k, v in options.group_options.items() if k != "--order-by"}
    missing = [k for k, v in needed.items() if v is None]
    if missing:
        raise UsageError(f"multi-turn input also needs {', '.join(missing)}")
    for option, column in options.group_options.items():
        if column is not None:
            require_columns(columns, [column], option)
    assert options.group_by and options.content_column and options.role_column
    return GroupSpec(
        group_by=options.group_by,
        content_column=options.content_column,
        role_column=options.role_column,
        order_by=options.order_by,
        role_map=dict(options.role_map),
        system=options.system_prompt,
    )


def _row_maker(
    columns: list[str], source: str, target: str, options: ConvertOptions
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    system = options.system_prompt
    if source == PREFERENCE:
        return lambda values: preference_record(values, system)
    to_messages = _table_messages(columns, options) if source == TABLE else _MESSAGE_ADAPTERS[source]

    def make(values: dict[str, Any]) -> dict[str, Any]:
        messages = to_messages(values)
        if target == COMPLETION:
            return to_completion(messages)
        record = dict(values) if source == CHAT else {}  # chat keeps tools, metadata...
        record["messages"] = with_system(messages, system)
        return record

    return make


def _table_messages(
    columns: list[str], options: ConvertOptions
) -> Callable[[dict[str, Any]], list[Message]]:
    user = _renderer(columns, options.user, options.user_template, "user")
    assistant = _renderer(columns, options.assistant, options.assistant_template, "assistant")
    system = None
    if options.system or options.system_template:
        system = _renderer(columns, options.system, options.system_template, "system")
    elif options.system_prompt is not None:
        system = constant_renderer(options.system_prompt)
    if user is None or assistant is None:
        raise UsageError(
            "a plain table needs both --user (or --user-template) and --assistant "
            "(or --assistant-template)",
            hint=f"available columns: {', '.join(columns)}",
        )

    def to_messages(values: dict[str, Any]) -> list[Message]:
        head = [message("system", system(values))] if system else []
        return [*head, message("user", user(values)), message("assistant", assistant(values))]

    return to_messages


def _renderer(
    columns: list[str], column: str | None, template: str | None, role: str
) -> Callable[[Any], str] | None:
    if column is not None:
        require_columns(columns, [column], f"--{role}")
        return column_renderer(column)
    if template is not None:
        return template_renderer(template, columns, f"--{role}-template")
    return None


# ---------------------------------------------------------------- token limits


def _overflow_fitter(options: ConvertOptions) -> Callable[[dict], tuple[dict | None, str | None]]:
    """Bind `ftprep.overflow.fit_to_limit` to the limit and encoding the options ask for."""
    # Imported lazily: token counting loads encodings only when a limit is asked for.
    try:
        from ftprep.overflow import fit_to_limit
        from ftprep.tokens import get_encoding
    except ImportError as e:
        raise UsageError(f"token limits are not available in this build ({e})") from None

    limit, encoding_name = options.max_tokens, "o200k_base"
    if options.model:
        from ftprep.models import get_model

        model = get_model(options.model)
        limit = limit or model.max_example_tokens
        encoding_name = model.encoding
    encoding = get_encoding(encoding_name)
    assert limit is not None
    policy = options.on_overflow
    return lambda record: fit_to_limit(record, limit=limit, encoding=encoding, policy=policy)


def _with_token_limit(outcomes: Iterator[Outcome], options: ConvertOptions) -> Iterator[Outcome]:
    if options.max_tokens is None and options.model is None:
        yield from outcomes
        return
    fit = _overflow_fitter(options)
    for outcome in outcomes:
        if isinstance(outcome, Converted):
            record, reason = fit(outcome.record)
            if record is None:
                reason = reason or "too_many_tokens"
                outcome = Rejected(outcome.row, outcome.line, None, reason, outcome.source)
            else:
                outcome = Converted(record, outcome.row, outcome.line, outcome.source)
        yield outcome


# ---------------------------------------------------------------- running


def iter_converted(input_path: str | Path, options: ConvertOptions) -> Iterator[Outcome]:
    """Stream the outcome of every input unit: `Converted(record)` or `Rejected(...)`."""
    plan = plan_conversion(input_path, options)
    yield from _with_token_limit(plan.outcomes(options.spill_threshold), options)


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
    outcomes = _with_token_limit(plan.outcomes(options.spill_threshold), options)
    reasons: Counter[str] = Counter()
    written = 0
    with contextlib.ExitStack() as stack:
        out = _open_output(stack, str(output_path))
        rejects: IO[bytes] | None = None
        for outcome in outcomes:
            if isinstance(outcome, Converted):
                line = _encode_record(outcome)
                if isinstance(line, bytes):
                    out.write(line)
                    written += 1
                    continue
                outcome = line
            if rejects is None:  # created only when there is something to put in it
                rejects = stack.enter_context(atomic_writer(rejects_path))
            rejects.write(_dump_any(outcome.to_dict()))
            reasons[outcome.reason] += 1
        if plan.rows_seen == 0:
            raise InputError("no rows to convert (only a header?)", path=str(input_path))
    rejected = sum(reasons.values())
    read = written + rejected
    grouped = plan.source == MULTITURN
    assert grouped or read == plan.rows_seen, "every input row is written or rejected"
    return ConvertResult(
        input=str(input_path), output=str(output_path),
        rejects=rejects_path if rejected else None,
        read=read, written=written, rejected=rejected, reasons=dict(sorted(reasons.items())),
        format_from=plan.source, format_to=plan.target,
        rows=plan.rows_seen, unit="conversation" if grouped else "row",
    )


def _check_paths(input_path: str, output_path: str, rejects_path: str) -> None:
    if output_path != "-" and _same_file(output_path, rejects_path):
        raise UsageError("the rejects file cannot be the output file")
    for other in (output_path, rejects_path):
        if other != "-" and input_path != "-" and _same_file(input_path, other):
            raise UsageError(f"{other} is the input file; write somewhere else")


def _same_file(a: str, b: str) -> bool:
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def _open_output(stack: contextlib.ExitStack, output_path: str) -> IO[bytes]:
    f = stack.enter_context(atomic_writer(output_path))
    if output_path.endswith(".gz"):
        # mtime=0 and no embedded name: the same input gives byte-identical output.
        return stack.enter_context(gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0))
    return f


def _encode_record(outcome: Converted) -> bytes | Rejected:
    try:
        return orjson.dumps(outcome.record) + b"\n"
    except orjson.JSONEncodeError as e:  # e.g. lone surrogates from a JSON input
        return Rejected(outcome.row, outcome.line, None, UNENCODABLE, outcome.source, str(e))


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
