"""Test examples for `eval`: what each candidate is asked, and the answer it is measured against.

Chat records: the prompt is every message before the final assistant message (system prompt
included) and the reference is that message (its text or its tool calls); the record's `tools`
travel with the request. Preference records: the prompt is `input`, the reference
`preferred_output`. Records without a final assistant message are skipped and reported with
their line, never dropped silently.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import InputError
from ftprep.eval.answers import Answer, answer_from_message
from ftprep.io.jsonl import iter_records

Message = dict[str, Any]


@dataclass(frozen=True)
class Example:
    """One test case: `line` of the input file, the prompt messages, the reference message."""

    line: int
    prompt: tuple[Message, ...]
    reference_message: Message
    tools: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # tool_choice, parallel_tool_calls

    @property
    def reference(self) -> Answer:
        return answer_from_message(self.reference_message)


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class ExampleSet:
    path: str
    examples: list[Example]
    skipped: list[Skipped]


_REQUEST_EXTRAS = ("tool_choice", "parallel_tool_calls")


def example_from_record(record: Any, line: int) -> Example | str:
    """The example in one record, or the reason it has none."""
    if not isinstance(record, dict):
        return "not a JSON object"
    found = (_from_preference(record, line) if "input" in record and "preferred_output" in record
             else _from_chat(record, line))
    if isinstance(found, str):
        return found
    try:  # scoring reads the reference: a malformed one is this record's reason, not a crash
        answer_from_message(found.reference_message)
    except ValueError as e:
        return f"the reference (final assistant message) is malformed: {e}"
    return found


def _from_chat(record: dict[str, Any], line: int) -> Example | str:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    last = _final_assistant(messages)
    if last is None:
        return "no final assistant message to use as the reference"
    prompt = tuple(m for m in messages[:last] if isinstance(m, dict))
    if not prompt:
        return "nothing before the final assistant message to send as the prompt"
    tools = record.get("tools")
    extra = {k: record[k] for k in _REQUEST_EXTRAS if k in record}
    return Example(line, prompt, messages[last], tuple(tools) if isinstance(tools, list) else (),
                   extra)


def _final_assistant(messages: list[Any]) -> int | None:
    """Index of the last message if it is the assistant's; trailing weight-0 turns included."""
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        return len(messages) - 1
    return None


def _from_preference(record: dict[str, Any], line: int) -> Example | str:
    source = record.get("input")
    messages = source.get("messages") if isinstance(source, dict) else None
    preferred = record.get("preferred_output")
    if not isinstance(messages, list) or not messages:
        return "preference record without input.messages"
    if not isinstance(preferred, list) or not preferred or not isinstance(preferred[-1], dict):
        return "preference record without a preferred_output message"
    assert isinstance(source, dict)  # messages came from it
    tools = source.get("tools")
    extra = {k: source[k] for k in _REQUEST_EXTRAS if k in source}
    return Example(line, tuple(m for m in messages if isinstance(m, dict)), preferred[-1],
                   tuple(tools) if isinstance(tools, list) else (), extra)


def message_text(message: dict[str, Any]) -> str:
    """A message as readable text: its content (text parts joined) and one `→ name(arguments)`
    line per tool call; "(empty)" when it has neither. For prompts shown to people and judges."""
    content = message.get("content")
    if isinstance(content, list):  # prompts are not checked: skip what is not text
        content = "".join(p["text"] for p in content
                          if isinstance(p, dict) and isinstance(p.get("text"), str))
    lines = [content] if isinstance(content, str) and content else []
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            function = {}
        lines.append(f"→ {function.get('name')}({function.get('arguments')})")
    return "\n".join(lines).strip() or "(empty)"


def iter_examples(path: str | Path) -> Iterator[Example | Skipped]:
    """Every record of `path` as an Example or a Skipped (with its line and reason)."""
    for line, record in iter_records(path):
        found = example_from_record(record, line)
        yield Skipped(line, found) if isinstance(found, str) else found


def read_examples(path: str | Path, limit: int | None = None) -> ExampleSet:
    """The first `limit` examples of `path` (all when None) and the records skipped on the way.
    Examples are held in memory: eval needs them again to score and report (about the size of
    the test split, which is small by design)."""
    examples: list[Example] = []
    skipped: list[Skipped] = []
    for item in iter_examples(path):
        if limit is not None and len(examples) >= limit:
            break
        (skipped if isinstance(item, Skipped) else examples).append(item)  # type: ignore[arg-type]
    if not examples and not skipped:
        raise InputError("no records", path=str(path))
    return ExampleSet(str(path), examples, skipped)


def example_at_line(path: str | Path, line: int) -> Example:
    """The example on physical line `line` of `path` (for `ftprep try --from FILE --line N`)."""
    for found_line, record in iter_records(path):
        if found_line == line:
            found = example_from_record(record, line)
            if isinstance(found, str):
                raise InputError(found, path=str(path), line=line)
            return found
        if found_line > line:
            break
    raise InputError(f"no record on line {line}", path=str(path))
