"""Multi-turn conversations from flat rows (one row per turn).

Rows of a conversation may be anywhere in the file and in any order. Up to `spill_threshold`
rows are grouped in memory; past it, rows are partitioned by a hash of their group key into
temporary JSONL files and each partition is grouped on its own, so memory holds one partition
at a time instead of the whole file.

Limit: one group (conversation) must fit in memory — in practice one partition, which is about
1/256 of the rows, plus at least one whole group. Output order is always the order in which
each group first appears in the input, whether or not the rows spilled.
"""
from __future__ import annotations

import contextlib
import dataclasses
import heapq
import operator
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ftprep.convert.records import (
    DEFAULT_CELLS,
    EMPTY,
    MISSING,
    NO_ASSISTANT,
    Cells,
    Converted,
    Message,
    Outcome,
    Rejected,
    RowReject,
    Speakers,
    message,
    with_system,
)
from ftprep.errors import UsageError
from ftprep.faults import fault_point
from ftprep.io.readers import Row
from ftprep.io.readers.rows import cell_of
from ftprep.io.temps import remove_stale_spills, spill_prefix

ROLES = ("system", "user", "assistant")
SPILL_PARTITIONS = 256
DEFAULT_SPILL_THRESHOLD = 200_000


@dataclass(frozen=True)
class GroupSpec:
    group_by: str
    content_column: str
    role_column: str
    order_by: str | None = None
    speakers: Speakers = field(default_factory=Speakers)
    cells: Cells = DEFAULT_CELLS
    system: str | None = None


@dataclass(slots=True)
class Turn:
    """One row reduced to what grouping needs (plus its source, for the rejects file)."""

    seq: int
    row: int
    line: int | None
    key: str
    role: str = ""  # the speaker value as written; roles are resolved per conversation
    content: str | None = ""  # None: an empty turn left out (--drop-empty-turns)
    order: str = ""
    field: str | None = None  # set when the row is unusable...
    reason: str = ""  # ...and why
    detail: str = ""
    value: str | None = None
    source: Any = None


def parse_role_map(text: str) -> dict[str, str]:
    """'human=user,bot=assistant' → {'human': 'user', 'bot': 'assistant'}."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, role = pair.partition("=")
        if not sep or not name.strip() or role.strip() not in ROLES:
            raise UsageError(
                f"{{role_map}}: bad entry {pair!r}", hint=f"write VALUE=ROLE, ROLE in {ROLES}",
                mentions=("role_map",),
            )
        out[name.strip()] = role.strip()
    return out


def to_turn(row: Row, seq: int, spec: GroupSpec) -> Turn:
    if not row.problem:
        turn = _plain_turn(row, seq, spec)
        if turn is not None:
            return turn
    return _checked_turn(row, seq, spec)


def _plain_turn(row: Row, seq: int, spec: GroupSpec) -> Turn | None:
    """The turn of a row whose cells are plain usable texts (nearly all rows), or None to let
    `_checked_turn` decide: `Cells.text`'s checks inlined, for 4 cells a row."""
    values, cells = row.values, spec.cells
    key, role = values.get(spec.group_by), values.get(spec.role_column)
    content = values.get(spec.content_column)
    order = values.get(spec.order_by) if spec.order_by else "-"
    if not (type(key) is str and type(role) is str and type(content) is str
            and type(order) is str):
        return None
    longest, absent = cells.longest, cells.na_values
    role, order = role.strip(), order.strip()
    for text in (key.strip(), role, content.strip(), order):
        if not text or (len(text) <= longest and text.casefold() in absent):
            return None
    return Turn(seq, row.row, row.line, key, role, content, order if spec.order_by else "",
                source=values)


def _checked_turn(row: Row, seq: int, spec: GroupSpec) -> Turn:
    values, text = row.values, spec.cells.text
    key = None  # a row whose key is readable joins its conversation even when rejected
    try:
        if row.problem:
            # A ragged row's key cell is usually still there: the conversation it belongs to
            # is rejected with it, rather than written without this turn.
            with contextlib.suppress(RowReject):
                key = text(*cell_of(values, spec.group_by))
            raise RowReject(row.field, row.problem, row.detail)
        # cell_of: a JSON record may hold a key with spaces around it (`"speaker "`).
        key = text(*cell_of(values, spec.group_by))
        role = text(*cell_of(values, spec.role_column)).strip()
        content = _content(*cell_of(values, spec.content_column), spec)
        order = text(*cell_of(values, spec.order_by)).strip() if spec.order_by else ""
    except RowReject as e:
        return Turn(seq, row.row, row.line, f"\x00row{seq}" if key is None else key,
                    field=e.field, reason=e.reason, detail=e.detail, value=e.value, source=values)
    return Turn(seq, row.row, row.line, key, role, content, order, source=values)


def _content(value: Any, column: str, spec: GroupSpec) -> str | None:
    try:
        return spec.cells.text(value, column)
    except RowReject as e:
        if spec.speakers.drop_empty_turns and e.reason in (MISSING, EMPTY):
            return None
        raise


def order_key(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 10), then any other text in text order. Decided
    per value: one stray non-number must not turn every conversation's 10 before its 2."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def iter_grouped(rows: Iterable[Row], spec: GroupSpec, spill_threshold: int) -> Iterator[Outcome]:
    """One Converted/Rejected per conversation, in order of first appearance."""
    collector = _Collector(spill_threshold)
    try:
        for seq, row in enumerate(rows):
            collector.add(to_turn(row, seq, spec))
        build = _builder(spec)
        yield from collector.outcomes(build)
    finally:
        collector.close()


def _builder(spec: GroupSpec) -> Callable[[list[Turn]], Outcome]:
    def sort_key(turn: Turn) -> tuple[int, float, str]:
        return order_key(turn.order)

    def build(turns: list[Turn]) -> Outcome:
        bad = next((t for t in turns if t.reason), None)
        if bad is not None:
            return _reject(turns, bad, bad.field, bad.reason, bad.detail, bad.value)
        if spec.order_by:
            turns = sorted(turns, key=sort_key)  # stable: ties keep input order
        kept = [t for t in turns if t.content is not None]
        try:
            roles = spec.speakers.roles([t.role for t in kept], lambda i: spec.role_column)
        except RowReject as e:
            at = next(t for t in kept if t.role == e.value)
            return _reject(turns, at, e.field, e.reason, e.detail, e.value)
        messages = merge_consecutive(
            [message(r, t.content or "") for r, t in zip(roles, kept, strict=True)])
        if not any(m["role"] == "assistant" for m in messages):
            return _reject(turns, turns[0], spec.role_column, NO_ASSISTANT, "")
        first = min(turns, key=lambda t: t.seq)
        record = {"messages": with_system(messages, spec.system)}
        return Converted(record, first.row, first.line, _group_source(turns),
                         len(turns) - len(kept), rows=len(turns))

    return build


def _reject(turns: list[Turn], at: Turn, field: str | None, reason: str, detail: str,
            value: str | None = None) -> Rejected:
    return Rejected(at.row, at.line, field, reason, _group_source(turns), detail, value,
                    rows=len(turns))


def _group_source(turns: list[Turn]) -> dict[str, Any]:
    ordered = sorted(turns, key=lambda t: t.seq)
    group = None if ordered[0].key.startswith("\x00row") else ordered[0].key
    return {"group": group, "rows": [t.source for t in ordered]}


def merge_consecutive(messages: list[Message]) -> list[Message]:
    """Join consecutive messages of one role with a blank line (the API wants turns)."""
    out: list[Message] = []
    for m in messages:
        if out and out[-1]["role"] == m["role"]:
            out[-1] = message(m["role"], f"{out[-1]['content']}\n\n{m['content']}")
        else:
            out.append(dict(m))
    return out


class _Collector:
    """Holds turns in memory until the threshold, then spills them to hash partitions."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.groups: dict[str, list[Turn]] = {}
        self.count = 0
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.files: list[Any] = []

    def add(self, turn: Turn) -> None:
        if self.tmp is not None:
            self._spill(turn)
            return
        self.groups.setdefault(turn.key, []).append(turn)
        self.count += 1
        if self.count > self.threshold:
            self._start_spilling()

    def _start_spilling(self) -> None:
        remove_stale_spills()  # a killed run's folders; never a live run's (ftprep.io.temps)
        self.tmp = tempfile.TemporaryDirectory(prefix=spill_prefix())
        fault_point("convert:spill")
        self.files = [
            open(os.path.join(self.tmp.name, f"p{i}.jsonl"), "wb")  # noqa: SIM115
            for i in range(SPILL_PARTITIONS)
        ]
        held = sorted((t for turns in self.groups.values() for t in turns), key=lambda t: t.seq)
        self.groups = {}
        for turn in held:
            self._spill(turn)

    def _spill(self, turn: Turn) -> None:
        # crc32, not hash(): stable across runs, so the output never depends on PYTHONHASHSEED.
        part = zlib.crc32(turn.key.encode("utf-8", "surrogatepass")) % SPILL_PARTITIONS
        # A list of the fields, in order (no keys to write and read back per turn); orjson
        # writes them itself: dataclasses.asdict deep-copied every value first (61% of the time).
        self.files[part].write(orjson.dumps(_turn_fields(turn), default=str) + b"\n")

    def outcomes(self, build: Callable[[list[Turn]], Outcome]) -> Iterator[Outcome]:
        if self.tmp is None:
            for turns in self.groups.values():  # dicts keep first-appearance order
                yield build(turns)
            return
        for f in self.files:
            f.close()
        sorted_parts = [self._group_partition(f.name, build) for f in self.files]
        streams = [_read_outcomes(path) for path in sorted_parts]
        for _, outcome in heapq.merge(*streams, key=lambda pair: pair[0]):
            yield outcome

    def _group_partition(self, path: str, build: Callable[[list[Turn]], Outcome]) -> str:
        """Group one partition in memory; write its outcomes sorted by first appearance."""
        groups: dict[str, list[Turn]] = {}
        with open(path, "rb") as f:
            for raw in f:
                turn = Turn(*orjson.loads(raw))
                groups.setdefault(turn.key, []).append(turn)
        os.unlink(path)
        out_path = path + ".out"
        with open(out_path, "wb") as out:
            for turns in groups.values():  # seq order: the file was written in seq order
                out.write(orjson.dumps([turns[0].seq, _encode(build(turns))], default=str))
                out.write(b"\n")
        return out_path

    def close(self) -> None:
        for f in self.files:
            f.close()
        if self.tmp is not None:
            self.tmp.cleanup()


# Each dataclass's fields in order, as a tuple (one C call; orjson writes it as an array).
_turn_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(Turn)))
_converted_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(Converted)))
_rejected_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(Rejected)))


def _encode(outcome: Outcome) -> tuple[int, tuple[Any, ...]]:
    """An outcome as (kind, its fields in order); kind 0: converted, 1: rejected."""
    if isinstance(outcome, Converted):
        return 0, _converted_fields(outcome)
    return 1, _rejected_fields(outcome)


def _read_outcomes(path: str) -> Iterator[tuple[int, Outcome]]:
    with open(path, "rb") as f:
        for raw in f:
            seq, (kind, fields) = orjson.loads(raw)
            yield seq, (Rejected(*fields) if kind else Converted(*fields))
