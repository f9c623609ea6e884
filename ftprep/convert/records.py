"""Turning one source row into one fine-tuning record: cell text, templates and the adapters
for each source format. An adapter raises `RowReject` to refuse a row (never writes garbage)."""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftprep.errors import UsageError
from ftprep.io.readers import CellError
from ftprep.io.readers.rows import cell_of, resolve_column

# Reasons a row is rejected (the keys of ConvertResult.reasons).
MISSING = "missing"  # absent, null, NaN, or a null-like word such as "nan"
EMPTY = "empty"  # empty or whitespace-only text
NOT_TEXT = "not_text"
NOT_FINITE = "not_finite"  # NaN/Infinity where a number is kept (JSON has neither: null)
NOT_SINGLE_TURN = "not_single_turn"
UNKNOWN_ROLE = "unknown_role"
NO_ASSISTANT = "no_assistant_message"
BAD_MESSAGES = "bad_messages"

# Spellings of "no value" in every input format: pandas' default `na_values` for read_csv
# (pandas.io.parsers: '', '#N/A', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'nan', '<NA>', ...) plus
# "NaT". Writing them as content would train the model to answer "#N/A". Compared after
# trimming, case-insensitively, so CSV, XLSX, Parquet and JSON cells follow one rule.
DEFAULT_NA_VALUES = frozenset(v.casefold() for v in (
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "NaT",
))


@dataclass(frozen=True)
class Cells:
    """How cell values become text: which texts mean "no value" (`na_values`, compared
    trimmed and case-folded). `with_na` builds the set `--na-values` asks for."""

    na_values: frozenset[str] = DEFAULT_NA_VALUES
    # The longest spelling: a text longer once trimmed is none of them (case folding never
    # shortens a text), so most cells skip casefold() and the set lookup.
    longest: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "longest", max(map(len, self.na_values), default=0))

    @classmethod
    def with_na(cls, extra: Sequence[str] = (), *, keep_default: bool = True) -> Cells:
        base = DEFAULT_NA_VALUES if keep_default else frozenset()
        return cls(base | {v.strip().casefold() for v in extra})

    def text(self, value: Any, field: str) -> str:
        """The natural text of a cell, or RowReject when it holds no usable text.
        Integers stay integers ("3"), NaN/None/"#N/A" are missing, blank text is empty."""
        if type(value) is str:  # exactly str: CellError (a spreadsheet error) is a subclass
            trimmed = value.strip()
            if not trimmed:
                raise RowReject(field, EMPTY)
            if len(trimmed) <= self.longest and trimmed.casefold() in self.na_values:
                raise RowReject(field, MISSING, f"the text {trimmed!r} means no value")
            return value
        if isinstance(value, str) and not isinstance(value, CellError):  # other str subclasses
            self.text(str(value), field)  # the same checks on its plain text
            return value
        return _non_string_text(value, field)

    def optional(self, value: Any, field: str) -> str:
        """Like `text`, but an absent or blank value is simply ''."""
        try:
            return self.text(value, field)
        except RowReject as e:
            if e.reason in (MISSING, EMPTY):
                return ""
            raise


DEFAULT_CELLS = Cells()

Message = dict[str, Any]
Renderer = Callable[[Mapping[str, Any]], str]


class RowReject(Exception):
    """This row cannot become a record: which field and why (and, for unknown speakers, the
    value, so the summary can name what --role-map is missing)."""

    def __init__(self, field: str | None, reason: str, detail: str = "",
                 value: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.detail, self.value = field, reason, detail, value


@dataclass(frozen=True, slots=True)
class Converted:
    """A record ready to be written, with where it came from (for a later reject)."""

    record: dict[str, Any]
    row: int = 0
    line: int | None = None
    source: Any = None
    dropped_turns: int = 0  # empty turns left out (--drop-empty-turns)
    rows: int = 1  # input rows this unit stands for (a conversation: its turns)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A unit of input that was not written, with where it came from and why."""

    row: int
    line: int | None
    field: str | None
    reason: str
    source: Any
    detail: str = ""
    value: str | None = None  # the offending value, where naming it helps (unknown speakers)
    rows: int = 1  # input rows this unit stands for (a conversation: its turns)

    def to_dict(self) -> dict[str, Any]:
        out = {"row": self.row, "line": self.line, "field": self.field, "reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        if self.value is not None:
            out["value"] = self.value
        out["source"] = self.source
        return out


Outcome = Converted | Rejected


# ---------------------------------------------------------------- cell values → text


def cell_text(value: Any, field: str) -> str:
    """The natural text of a cell with the default missing-value spellings (`Cells.text`)."""
    return DEFAULT_CELLS.text(value, field)


def _non_string_text(value: Any, field: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise RowReject(field, MISSING)
    if isinstance(value, CellError):
        raise RowReject(field, MISSING, f"the cell holds the spreadsheet error {value}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        raise RowReject(field, NOT_FINITE, f"{value} is not a finite number")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except TypeError:  # a Parquet struct/list holding binary (or another non-JSON value)
            raise RowReject(field, NOT_TEXT, "a nested value holding binary data") from None
        except (ValueError, RecursionError) as e:
            raise RowReject(field, NOT_TEXT, f"a nested value that is not JSON: {e}") from None
    if isinstance(value, bytes):
        raise RowReject(field, NOT_TEXT, "binary value")
    return str(value)


def column_renderer(column: str, cells: Cells = DEFAULT_CELLS) -> Renderer:
    text = cells.text

    def render(values: Mapping[str, Any]) -> str:
        if column in values:  # every row of a header format: no call to cell_of
            return text(values[column], column)
        return text(*cell_of(values, column))

    return render


def constant_renderer(text: str) -> Renderer:
    return lambda values: text


def template_renderer(
    template: str, columns: Sequence[str], option: str, cells: Cells = DEFAULT_CELLS
) -> Renderer:
    """Compile a `{column}` template. Every placeholder must name a column, and its value is
    required in each row. `{{` and `}}` are literal braces."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        hint = "write {{ and }} for literal braces"
        raise UsageError(f"{{{option}}}: bad template: {e}", hint=hint, mentions=(option,)) from None
    column_of: dict[str, str] = {}
    for _, name, spec, conversion in parts:
        if name is not None:
            _check_field_format(option, name, spec or "", conversion)
            column, _trimmed = resolve_column(list(columns), name)
            if column is None:
                shown = "{}" if name == "" else "{" + name + "}"
                raise UsageError(
                    f"{{{option}}}: unknown column {shown} in the template", mentions=(option,),
                    hint=f"available columns: {', '.join(columns)}",
                )
            column_of[name] = column

    def render(values: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, name, spec, conversion in parts:
            out.append(literal)
            if name is not None:
                column = column_of[name]
                text = cells.text(values[column], column) if column in values \
                    else cells.text(*cell_of(values, column))
                if conversion:
                    text = string.Formatter().convert_field(text, conversion)
                out.append(format(text, spec or ""))
        return "".join(out)

    return render


MAX_TEMPLATE_WIDTH = 10_000  # a padding wider than this is a typo, not a layout


def _check_field_format(option: str, name: str, spec: str, conversion: str | None) -> None:
    """Refuse, before any row is read, a format spec or conversion that would fail (or
    allocate gigabytes) on every row: `{q:d}`, `{q:{a}}`, `{q!x}`, `{q:>100000000000}`."""
    shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    if conversion not in (None, "r", "s", "a"):
        raise UsageError(f"{{{option}}}: {shown}: unknown conversion !{conversion} (use !r, !s, !a)",
                         mentions=(option,))
    if "{" in spec or "}" in spec:
        raise UsageError(f"{{{option}}}: {shown}: nested fields are not supported in a format spec",
                         mentions=(option,))
    if any(int(width) > MAX_TEMPLATE_WIDTH for width in re.findall(r"\d+", spec)):
        raise UsageError(f"{{{option}}}: {shown}: width or precision over {MAX_TEMPLATE_WIDTH}",
                         mentions=(option,))
    try:
        format("", spec)  # cell values are text: a spec must be one that text accepts
    except ValueError as e:
        raise UsageError(f"{{{option}}}: {shown}: {e} (cell values are text)",
                         mentions=(option,)) from None


def require_columns(columns: Sequence[str], wanted: Sequence[str], option: str) -> None:
    for name in wanted:
        if name not in columns:
            raise UsageError(
                f"{{{option}}}: unknown column {name!r}", mentions=(option,),
                hint=f"available columns: {', '.join(columns) or '(none)'}",
            )


# ---------------------------------------------------------------- messages


def message(role: str, content: str) -> Message:
    return {"role": role, "content": content}


def with_system(messages: list[Message], system: str | None) -> list[Message]:
    """Prepend a system message unless there is none to add or one is already there."""
    if system is None or (messages and messages[0].get("role") == "system"):
        return messages
    return [message("system", system), *messages]


def to_completion(messages: list[Message]) -> dict[str, str]:
    """A legacy prompt/completion record from exactly one user and one assistant turn."""
    roles = [m.get("role") for m in messages]
    if roles != ["user", "assistant"]:
        raise RowReject("messages", NOT_SINGLE_TURN, f"roles {roles}, need user then assistant")
    return {"prompt": messages[0]["content"], "completion": messages[1]["content"]}


# ---------------------------------------------------------------- source adapters
# Each takes the row's values and returns a list of chat messages (or a whole record).


SYSTEM_CONFLICT = "system_conflict"  # a record's `system` and its opening system turn differ


def alpaca_messages(values: Mapping[str, Any], cells: Cells = DEFAULT_CELLS) -> list[Message]:
    """[system] + the `history` turns + the instruction (and input) + the output: `system`
    (text) is the system prompt, `history` [[user, assistant], ...] the turns before the
    instruction, as LLaMA-Factory's Alpaca format defines them. Either may be absent, null
    or blank (no system, no history)."""
    instruction = cells.text(values.get("instruction"), "instruction")
    extra = cells.optional(values.get("input"), "input")
    user = f"{instruction}\n\n{extra}" if extra else instruction
    system = record_system(values, cells)
    head = [message("system", system)] if system else []
    return [*head, *_history(values.get("history"), cells), message("user", user),
            message("assistant", cells.text(values.get("output"), "output"))]


def record_system(values: Mapping[str, Any], cells: Cells = DEFAULT_CELLS) -> str:
    """The text of an Alpaca or ShareGPT record's own `system` key; '' when it has none
    (absent, null, blank or a no-value spelling). Anything but text is a `not_text` reject:
    a number or a list is no system prompt to guess at."""
    value = values.get("system")
    if _absent(value, cells, "system"):
        return ""
    if not isinstance(value, str):
        raise RowReject("system", NOT_TEXT, f"the system prompt must be text, not {value!r:.40}")
    return value


def _absent(value: Any, cells: Cells, field: str) -> bool:
    """Whether an optional key holds nothing: absent, null, NaN, blank or a no-value text."""
    if isinstance(value, str):
        return not cells.optional(value, field)
    return value is None or (isinstance(value, float) and math.isnan(value))


def _history(value: Any, cells: Cells) -> list[Message]:
    """The messages of an Alpaca `history`: a list of [user, assistant] pairs of strings."""
    if _absent(value, cells, "history"):
        return []
    if not isinstance(value, (list, tuple)):
        raise RowReject("history", BAD_MESSAGES,
                        f"expected a list of [user, assistant] pairs, not {value!r:.40}")
    out: list[Message] = []
    for i, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise RowReject(f"history[{i}]", BAD_MESSAGES,
                            f"expected a [user, assistant] pair, not {pair!r:.40}")
        for j, role in enumerate(TURN_ROLES):
            where = f"history[{i}][{j}]"
            if not isinstance(pair[j], str):
                raise RowReject(where, NOT_TEXT, f"a turn must be text, not {pair[j]!r:.40}")
            out.append(message(role, cells.text(pair[j], where)))
    return out


SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    # Function/tool results become tool messages; one without the tool_call_id the API needs
    # is rejected as FT401 (convert never writes what validate refuses), never given one.
    "function": "tool",
    "tool": "tool",
}
TABLE_ROLES = {"system": "system", "user": "user", "assistant": "assistant"}
TURN_ROLES = ("user", "assistant")  # what --first-speaker alternates
SPEAKERS_REMEMBERED = 1024


@dataclass(frozen=True)
class Speakers:
    """How the speaker values of one conversation become roles. `role_map` first (exact
    value, then case-insensitive), then the format's own names (`known`, lower case); with
    `first_speaker`, the remaining speakers alternate user/assistant in order of first
    appearance (UUID speakers in chat logs). `drop_empty_turns` leaves out empty turns
    instead of rejecting the conversation."""

    known: Mapping[str, str] = field(default_factory=lambda: dict(TABLE_ROLES))
    role_map: Mapping[str, str] = field(default_factory=dict)
    first_speaker: str | None = None
    drop_empty_turns: bool = False
    # speaker value → its mapped role (or None), for the few values a file repeats
    _seen: dict[str, str | None] = field(default_factory=dict, init=False, repr=False,
                                         compare=False)

    def roles(self, speakers: Sequence[str], where: Callable[[int], str]) -> list[str]:
        """The role of each turn; RowReject (at `where(i)`) for a speaker with no role."""
        alternating: dict[str, str] = {}
        out = []
        for i, raw in enumerate(speakers):
            role = self._mapped(raw)
            if role is None and self.first_speaker is not None:
                role = self._alternate(alternating, raw, where(i))
            if role is None:
                raise RowReject(where(i), UNKNOWN_ROLE,
                                f"unknown speaker {raw!r}; map it with --role-map VALUE=ROLE",
                                value=raw)
            out.append(role)
        return out

    def _mapped(self, raw: str) -> str | None:
        if raw in self._seen:
            return self._seen[raw]
        role = self.role_map.get(raw) or self.role_map.get(raw.lower()) \
            or self.known.get(raw.lower())
        if len(self._seen) < SPEAKERS_REMEMBERED:  # bounded: UUID speakers never repeat much
            self._seen[raw] = role
        return role

    def _alternate(self, seen: dict[str, str], raw: str, where: str) -> str:
        if raw not in seen:
            if len(seen) == len(TURN_ROLES):
                raise RowReject(where, UNKNOWN_ROLE, f"a third speaker {raw!r}: --first-speaker "
                                "alternates two; map the others with --role-map", value=raw)
            first = TURN_ROLES.index(self.first_speaker or "user")
            seen[raw] = TURN_ROLES[(first + len(seen)) % len(TURN_ROLES)]
        return seen[raw]


SHAREGPT_SPEAKERS = Speakers(known=SHAREGPT_ROLES)


def sharegpt_messages(
    values: Mapping[str, Any], cells: Cells = DEFAULT_CELLS,
    speakers: Speakers = SHAREGPT_SPEAKERS,
) -> tuple[list[Message], int]:
    """The conversation's messages, and how many empty turns were left out."""
    turns = values.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RowReject("conversations", MISSING if not turns else BAD_MESSAGES)
    names, texts, dropped = [], [], 0
    for i, turn in enumerate(turns):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise RowReject(where, BAD_MESSAGES, "a turn must be an object")
        try:
            text = cells.text(turn.get("value"), f"{where}.value")
        except RowReject as e:
            if speakers.drop_empty_turns and e.reason in (MISSING, EMPTY):
                dropped += 1
                continue
            raise
        names.append((i, cells.optional(turn.get("from"), f"{where}.from").strip()))
        texts.append(text)
    roles = speakers.roles([n for _, n in names], lambda k: f"conversations[{names[k][0]}].from")
    messages = [message(r, t) for r, t in zip(roles, texts, strict=True)]
    return _with_record_system(messages, values, cells, names[0][0] if names else 0), dropped


def _with_record_system(messages: list[Message], values: Mapping[str, Any], cells: Cells,
                        first: int) -> list[Message]:
    """A ShareGPT record's top-level `system` as its opening system message. A conversation
    that opens with a system turn (conversations[`first`]) of the same text keeps that one
    (never two); another text is a `system_conflict` reject: which one to train on is the
    user's call, and dropping either would be silent."""
    system = record_system(values, cells)
    if not system:
        return messages
    if messages and messages[0]["role"] == "system":
        if messages[0]["content"].strip() == system.strip():
            return messages
        raise RowReject("system", SYSTEM_CONFLICT,
                        f"the record's system differs from its system turn conversations[{first}]"
                        "; keep one of them")
    return [message("system", system), *messages]


def completion_messages(values: Mapping[str, Any], cells: Cells = DEFAULT_CELLS) -> list[Message]:
    return [
        message("user", cells.text(values.get("prompt"), "prompt")),
        message("assistant", cells.text(values.get("completion"), "completion")),
    ]


def chat_messages(values: Mapping[str, Any], cells: Cells = DEFAULT_CELLS) -> list[Message]:
    messages = values.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RowReject("messages", MISSING if not messages else BAD_MESSAGES)
    if not all(isinstance(m, dict) for m in messages):
        raise RowReject("messages", BAD_MESSAGES, "every message must be an object")
    return messages


def preference_record(
    values: Mapping[str, Any], system: str | None, cells: Cells = DEFAULT_CELLS,
    columns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """prompt/chosen/rejected (strings, or message lists) → a DPO record; an existing DPO
    record passes through. `columns` maps prompt/chosen/rejected to the columns holding
    them (a table read with --prompt/--chosen/--rejected): a reject names that column,
    the input the user can fix, not the record key it would have filled."""
    if columns is None:
        if "preferred_output" in values:
            return dict(values)
        columns = _PREFERENCE_KEYS
    prompt, prompt_column = cell_of(values, columns["prompt"])
    if isinstance(prompt, list):
        inputs = _message_list(prompt, prompt_column, cells)
    else:
        inputs = [message("user", cells.text(prompt, prompt_column))]
    return {
        "input": {"messages": with_system(inputs, system)},
        "preferred_output": _answer(*cell_of(values, columns["chosen"]), cells),
        "non_preferred_output": _answer(*cell_of(values, columns["rejected"]), cells),
    }


_PREFERENCE_KEYS = {key: key for key in ("prompt", "chosen", "rejected")}


def _answer(value: Any, field: str, cells: Cells) -> list[Message]:
    if isinstance(value, list):
        return _message_list(value, field, cells)
    return [message("assistant", cells.text(value, field))]


def _message_list(value: list[Any], field: str, cells: Cells) -> list[Message]:
    if not value or not all(isinstance(m, dict) and "role" in m for m in value):
        raise RowReject(field, BAD_MESSAGES, "expected a list of {role, content} messages")
    for i, m in enumerate(value):
        cells.text(m.get("content"), f"{field}[{i}].content")
    return value
