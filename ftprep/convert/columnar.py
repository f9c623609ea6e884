"""`convert`'s columnar path: Arrow record batches (Parquet) become JSONL lines without a
Python object per row, when every record is made of cells copied verbatim.

It applies when the source is Arrow-native (`Table.arrow`), the plan is a plain table mapping
(`Plan.cell_columns`: --user/--assistant/--system columns, no templates) and no option works on
each record in Python (--metadata, --redact, --max-tokens, --model); otherwise convert takes
the per-row path for the whole file.

Per batch, vectorized checks (pyarrow.compute) mark the rows whose outcome is certain: each of
their cells is a string that the per-row path takes as it is (not null, and longer once
trimmed than any "no value" spelling, so neither empty nor missing) and that no record rule
can object to (no "<|", so no special token: FT502; FT501 is the emptiness already excluded).
Those rows become lines by joining the line template's fixed parts with the cells, escaped
exactly as orjson escapes them. Every other row goes through the per-row path (`Plan.make` and
the same record checks), so its reject, reason and position are the per-row path's.

The template comes from a probe: one made-up row whose cells are marked texts goes through the
per-row path; where the marks land in its line are the gaps the cells fill. If the probe is
not written as one line holding each mark verbatim (a record rule objects to the record's
shape, a constant system prompt is empty...), the whole file takes the per-row path, which
then reports every row as that path always did.

Memory: one batch (`BATCH_ROWS` rows) and about three copies of its text (escaped, joined).
"""
from __future__ import annotations

import array
import functools
import itertools
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ftprep.convert.plan import ConvertOptions, Plan
from ftprep.convert.records import Converted, Outcome
from ftprep.errors import FtprepError
from ftprep.io.readers import Row

BATCH_ROWS = 4096  # rows per record batch on this path (per-row Parquet reads 1,024)

# What `str.strip()` removes: every character for which `str.isspace()` holds
# (tests/test_convert_columnar.py checks this against all of Unicode).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# A row whose cell holds one of these needs escaping in JSON (orjson does it) or may hold a
# special token ("<|"); RE2 syntax (pyarrow.compute).
_ESCAPE_OR_TOKEN = r'[\x00-\x1f"\\<]'
_MARK = " Ftprep-Cell-{} "  # probe cells: changed by any strip, case change or escaping

Checked = Callable[[Iterator[Outcome]], Iterator[Outcome]]


@dataclass(frozen=True, slots=True)
class Lines:
    """Finished JSONL lines of `count` consecutive input rows, written as they are."""

    data: bytes
    count: int


@dataclass(frozen=True)
class LineTemplate:
    """A record's JSON line as fixed text around cells: parts[0] cell parts[1] cell ... ."""

    parts: tuple[str, ...]
    cells: tuple[int, ...]  # index into the plan's cell columns of each gap's cell


def needs_record_options(options: ConvertOptions) -> bool:
    """Options that change each record in Python: they keep the per-row path."""
    return bool(options.metadata or options.redact or options.max_tokens is not None
                or options.model is not None)


def columnar_units(plan: Plan, options: ConvertOptions,
                   checked: Checked) -> Iterator[Lines | Outcome] | None:
    """The conversion's output units in input order (`Lines` for certain rows, outcomes for
    the rest), or None when the columnar path does not apply. `checked` is the per-row path's
    record checks, applied to the outcomes of the rows that take it."""
    if plan.table.arrow is None or plan.cell_columns is None or needs_record_options(options):
        return None
    template = line_template(plan, checked)
    if template is None:
        return None
    return _units(plan, template, NoValue(options.cells.na_values), checked)


def line_template(plan: Plan, checked: Checked) -> LineTemplate | None:
    """The template of the plan's lines, from one probe row through the per-row path."""
    assert plan.cell_columns is not None
    marks = [_MARK.format(i) for i in range(len(plan.cell_columns))]
    values: dict[str, Any] = dict.fromkeys(plan.table.columns)
    values.update(zip(plan.cell_columns, marks, strict=True))
    outcomes = list(checked(iter([plan.row_outcome(Row(0, None, values))])))
    if len(outcomes) != 1 or not isinstance(outcomes[0], Converted):
        return None
    line = orjson.dumps(outcomes[0].record).decode() + "\n"
    pattern = re.compile("|".join(re.escape(m) for m in marks))
    parts = pattern.split(line)
    cells = tuple(marks.index(m) for m in pattern.findall(line))
    if sorted(set(cells)) != list(range(len(marks))):
        return None  # a cell not written verbatim: transformed, or left out
    return LineTemplate(tuple(parts), cells)


class NoValue:
    """The "no value" spellings (`Cells.na_values`, trimmed and case-folded) as the checks
    use them: the longest one's length, and all of them as a pyarrow array."""

    def __init__(self, spellings: Iterable[str]) -> None:
        self.spellings = sorted(spellings)
        self.longest = max(map(len, self.spellings), default=0)
        self.array = _utf8_array([v.encode() for v in self.spellings])


def _units(plan: Plan, template: LineTemplate, na: NoValue,
           checked: Checked) -> Iterator[Lines | Outcome]:
    source, first = plan.table.arrow, 1
    for batch in source.batches(BATCH_ROWS):
        plan.rows_seen += batch.num_rows
        lines, certain = _batch_lines(batch, plan.cell_columns or (), template, na)
        others = _false_positions(certain)
        outcomes = checked(plan.row_outcome(row) for row in source.rows(batch, first, others))
        start = 0
        for i, outcome in zip(others.to_pylist(), outcomes, strict=True):
            if i > start:
                yield _lines(lines, start, i)
            yield outcome
            start = i + 1
        if batch.num_rows > start:
            yield _lines(lines, start, batch.num_rows)
        first += batch.num_rows


def _batch_lines(batch: Any, columns: Iterable[str], template: LineTemplate,
                 na: NoValue) -> tuple[Any, Any]:
    """(the batch's lines, null where not certain; the mask of certain rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        batch.validate(full=True)  # text that is not UTF-8: the per-row path names the row
    except pa.ArrowInvalid:
        return None, pa.repeat(_consts().false, batch.num_rows)
    escaped, certain = [], pa.repeat(_consts().true, batch.num_rows)
    for name in columns:
        text, ok = _cell_texts(batch.column(name), na)
        escaped.append(text)
        certain = pc.and_(certain, ok)
    if not pc.any(certain).as_py():
        return None, certain
    parts = _texts(template.parts)
    pieces: list[Any] = []
    for i, cell in enumerate(template.cells):
        pieces += [parts[i], escaped[cell]]
    pieces.append(parts[-1])
    return pc.binary_join_element_wise(*pieces, _consts().empty), certain


def _cell_texts(column: Any, na: NoValue) -> tuple[Any, Any]:
    """(the column's texts JSON-escaped, the mask of rows whose text is certainly written as
    it is). Columns that do not hold text leave every row to the per-row path."""
    import pyarrow as pa
    import pyarrow.compute as pc

    consts = _consts()
    text = _as_string(column)
    if text is None:
        return pa.nulls(len(column), pa.string()), pa.repeat(consts.false, len(column))
    lengths = pc.utf8_length(text)
    edges = pc.or_(pc.is_in(pc.utf8_slice_codeunits(text, 0, 1), value_set=consts.whitespace),
                   pc.is_in(pc.utf8_slice_codeunits(text, -1), value_set=consts.whitespace))
    edges = pc.fill_null(edges, consts.false)
    if pc.any(edges).as_py():  # only these need trimming to know their length once trimmed
        trimmed = pc.utf8_trim(pc.filter(text, edges), characters=WHITESPACE)
        lengths = pc.replace_with_mask(lengths, edges, pc.utf8_length(trimmed))
    # Longer once trimmed than every "no value" spelling: neither empty nor missing (case
    # folding never shortens a text). Shorter ones are compared, when ASCII (where case
    # folding is lower-casing); other short texts are left to the per-row path.
    longest = _int32(na.longest)
    certain = pc.fill_null(pc.greater(lengths, longest), consts.false)
    short = pc.fill_null(pc.less_equal(lengths, longest), consts.false)
    if pc.any(short).as_py():
        trimmed = pc.utf8_trim(pc.filter(text, short), characters=WHITESPACE)
        named = pc.is_in(pc.ascii_lower(trimmed), value_set=na.array)
        usable = pc.and_(pc.and_(pc.string_is_ascii(trimmed),
                                 pc.greater(pc.utf8_length(trimmed), _int32(0))),
                         pc.invert(named))
        certain = pc.replace_with_mask(certain, short, usable)
    if not _may_need_escaping(text):
        return text, certain
    marked = pc.fill_null(pc.match_substring_regex(text, _ESCAPE_OR_TOKEN), consts.false)
    if pc.any(marked).as_py():
        subset = pc.filter(text, marked)
        tokens = pc.replace_with_mask(pa.repeat(consts.false, len(text)), marked,
                                      pc.match_substring(subset, "<|"))
        certain = pc.and_not(certain, tokens)
        # orjson's escaping, byte for byte: one list dumped, then split at its separators
        # ('","' cannot occur inside an escaped string, where every quote is \").
        bodies = orjson.dumps(subset.to_pylist())[2:-2].split(b'","')
        text = pc.replace_with_mask(text, marked, _utf8_array(bodies))
    return text, certain


def _may_need_escaping(text: Any) -> bool:
    """Whether any text of the column holds a byte of `_ESCAPE_OR_TOKEN`: one scan of the
    column's bytes (memchr and a SIMD minimum, many times faster than the regular expression,
    which then runs only on columns that have one)."""
    import numpy as np

    _, offsets, data = text.buffers()
    if data is None or len(text) == 0:
        return False
    at = memoryview(offsets).cast("i")
    raw = bytes(memoryview(data)[at[text.offset]:at[text.offset + len(text)]])
    if not raw:
        return False
    return bool(np.frombuffer(raw, np.uint8).min() < 0x20) or any(
        byte in raw for byte in (b'"', b"\\", b"<"))


def _as_string(column: Any) -> Any:
    """The column as a pyarrow string array, or None when it does not hold text."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    if pa.types.is_string(kind):
        return column
    if pa.types.is_large_string(kind) or getattr(pa.types, "is_string_view", bool)(kind):
        return column.cast(pa.string())
    return None


# Arrays and scalars are built from buffers, never from Python values: pyarrow converts Python
# values through a check that imports pandas (0.4 s), which nothing here needs.


def _utf8_array(items: list[bytes]) -> Any:
    import pyarrow as pa

    offsets = array.array("i", [0])
    offsets.extend(itertools.accumulate(map(len, items)))
    return pa.StringArray.from_buffers(len(items), pa.py_buffer(offsets.tobytes()),
                                       pa.py_buffer(b"".join(items)))


def _texts(items: Iterable[str]) -> list[Any]:
    """pyarrow string scalars."""
    column = _utf8_array([t.encode() for t in items])
    return [column[i] for i in range(len(column))]


def _int32(value: int) -> Any:
    import pyarrow as pa

    return pa.Array.from_buffers(pa.int32(), 1, [None, pa.py_buffer(struct.pack("=i", value))])[0]


@dataclass(frozen=True)
class _Constants:
    false: Any
    true: Any
    empty: Any
    whitespace: Any  # the WHITESPACE characters, one per item


@functools.cache
def _consts() -> _Constants:
    import pyarrow as pa

    flags = pa.Array.from_buffers(pa.bool_(), 2, [None, pa.py_buffer(b"\x02")])
    return _Constants(flags[0], flags[1], _texts([""])[0], _utf8_array(
        [c.encode() for c in WHITESPACE]))


def _false_positions(mask: Any) -> Any:
    """The positions where `mask` is false, as a pyarrow array."""
    import pyarrow.compute as pc

    return pc.indices_nonzero(pc.invert(mask))


def _lines(lines: Any, start: int, stop: int) -> Lines:
    """Rows start..stop-1 of the joined lines, as one piece of output."""
    _, offsets, data = lines.buffers()
    at = memoryview(offsets).cast("i")
    begin, end = at[lines.offset + start], at[lines.offset + stop]
    chunk = bytes(memoryview(data)[begin:end])
    written = chunk.count(b"\n")
    if written != stop - start:  # one row, one line: checked, not assumed
        raise FtprepError(f"{stop - start} rows became {written} lines; nothing was written "
                          "(a bug in ftprep: please report it)")
    return Lines(chunk, stop - start)
