"""Turning one source row into one fine-tuning record: cell text, templates and the adapters
for each source format. An adapter raises `RowReject` to refuse a row (never writes garbage)."""
from __future__ import annotations

import datetime as _dt
import json
import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ftprep.errors import UsageError
from ftprep.io.readers import CellError

# Reasons a row is rejected (the keys of ConvertResult.reasons).
MISSING = "missing"  # absent, null, NaN, or a null-like word such as "nan"
EMPTY = "empty"  # empty or whitespace-only text
NOT_TEXT = "not_text"
NOT_SINGLE_TURN = "not_single_turn"
UNKNOWN_ROLE = "unknown_role"
NO_ASSISTANT = "no_assistant_message"
BAD_MESSAGES = "bad_messages"

# Spreadsheet/pandas spellings of "no value": writing them as content would train the model
# to answer "nan", so they count as missing.
_NULL_WORDS = frozenset({"nan", "none", "nat", "null", "<na>"})

Message = dict[str, Any]
Renderer = Callable[[Mapping[str, Any]], str]


class RowReject(Exception):
    """This row cannot become a record: which field and why."""

    def __init__(self, field: str | None, reason: str, detail: str = "") -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.detail = field, reason, detail


@dataclass(frozen=True, slots=True)
class Converted:
    """A record ready to be written, with where it came from (for a later reject)."""

    record: dict[str, Any]
    row: int = 0
    line: int | None = None
    source: Any = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A unit of input that was not written, with where it came from and why."""

    row: int
    line: int | None
    field: str | None
    reason: str
    source: Any
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"row": self.row, "line": self.line, "field": self.field, "reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        out["source"] = self.source
        return out


Outcome = Converted | Rejected


# ---------------------------------------------------------------- cell values → text


def cell_text(value: Any, field: str) -> str:
    """The natural text of a cell, or RowReject when it holds no usable text.
    Integers stay integers ("3"), NaN/None/"nan" are missing, blank text is empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise RowReject(field, MISSING)
    if isinstance(value, CellError):
        raise RowReject(field, MISSING, f"the cell holds the spreadsheet error {value}")
    if isinstance(value, str):
        if not value.strip():
            raise RowReject(field, EMPTY)
        if value.strip().lower() in _NULL_WORDS:
            raise RowReject(field, MISSING, f"the text {value.strip()!r} means no value")
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        raise RowReject(field, NOT_TEXT, "binary value")
    return str(value)


def optional_text(value: Any, field: str) -> str:
    """Like cell_text, but an absent or blank value is simply ''."""
    try:
        return cell_text(value, field)
    except RowReject as e:
        if e.reason in (MISSING, EMPTY):
            return ""
        raise


def column_renderer(column: str) -> Renderer:
    return lambda values: cell_text(values.get(column), column)


def constant_renderer(text: str) -> Renderer:
    return lambda values: text


def template_renderer(template: str, columns: Sequence[str], option: str) -> Renderer:
    """Compile a `{column}` template. Every placeholder must name a column, and its value is
    required in each row. `{{` and `}}` are literal braces."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        hint = "write {{ and }} for literal braces"
        raise UsageError(f"{option}: bad template: {e}", hint=hint) from None
    known = set(columns)
    for _, name, _, _ in parts:
        if name is not None and name not in known:
            shown = "{}" if name == "" else "{" + name + "}"
            raise UsageError(
                f"{option}: unknown column {shown} in the template",
                hint=f"available columns: {', '.join(columns)}",
            )

    def render(values: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, name, spec, conversion in parts:
            out.append(literal)
            if name is not None:
                text = cell_text(values.get(name), name)
                if conversion:
                    text = string.Formatter().convert_field(text, conversion)
                out.append(format(text, spec or ""))
        return "".join(out)

    return render


def require_columns(columns: Sequence[str], wanted: Sequence[str], option: str) -> None:
    for name in wanted:
        if name not in columns:
            raise UsageError(
                f"{option}: unknown column {name!r}",
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


def alpaca_messages(values: Mapping[str, Any]) -> list[Message]:
    instruction = cell_text(values.get("instruction"), "instruction")
    extra = optional_text(values.get("input"), "input")
    user = f"{instruction}\n\n{extra}" if extra else instruction
    return [message("user", user), message("assistant", cell_text(values.get("output"), "output"))]


SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    # Function/tool results become tool messages; `ftprep validate` reports any that lack the
    # tool_call_id the API needs, rather than this step inventing one.
    "function": "tool",
    "tool": "tool",
}


def sharegpt_messages(values: Mapping[str, Any]) -> list[Message]:
    turns = values.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RowReject("conversations", MISSING if not turns else BAD_MESSAGES)
    out = []
    for i, turn in enumerate(turns):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise RowReject(where, BAD_MESSAGES, "a turn must be an object")
        speaker = optional_text(turn.get("from"), f"{where}.from").strip().lower()
        if speaker not in SHAREGPT_ROLES:
            raise RowReject(f"{where}.from", UNKNOWN_ROLE, f"unknown speaker {speaker!r}")
        out.append(message(SHAREGPT_ROLES[speaker], cell_text(turn.get("value"), f"{where}.value")))
    return out


def completion_messages(values: Mapping[str, Any]) -> list[Message]:
    return [
        message("user", cell_text(values.get("prompt"), "prompt")),
        message("assistant", cell_text(values.get("completion"), "completion")),
    ]


def chat_messages(values: Mapping[str, Any]) -> list[Message]:
    messages = values.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RowReject("messages", MISSING if not messages else BAD_MESSAGES)
    if not all(isinstance(m, dict) for m in messages):
        raise RowReject("messages", BAD_MESSAGES, "every message must be an object")
    return messages


def preference_record(values: Mapping[str, Any], system: str | None) -> dict[str, Any]:
    """prompt/chosen/rejected (strings, or message lists) → a DPO record; an existing DPO
    record passes through."""
    if "preferred_output" in values:
        return dict(values)
    prompt = values.get("prompt")
    if isinstance(prompt, list):
        inputs = _message_list(prompt, "prompt")
    else:
        inputs = [message("user", cell_text(prompt, "prompt"))]
    return {
        "input": {"messages": with_system(inputs, system)},
        "preferred_output": _answer(values.get("chosen"), "chosen"),
        "non_preferred_output": _answer(values.get("rejected"), "rejected"),
    }


def _answer(value: Any, field: str) -> list[Message]:
    if isinstance(value, list):
        return _message_list(value, field)
    return [message("assistant", cell_text(value, field))]


def _message_list(value: list[Any], field: str) -> list[Message]:
    if not value or not all(isinstance(m, dict) and "role" in m for m in value):
        raise RowReject(field, BAD_MESSAGES, "expected a list of {role, content} messages")
    for i, m in enumerate(value):
        cell_text(m.get("content"), f"{field}[{i}].content")
    return value
