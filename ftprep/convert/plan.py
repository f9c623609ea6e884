"""Checking a conversion before it runs: which source format the input is, which target it
becomes, and the function that turns one row (or one conversation) into a record. Every
impossible request is a UsageError here, before any output is opened."""
from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.convert.fields import (
    AlpacaFields,
    Fields,
    Origin,
    PreferenceFields,
    ShareGPTFields,
    TableFields,
)
from ftprep.convert.grouping import DEFAULT_SPILL_THRESHOLD, GroupSpec, iter_grouped
from ftprep.convert.records import (
    SHAREGPT_ROLES,
    TABLE_ROLES,
    Cells,
    Converted,
    Message,
    Outcome,
    Rejected,
    RowReject,
    Speakers,
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
from ftprep.errors import UsageError
from ftprep.formats import CHAT, COMPLETION, PREFERENCE
from ftprep.io.readers import Row, Table, open_table
from ftprep.io.readers.input_format import CSV, TSV, XLSX
from ftprep.io.readers.rows import cell_of, resolve_column
from ftprep.overflow import POLICIES

AUTO, TABLE, MULTITURN = "auto", "table", "multiturn"
ALPACA, SHAREGPT = "alpaca", "sharegpt"  # source-only formats; the rest are ftprep.formats
SOURCE_FORMATS = (AUTO, CHAT, COMPLETION, ALPACA, SHAREGPT, PREFERENCE)
TARGET_FORMATS = (CHAT, COMPLETION, PREFERENCE)
OVERFLOW_POLICIES = POLICIES  # one home: ftprep.overflow

# The keys that identify each source format, in detection order.
_SIGNATURES = (
    (CHAT, ("messages",)),
    (PREFERENCE, ("input", "preferred_output", "non_preferred_output")),
    (SHAREGPT, ("conversations",)),
    (PREFERENCE, ("prompt", "chosen", "rejected")),
    (ALPACA, ("instruction", "output")),
    (COMPLETION, ("prompt", "completion")),
)
_MESSAGE_ADAPTERS: dict[str, Callable[[Any, Cells], list[Message]]] = {
    ALPACA: alpaca_messages,
    COMPLETION: completion_messages,
    CHAT: chat_messages,
}
Maker = Callable[[dict[str, Any]], tuple[dict[str, Any], int]]  # → (record, dropped turns)


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
    prompt: str | None = None  # preference tables: the columns holding prompt, chosen and
    chosen: str | None = None  # rejected answer, when not named so
    rejected: str | None = None
    group_by: str | None = None
    order_by: str | None = None
    role_column: str | None = None
    content_column: str | None = None
    role_map: dict[str, str] = field(default_factory=dict)
    first_speaker: str | None = None  # user|assistant: unmapped speakers alternate from it
    drop_empty_turns: bool = False
    na_values: tuple[str, ...] = ()  # more texts meaning "no value" (pandas-style)
    keep_default_na: bool = True  # False: only na_values count as missing
    delimiter: str | None = None  # CSV; None = sniffed from the header line
    sheet: str | None = None  # XLSX: name, 1-based position or "all"; None = active sheet
    header_row: int | None = None  # 1-based line/row of the header (title rows above it)
    rejects_path: str | None = None
    max_tokens: int | None = None
    model: str | None = None
    on_overflow: str = "keep"
    redact: bool = False  # replace secrets and personal data with typed placeholders
    metadata: tuple[str, ...] = ()  # columns copied into each record's `metadata` object
    spill_threshold: int = DEFAULT_SPILL_THRESHOLD

    @property
    def cells(self) -> Cells:
        return Cells.with_na(self.na_values, keep_default=self.keep_default_na)

    def speakers(self, known: dict[str, str]) -> Speakers:
        return Speakers(known=known, role_map=dict(self.role_map),
                        first_speaker=self.first_speaker,
                        drop_empty_turns=self.drop_empty_turns)

    @property
    def table_options(self) -> dict[str, str | None]:
        return {
            "user": self.user, "assistant": self.assistant, "system": self.system,
            "user_template": self.user_template,
            "assistant_template": self.assistant_template,
            "system_template": self.system_template,
        }

    @property
    def group_options(self) -> dict[str, str | None]:
        return {
            "group_by": self.group_by, "order_by": self.order_by,
            "role_column": self.role_column, "content_column": self.content_column,
        }


@dataclass
class Plan:
    """A checked conversion: what the input is, what it becomes, and how."""

    table: Table
    source: str
    target: str
    make: Maker | None  # per-row formats
    group: GroupSpec | None  # multi-turn
    rows_seen: int = 0
    # A plain table whose records hold these columns' cells verbatim as message texts
    # (--user/--assistant/--system columns, no templates): what ftprep.convert.columnar needs.
    cell_columns: tuple[str, ...] | None = None
    # Columns of a plain or multi-turn table that no option reads, keys of Alpaca or
    # ShareGPT records that the format does not define: not in any record.
    unused_columns: tuple[str, ...] = ()
    # JSON/JSONL records of a format (Alpaca, ShareGPT): the keys it reads and those already
    # listed as unused; a later record's other keys join `unused_columns` as they are met.
    read_keys: frozenset[str] | None = None
    # JSON/JSONL (no header): option → the keys it names that the first record lacks. They
    # may appear in a later record; `convert` checks, once every record has gone by, that
    # each is in one (`ftprep.convert.late_keys_found`).
    late_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Which input field each place of a record comes from, for the rejects found on built
    # records (ftprep.convert.fields); None when records are not built from named cells.
    fields: Fields | None = None

    def _counted(self) -> Iterator[Row]:
        for row in self.table.rows:
            self.rows_seen += 1
            # Cost per record: one set test of its keys, unless it brings a key not yet seen.
            if self.read_keys is not None and row.problem is None \
                    and not self.read_keys.issuperset(row.values):
                self._unused_keys(row.values)
            yield row

    def _unused_keys(self, values: dict[str, Any]) -> None:
        assert self.read_keys is not None
        new = [k for k in values if k not in self.read_keys]
        self.unused_columns += tuple(k for k in new if k.strip())
        self.read_keys |= frozenset(new)

    def outcomes(self, spill_threshold: int) -> Iterator[Outcome]:
        if self.group is not None:
            return iter_grouped(self._counted(), self.group, spill_threshold)
        return (self.row_outcome(row) for row in self._counted())

    def row_outcome(self, row: Row) -> Outcome:
        """What one row of a per-row format becomes (no record checks yet)."""
        assert self.make is not None
        return _row_outcome(row, self.make)


def _row_outcome(row: Row, make: Maker) -> Outcome:
    if row.problem:
        return Rejected(row.row, row.line, row.field, row.problem, row.values, row.detail)
    try:
        record, dropped = make(row.values)
        return Converted(record, row.row, row.line, row.values, dropped)
    except RowReject as e:
        return Rejected(row.row, row.line, e.field, e.reason, row.values, e.detail, e.value)


# ---------------------------------------------------------------- planning


def plan_conversion(input_path: str | Path, options: ConvertOptions) -> Plan:
    """Open the input and check the options against its columns (UsageError if impossible)."""
    _check_option_values(options)
    table = open_table(input_path, input_format=options.input_format, encoding=options.encoding,
                       delimiter=options.delimiter, sheet=options.sheet,
                       header_row=options.header_row)
    return plan_table(table, options)


def plan_table(table: Table, options: ConvertOptions) -> Plan:
    """Check the options against an opened table's columns (a file's, or a DataFrame's).

    A header (CSV, TSV, XLSX, Parquet, a DataFrame) names every column: an option naming
    another is a UsageError here, before anything is read. JSON and JSONL have none: the
    columns are the first record's keys, and a key an option names (a column option, a
    template's placeholder, --metadata) may first appear in a later record. Such keys are
    accepted here and listed in `Plan.late_keys`; a record without one has a missing cell
    there, as a CSV row with an empty one (a `missing` reject for a message column, the row
    rejected alone for --group-by, null for --metadata), and a key no record holds is a
    UsageError once the single pass is over (`ftprep.convert.late_keys_found`). A column
    matched with spaces trimmed is matched so in each record (`cell_of`), said once per
    option."""
    _check_option_values(options)
    typed, options = options, _resolve_columns(table, options)
    table = _trim_format_columns(table, options)
    if table.keys_vary:
        table = _said_when_trimmed(table, typed, options)
    late = _late_keys(table, options) if table.keys_vary else {}
    # The options are checked against these; --metadata's keys are not among them (it is
    # checked in ftprep.convert, and its keys must not sway the format's detection).
    columns = list(dict.fromkeys([*table.columns, *(
        k for option, keys in late.items() if option != "metadata" for k in keys)]))
    source = _source_format(columns, options)
    target = options.target_format or (PREFERENCE if source == PREFERENCE else CHAT)
    _check_combination(source, target, options)
    _check_metadata_keys(source, options)
    if source == MULTITURN:
        group = _group_spec(columns, options)
        return Plan(table, source, target, None, group, late_keys=late,
                    unused_columns=_unused_columns(table.columns, source, options))
    make = _row_maker(columns, source, target, options)  # checks the templates first
    read = _read_keys(source, options) if table.keys_vary else None
    if read is not None:  # the first record's other keys are listed already
        read |= frozenset(table.columns)
    return Plan(table, source, target, make, None, cell_columns=_cell_columns(source, options),
                unused_columns=_unused_columns(table.columns, source, options), late_keys=late,
                fields=_fields(columns, source, target, options), read_keys=read)


# The keys each format that defines its own reads (`alpaca_messages`, `sharegpt_messages`).
_FORMAT_READS = {ALPACA: ("instruction", "input", "output", "system", "history"),
                 SHAREGPT: ("conversations", "system")}


def _read_keys(source: str, options: ConvertOptions) -> frozenset[str] | None:
    """The keys an Alpaca or ShareGPT record's conversion reads (its format's and the
    --metadata ones); None for other sources."""
    if source not in _FORMAT_READS:
        return None
    return frozenset((*_FORMAT_READS[source], *options.metadata))


METADATA = "metadata"  # the record's object that --metadata fills


def _check_metadata_keys(source: str, options: ConvertOptions) -> None:
    """--metadata names keys to copy into `metadata`, so not `metadata` itself (a record's
    own metadata object would be nested in itself: it is kept and added to anyway), nor,
    for input read as records of a format, a key that format is recognised by
    (`messages`, `input`, `instruction`...): that key is the example itself. The format's
    other keys (`tools`...) may be copied; a mapped table's columns are only columns."""
    by_name = source not in (TABLE, MULTITURN) and not any(
        getattr(options, k) is not None for k in _PREFERENCE_COLUMNS)
    own = {k for name, keys in _SIGNATURES if name == source for k in keys} if by_name else set()
    for key in options.metadata:
        if key == METADATA:
            raise UsageError("is the object the keys are copied into, not a key to copy",
                             param="metadata", value=key,
                             hint="a record's own metadata object is kept and added to"
                             if by_name else "rename the column to copy it")
        if key in own:
            raise UsageError(f"is the {source} record itself, not metadata to copy",
                             param="metadata", value=key,
                             hint="name the keys beside it, e.g. an id to split by")


def _said_when_trimmed(table: Table, typed: ConvertOptions, resolved: ConvertOptions) -> Table:
    """JSON/JSONL: a warning, once per option, for the first record whose key the option
    (or a template's placeholder) matches only with spaces trimmed (`"answer "` for
    --assistant answer), as `_resolve_columns` says it for the first record's keys; the
    lookups (`cell_of`) match it in every record. Cost per record: one dict lookup per name
    not yet said, and a look at the record's keys when it lacks the name."""
    said = {o for o in _COLUMN_OPTIONS if getattr(typed, o) != getattr(resolved, o)}
    watch = [(option, name) for option, names in _named_keys(typed).items()
             if option != METADATA and option not in said for name in names]
    if not watch:
        return table

    def rows(watch: list[tuple[str, str]]) -> Iterator[Row]:
        for row in table.rows:
            for option, name in watch if row.problem is None else ():
                if name in row.values:
                    continue
                key = cell_of(row.values, name)[1]
                if key != name and (option, name) in watch:  # once per option
                    table.notes.warn(f"{option}={name!r} matched the key {key!r} (spaces "
                                     f"trimmed), first in row {row.row}")
                    watch = [w for w in watch if w[0] != option]
            yield row

    return dataclasses.replace(table, rows=rows(watch))


def _late_keys(table: Table, options: ConvertOptions) -> dict[str, tuple[str, ...]]:
    """Option → the keys it names that no column of `table` (the first record) matches:
    exactly for --metadata (which copies the key as named), else as the option resolves a
    column (column options are resolved already; placeholders match trimmed too)."""
    late = {}
    for option, keys in _named_keys(options).items():
        if option == "metadata":
            missing = tuple(k for k in keys if k not in table.columns)
        else:
            missing = tuple(k for k in keys if resolve_column(table.columns, k)[0] is None)
        if missing:
            late[option] = missing
    return late


def _named_keys(options: ConvertOptions) -> dict[str, list[str]]:
    """Every key each option names, in option order: column options, the preference
    table's columns (each defaulting to its own name once one is given), the templates'
    placeholders and the --metadata keys."""
    named: dict[str, list[str]] = {}
    preference = any(getattr(options, k) is not None for k in _PREFERENCE_COLUMNS)
    for option in _COLUMN_OPTIONS:
        value = getattr(options, option)
        if value is None and preference and option in _PREFERENCE_COLUMNS:
            value = option
        if value is not None:
            named[option] = [value]
    for option in ("user_template", "assistant_template", "system_template"):
        names = _placeholders(getattr(options, option))
        if names:
            named[option] = names
    if options.metadata:
        named["metadata"] = list(options.metadata)
    return named


def _placeholders(template: str | None) -> list[str]:
    """The column names a template's `{fields}` give ([] for a template that does not parse,
    or for `{}`: `template_renderer` refuses those, with the reason)."""
    try:
        parts = list(string.Formatter().parse(template or ""))
    except ValueError:
        return []
    return list(dict.fromkeys(name for _, name, _, _ in parts if name))


def _unused_columns(columns: list[str], source: str, options: ConvertOptions) -> tuple[str, ...]:
    """The columns a plain (--user/--assistant...) or multi-turn (--group-by...) mapping leaves
    out of every record, and those of Alpaca or ShareGPT records that the format does not
    read (`id`, `category`), so the summary can say so rather than drop them unsaid. (JSON
    records: the first one's; `Plan.read_keys` adds the later ones' as they are read.)"""
    read = _read_keys(source, options)
    if read is not None:
        return tuple(c for c in columns if c not in read and c.strip())
    if source not in (TABLE, MULTITURN):
        return ()
    used: set[str | None] = {options.user, options.assistant, options.system,
                             *options.group_options.values(), *options.metadata}
    for template in (options.user_template, options.assistant_template, options.system_template):
        for _, name, _, _ in string.Formatter().parse(template or ""):
            if name is not None:
                used.add(resolve_column(columns, name)[0])
    return tuple(c for c in columns if c not in used and c.strip())


def _cell_columns(source: str, options: ConvertOptions) -> tuple[str, ...] | None:
    if source != TABLE or options.user_template or options.assistant_template \
            or options.system_template:
        return None
    named = (options.system, options.user, options.assistant)
    return tuple(dict.fromkeys(c for c in named if c is not None))


_COLUMN_OPTIONS = ("user", "assistant", "system", "group_by", "order_by", "role_column",
                   "content_column", "prompt", "chosen", "rejected")
_PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")


def _resolve_columns(table: Table, options: ConvertOptions) -> ConvertOptions:
    """Column options name the exact column first, else the one that matches after trimming
    spaces (`"Customer Question "`), said in a warning; in every input format alike."""
    resolved: dict[str, Any] = {}
    for name in _COLUMN_OPTIONS:
        wanted = getattr(options, name)
        if wanted is None:
            continue
        column, trimmed = resolve_column(table.columns, wanted)
        if column is None:
            _title_row_hint(table, name, wanted)
        if column is not None and trimmed:
            table.notes.warn(f"{name}={wanted!r} matched the column {column!r} (spaces trimmed)")
            resolved[name] = column
    return dataclasses.replace(options, **resolved) if resolved else options


_FORMAT_KEYS = frozenset(k for _, keys in _SIGNATURES for k in keys) | {"input", "system",
                                                                         "history"}


def _trim_format_columns(table: Table, options: ConvertOptions) -> Table:
    """The columns a format is recognised by (`instruction`, `output`, `conversations`...)
    match with spaces trimmed too, as column options do: `"instruction "` in a Parquet file
    is read as `instruction` (said once)."""
    if any(getattr(options, name) is not None for name in _COLUMN_OPTIONS):
        return table  # the columns are mapped by name: nothing is recognised by its name
    renames = {c: c.strip() for c in table.columns
               if c != c.strip() and c.strip() in _FORMAT_KEYS and c.strip() not in table.columns}
    if not renames:
        return table
    for old, new in renames.items():
        table.notes.warn(f"column {old!r} read as {new!r} (spaces trimmed)")

    def renamed(rows: Iterator[Row]) -> Iterator[Row]:
        for row in rows:
            for old, new in renames.items():
                if old in row.values:
                    row.values[new] = row.values.pop(old)
            yield row

    return dataclasses.replace(table, columns=[renames.get(c, c) for c in table.columns],
                               rows=renamed(table.rows), arrow=None)


def _title_row_hint(table: Table, name: str, wanted: str) -> None:
    """A spreadsheet export often starts with a title line ("Helpdesk export, Q3"): read as
    the header, it is one column, and every column option misses. Say so, with the fix."""
    named = [c for c in table.columns if c.strip()]
    if table.input_format in (CSV, TSV, XLSX) and len(named) == 1 and named[0] != wanted:
        raise UsageError(
            f"--{name.replace('_', '-')}: unknown column {wanted!r}",
            hint=f"the header read is the single cell {named[0]!r}: a title row above the "
            "header? give --header-row N (the line or row of the header)")


def _check_option_values(options: ConvertOptions) -> None:
    if options.source_format not in SOURCE_FORMATS:
        raise UsageError(f"{{source_format}}: unknown format {options.source_format!r}",
                         mentions=("source_format",))
    if options.target_format not in (None, *TARGET_FORMATS):
        raise UsageError(f"{{target_format}}: unknown format {options.target_format!r}",
                         mentions=("target_format",))
    if options.on_overflow not in OVERFLOW_POLICIES:
        raise UsageError(f"{{on_overflow}}: one of {', '.join(OVERFLOW_POLICIES)}",
                         mentions=("on_overflow",))
    if options.max_tokens is not None and options.max_tokens <= 0:
        raise UsageError("must be a positive number", param="max_tokens", value=options.max_tokens)
    if options.on_overflow != "keep" and options.max_tokens is None and options.model is None:
        raise UsageError("{on_overflow} needs a limit: give {max_tokens} or {model}",
                         mentions=("on_overflow", "max_tokens", "model"))
    if options.first_speaker not in (None, "user", "assistant"):
        raise UsageError(f"{{first_speaker}}: user or assistant, not {options.first_speaker!r}",
                         mentions=("first_speaker",))
    pairs = (("user", "user_template"), ("assistant", "assistant_template"))
    for a, b in pairs:
        if options.table_options[a] is not None and options.table_options[b] is not None:
            raise UsageError(f"give {{{a}}} or {{{b}}}, not both", mentions=(a, b))
    systems = [n for n, v in (("system", options.system), ("system_template",
               options.system_template), ("system_prompt", options.system_prompt)) if v]
    if len(systems) > 1:
        raise UsageError(f"give only one of {', '.join('{' + s + '}' for s in systems)}",
                         mentions=tuple(systems))


def _source_format(columns: list[str], options: ConvertOptions) -> str:
    preference = [k for k in _PREFERENCE_COLUMNS if getattr(options, k) is not None]
    if preference:
        return _preference_table(columns, options, preference)
    table = [k for k, v in options.table_options.items() if v is not None]
    group = [k for k, v in options.group_options.items() if v is not None]
    if table and group:
        raise UsageError(f"{{{table[0]}}} and {{{group[0]}}} do not mix: one row per example or "
                         "per turn", mentions=(table[0], group[0]))
    if (table or group) and options.source_format != AUTO:
        first = (table + group)[0]
        raise UsageError(f"{{{first}}} implies a plain table; drop {{source_format}}",
                         mentions=(first, "source_format"))
    if group:
        return MULTITURN
    if table:
        return TABLE
    if options.source_format != AUTO:
        _require_signature(columns, options.source_format)
        return options.source_format
    return detect_source_format(columns)


def _preference_table(columns: list[str], options: ConvertOptions, given: list[str]) -> str:
    others = [k for k, v in {**options.table_options, **options.group_options}.items()
              if v is not None]
    if others:
        raise UsageError(f"{{{given[0]}}} (a preference table) and {{{others[0]}}} do not mix",
                         mentions=(given[0], others[0]))
    if options.source_format not in (AUTO, PREFERENCE):
        raise UsageError(f"{{{given[0]}}} maps a preference table; drop {{source_format}} "
                         f"{options.source_format}", mentions=(given[0], "source_format"))
    for name in _PREFERENCE_COLUMNS:  # each defaults to the column of its own name
        require_columns(columns, [getattr(options, name) or name], name)
    return PREFERENCE


def detect_source_format(columns: list[str]) -> str:
    """The source format from the column names (or the first record's keys)."""
    present = set(columns)
    for name, keys in _SIGNATURES:
        if all(k in present for k in keys):
            return name
    raise UsageError(
        f"cannot tell the input format from its columns ({', '.join(columns) or 'none'})",
        hint="map columns with {user}/{assistant}, or give {source_format}",
        mentions=("user", "assistant", "source_format"),
    )


def _require_signature(columns: list[str], source: str) -> None:
    options = [keys for name, keys in _SIGNATURES if name == source]
    if not any(all(k in columns for k in keys) for keys in options):
        wanted = " or ".join("/".join(keys) for keys in options)
        raise UsageError(
            f"{{source_format}} {source} needs the columns {wanted}",
            mentions=("source_format",),
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
    needed = {k: v for k, v in options.group_options.items() if k != "order_by"}
    missing = [k for k, v in needed.items() if v is None]
    if missing:
        raise UsageError(f"multi-turn input also needs {', '.join('{' + m + '}' for m in missing)}",
                         mentions=tuple(missing))
    for option, column in options.group_options.items():
        if column is not None:
            require_columns(columns, [column], option)
    assert options.group_by and options.content_column and options.role_column
    return GroupSpec(
        group_by=options.group_by,
        content_column=options.content_column,
        role_column=options.role_column,
        order_by=options.order_by,
        speakers=options.speakers(dict(TABLE_ROLES)),
        cells=options.cells,
        system=options.system_prompt,
    )


def _fields(columns: list[str], source: str, target: str,
            options: ConvertOptions) -> Fields | None:
    """Where each place of the records `_row_maker` builds comes from, for a plain or a
    preference table, Alpaca and ShareGPT records; None for formats whose records keep
    their own paths."""
    if source == PREFERENCE:
        given = any(getattr(options, name) is not None for name in _PREFERENCE_COLUMNS)
        return PreferenceFields({name: getattr(options, name) or name
                                 for name in _PREFERENCE_COLUMNS}, mapped=given)
    completion = target == COMPLETION
    if source == SHAREGPT:
        return ShareGPTFields(options.cells, options.drop_empty_turns, completion)
    if source == ALPACA:
        return AlpacaFields(completion, options.cells)
    if source != TABLE:
        return None
    roles = ("system", "user", "assistant")
    origins = [_origin(columns, getattr(options, role), getattr(options, f"{role}_template"),
                       f"{role}_template") for role in roles]
    if origins[0] is None and options.system_prompt is not None:
        origins[0] = Origin(())  # a fixed text: no cell to name
    return TableFields(tuple(o for o in origins if o is not None), completion, options.cells)


def _origin(columns: list[str], column: str | None, template: str | None,
            option: str) -> Origin | None:
    if column is not None:
        return Origin((column,))
    if template is None:
        return None
    return Origin(tuple(dict.fromkeys(resolve_column(columns, name)[0] or name
                                      for name in _placeholders(template))), option)


def _row_maker(columns: list[str], source: str, target: str, options: ConvertOptions) -> Maker:
    system, cells = options.system_prompt, options.cells
    if source == PREFERENCE:
        rename = {name: getattr(options, name) or name for name in _PREFERENCE_COLUMNS}
        if all(k == v for k, v in rename.items()):
            return lambda values: (preference_record(values, system, cells), 0)
        return lambda values: (preference_record(values, system, cells, rename), 0)
    to_messages = _message_maker(columns, source, options)

    def make(values: dict[str, Any]) -> tuple[dict[str, Any], int]:
        messages, dropped = to_messages(values)
        if target == COMPLETION:
            return to_completion(messages), dropped
        record = dict(values) if source == CHAT else {}  # chat keeps tools, metadata...
        record["messages"] = with_system(messages, system)
        return record, dropped

    return make


def _message_maker(
    columns: list[str], source: str, options: ConvertOptions
) -> Callable[[dict[str, Any]], tuple[list[Message], int]]:
    if source == SHAREGPT:
        speakers = options.speakers(SHAREGPT_ROLES)
        cells = options.cells
        return lambda values: sharegpt_messages(values, cells, speakers)
    adapt = _table_messages(columns, options) if source == TABLE else _MESSAGE_ADAPTERS[source]
    cells = options.cells
    return lambda values: (adapt(values, cells), 0)


def _table_messages(
    columns: list[str], options: ConvertOptions
) -> Callable[[dict[str, Any], Cells], list[Message]]:
    cells = options.cells
    user = _renderer(columns, options.user, options.user_template, "user", cells)
    assistant = _renderer(columns, options.assistant, options.assistant_template, "assistant",
                          cells)
    system = None
    if options.system or options.system_template:
        system = _renderer(columns, options.system, options.system_template, "system", cells)
    elif options.system_prompt is not None:
        system = constant_renderer(options.system_prompt)
    if user is None or assistant is None:
        raise UsageError(
            "a plain table needs both {user} (or {user_template}) and {assistant} "
            "(or {assistant_template})",
            mentions=("user", "user_template", "assistant", "assistant_template"),
            hint=f"available columns: {', '.join(columns)}",
        )

    def to_messages(values: dict[str, Any], _cells: Cells) -> list[Message]:
        head = [message("system", system(values))] if system else []
        return [*head, message("user", user(values)), message("assistant", assistant(values))]

    return to_messages


def _renderer(
    columns: list[str], column: str | None, template: str | None, role: str, cells: Cells
) -> Callable[[Any], str] | None:
    if column is not None:
        require_columns(columns, [column], role)
        return column_renderer(column, cells)
    if template is not None:
        return template_renderer(template, columns, f"{role}_template", cells)
    return None
