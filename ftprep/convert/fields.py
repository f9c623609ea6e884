"""Which input field a place in a built record comes from (`Plan.fields`), so that what is
found on the finished record (a record rule such as FT502, the token limit) is reported
where the user can fix it: the column `answer`, not `messages[2].content`.

Only the plans that build records from named cells have one: a plain table (--user,
--assistant, --system, their templates), a preference table (--prompt/--chosen/
--rejected, or columns so named), Alpaca records (`instruction`, `input`, `output`,
`system`, `history[1][0]`) and ShareGPT conversations (`conversations[3].value`,
`system`). A place that no cell filled (a --system-prompt text, a message the record
brought with it) has no input field: the reject keeps the record's path. Asked only for
rejected rows: nothing here runs for a record that is written."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ftprep.convert.records import DEFAULT_CELLS, Cells, RowReject
from ftprep.io.readers.rows import cell_of

# A message of a message list and what follows it: ('messages', '2', '.content').
_MESSAGE = re.compile(r"(messages|input\.messages|preferred_output|non_preferred_output)"
                      r"\[(\d+)\](.*)", re.DOTALL)
_PREFERENCE_LISTS = {"input.messages": "prompt", "preferred_output": "chosen",
                     "non_preferred_output": "rejected"}


@dataclass(frozen=True)
class InputField:
    """Where a reject points: `field`, the input field to name; `note`, the record's path
    (and the template that joined the cells), kept in the reject's detail for context."""

    field: str
    note: str


@dataclass(frozen=True)
class Origin:
    """What one message's text is made of: the `columns` of its cells (one for a column
    option, a template's placeholders in order; none for a fixed text), and `template`, the
    option of the template that joined them (None for a column option). The columns in
    `when_text` are named only where their cell holds text: Alpaca's `input` is joined to
    the instruction only then."""

    columns: tuple[str, ...]
    template: str | None = None
    when_text: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableFields:
    """A plain table's records: one message per origin, in order (system, user, assistant),
    or, as prompt/completion records, the user's and the assistant's text. Alpaca records
    too (user: instruction and input, assistant: output). `cells` tells a cell with text
    from a blank one, as the records were built."""

    origins: tuple[Origin, ...]
    completion: bool = False
    cells: Cells = DEFAULT_CELLS

    def find(self, path: str, values: Any, record: Any) -> InputField | None:
        """The input field of `path` in `record`, built from the row `values`; None when no
        cell of the row filled it."""
        if self.completion:
            at = {"prompt": -2, "completion": -1}.get(path)
        else:
            place = _chat_message(path, record)
            at = None
            if place and _whole_text(place[1]) and len(place[2]) == len(self.origins):
                at = place[0]
        if at is None or not isinstance(values, Mapping):
            return None
        return _from_origin(self.origins[at], path, values, self.cells)


def _from_origin(origin: Origin, path: str, values: Mapping[str, Any],
                 cells: Cells) -> InputField | None:
    if not origin.columns:
        return None
    keys = ", ".join(key for value, key in (cell_of(values, c) for c in origin.columns)
                     if key not in origin.when_text or _has_text(cells, value))
    via = f", from --{origin.template.replace('_', '-')}" if origin.template else ""
    return InputField(keys, f"{path}{via}")


_ALPACA_USER = Origin(("instruction", "input"), when_text=("input",))
_ALPACA_ORIGINS = (_ALPACA_USER, Origin(("output",)))


@dataclass(frozen=True)
class AlpacaFields:
    """Alpaca records, as `alpaca_messages` builds them: the record's `system` (else a
    --system-prompt message, which has no key), two messages per `history` pair
    (`history[i][0]`, `history[i][1]`), then `instruction, input` and `output`; as
    prompt/completion records (only a record without system and history becomes one), the
    last two."""

    completion: bool = False
    cells: Cells = DEFAULT_CELLS

    def find(self, path: str, values: Any, record: Any) -> InputField | None:
        if not isinstance(values, Mapping):
            return None
        if self.completion:
            return TableFields(_ALPACA_ORIGINS, True, self.cells).find(path, values, record)
        place = _chat_message(path, record)
        if place is None or not _whole_text(place[1]):
            return None
        at, _, messages = place
        history = values.get("history")
        turns = 2 * len(history) if isinstance(history, list) else 0
        head = len(messages) - turns - len(_ALPACA_ORIGINS)  # a system message, or none
        if head not in (0, 1):  # not as built (--on-overflow trim-history took turns out)
            return None
        if at < head:
            return InputField("system", path) if _has_text(self.cells, values.get("system")) \
                else None
        if at < head + turns:
            return InputField(f"history[{(at - head) // 2}][{(at - head) % 2}]", path)
        return _from_origin(_ALPACA_ORIGINS[at - head - turns], path, values, self.cells)


@dataclass(frozen=True)
class PreferenceFields:
    """A preference table's records: prompt, chosen and rejected each from one column
    (`columns`: prompt/chosen/rejected -> column), a text or a list of messages.
    Unless `mapped` (no --prompt/--chosen/--rejected given), a row that is already a
    preference record (`preferred_output`) passed through as it was: nothing to map."""

    columns: Mapping[str, str]
    mapped: bool

    def find(self, path: str, values: Any, record: Any) -> InputField | None:
        found = _MESSAGE.fullmatch(path)
        if found is None or found[1] not in _PREFERENCE_LISTS or not isinstance(values, Mapping):
            return None
        if not self.mapped and "preferred_output" in values:
            return None
        option, at, rest = _PREFERENCE_LISTS[found[1]], int(found[2]), found[3]
        value, column = cell_of(values, self.columns[option])
        given = len(value) if isinstance(value, list) else 1
        if option == "prompt":  # a --system-prompt message may have been put first
            built = record.get("input") if isinstance(record, dict) else None
            messages = built.get("messages") if isinstance(built, dict) else None
            at -= (len(messages) if isinstance(messages, list) else given) - given
        if not 0 <= at < given:
            return None
        if isinstance(value, list):
            return InputField(f"{column}[{at}]{rest}", path)
        return InputField(column, path) if _whole_text(rest) else None


@dataclass(frozen=True)
class ShareGPTFields:
    """ShareGPT conversations: message k is the k-th turn kept, after the empty turns
    --drop-empty-turns left out and a system message put first that is no turn (the
    record's `system`, named so, or a --system-prompt text, which has no key); as
    prompt/completion records, the two turns kept. Its text is the turn's `value`, its role
    the turn's `from`, the message itself the turn."""

    cells: Cells = DEFAULT_CELLS
    drop_empty_turns: bool = False
    completion: bool = False

    def find(self, path: str, values: Any, record: Any) -> InputField | None:
        turns = values.get("conversations") if isinstance(values, Mapping) else None
        if not isinstance(turns, list):
            return None
        kept = [i for i, turn in enumerate(turns) if not self.drop_empty_turns
                or (isinstance(turn, Mapping) and _has_text(self.cells, turn.get("value")))]
        key: str | None = ".value"
        if self.completion:
            at = {"prompt": 0, "completion": 1}.get(path)
        else:
            place = _chat_message(path, record)
            if place is None:
                return None
            index, rest, messages = place
            at = index - (len(messages) - len(kept))  # after a system message
            key = _TURN_KEYS.get(rest, ".value" if _whole_text(rest) else None)
            if at == -1 and _whole_text(rest) and _has_text(self.cells, values.get("system")):
                return InputField("system", path)  # the record's own, put first (not a turn)
        if at is None or key is None or not 0 <= at < len(kept):
            return None
        return InputField(f"conversations[{kept[at]}]{key}", path)


_TURN_KEYS = {"": "", ".role": ".from"}  # else the text: `.value`


def _chat_message(path: str, record: Any) -> tuple[int, str, list[Any]] | None:
    """(index, what follows it, the record's messages) when `path` is in a message of the
    chat record `record` (`messages[2].content` -> (2, ".content", ...)); else None."""
    found = _MESSAGE.fullmatch(path)
    messages = record.get("messages") if isinstance(record, dict) else None
    if found is None or found[1] != "messages" or not isinstance(messages, list):
        return None
    return int(found[2]), found[3], messages


def _has_text(cells: Cells, value: Any) -> bool:
    """Whether a cell was taken as text when its record was built (not blank, not a
    no-value spelling such as "nan")."""
    try:
        cells.text(value, "")
    except RowReject:
        return False
    return True


def _whole_text(rest: str) -> bool:
    """Whether the place after a message (`.content`, its parts, or the message itself) is
    the cell's text; `.role` and the like are the plan's, not the cell's."""
    return rest == "" or rest == ".content" or rest.startswith((".content[", ".content."))


Fields = TableFields | PreferenceFields | ShareGPTFields | AlpacaFields
