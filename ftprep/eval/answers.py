"""What an assistant said, in one shape for references (dataset records) and outputs (API replies).

An OpenAI assistant message carries text (`content`, a string or a list of parts), tool calls
(`tool_calls`, or the legacy single `function_call`) and sometimes a `refusal`. Metrics compare
`Answer`s, so they never see the wire format.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One function call; `arguments` is the JSON string exactly as the API sends it."""

    name: str
    arguments: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Answer:
    """An assistant turn. `text` is None when the message has no text content at all (a reply with
    only tool calls, or `content: null`); an empty string is kept as an empty answer."""

    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    refusal: str | None = None  # the model's refusal message, when it refused instead of answering

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "refusal": self.refusal,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """The inverse of `to_dict` (for results and caches read back from JSON)."""
        calls = tuple(ToolCall(str(c["name"]), str(c["arguments"])) for c in data.get("tool_calls") or ())
        return cls(text=data.get("text"), tool_calls=calls, refusal=data.get("refusal"))


def answer_from_message(message: Mapping[str, Any]) -> Answer:
    """The `Answer` in an OpenAI assistant message: a dataset record's final assistant message, or
    an API reply's `choices[0].message.model_dump()`.

    List-of-parts content is joined without a separator (the parts are pieces of one text);
    `refusal` parts go to `Answer.refusal`. Tool-call arguments given as a JSON object instead of
    a string (some trainers' format) are serialised back to a JSON string.
    Raises ValueError naming the field (e.g. `tool_calls[1].function.name`) when the message is
    malformed, so the caller can add the file and line.
    """
    if not isinstance(message, Mapping):
        raise ValueError(f"message: expected an object, got {type(message).__name__}")
    text, part_refusal = _content(message.get("content"))
    refusal = message.get("refusal")
    if refusal is not None and not isinstance(refusal, str):
        raise ValueError(f"refusal: expected a string, got {type(refusal).__name__}")
    return Answer(text=text, tool_calls=_tool_calls(message), refusal=refusal or part_refusal)


def _content(content: Any) -> tuple[str | None, str | None]:
    if content is None or isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise ValueError(f"content: expected a string, a list of parts or null, got {type(content).__name__}")
    texts: list[str] = []
    refusals: list[str] = []
    for i, part in enumerate(content):
        if not isinstance(part, Mapping):
            raise ValueError(f"content[{i}]: expected an object, got {type(part).__name__}")
        key = part.get("type")
        if key not in ("text", "refusal"):
            raise ValueError(f"content[{i}].type: {key!r} is not a text or refusal part")
        into = texts if key == "text" else refusals
        value = part.get(key)
        if not isinstance(value, str):
            raise ValueError(f"content[{i}].{key}: expected a string, got {type(value).__name__}")
        into.append(value)
    return ("".join(texts) if texts else None), ("".join(refusals) if refusals else None)


def _tool_calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    raw = message.get("tool_calls")
    if raw is None:
        legacy = message.get("function_call")
        return () if legacy is None else (_call(legacy, "function_call"),)
    if not isinstance(raw, list):
        raise ValueError(f"tool_calls: expected a list, got {type(raw).__name__}")
    calls = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValueError(f"tool_calls[{i}]: expected an object, got {type(item).__name__}")
        if item.get("function") is None and isinstance(item.get("custom"), Mapping):
            custom = item["custom"]  # custom tools: free-text input instead of JSON arguments
            calls.append(_call({"name": custom.get("name"), "arguments": custom.get("input")},
                               f"tool_calls[{i}].custom"))
        else:
            calls.append(_call(item.get("function"), f"tool_calls[{i}].function"))
    return tuple(calls)


def _call(function: Any, where: str) -> ToolCall:
    if not isinstance(function, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(function).__name__}")
    name = function.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{where}.name: expected a string, got {type(name).__name__}")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        try:
            arguments = json.dumps(arguments, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}.arguments: not JSON-serialisable ({e})") from None
    return ToolCall(name=name, arguments=arguments)
