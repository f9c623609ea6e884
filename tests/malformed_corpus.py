"""Malformed JSONL lines, one per way a line can go wrong, shared by the tests that prove no
command crashes on them (validate, validate --target, export). Data, not tests: one line per
record on purpose (wrapping them would hide what each line is)."""
from __future__ import annotations

import json

from ftprep.formats import detect_format

OK_USER = '{"role": "user", "content": "hi"}'
OK_ASSISTANT = '{"role": "assistant", "content": "hello"}'


def chat_with(message: str = OK_ASSISTANT, extra: str = "") -> str:
    return f'{{"messages": [{OK_USER}, {message}]{extra}}}'


def nested(opening: str, closing: str, depth: int, inner: str = "1") -> str:
    return opening * depth + inner + closing * depth


DEEP_ARGUMENTS = "[" * 100_000

NASTY: dict[str, str] = {
    # nesting
    "array nested 100k deep": "[" * 100_000,
    "object nested 5000 deep": nested('{"a":', "}", 5000),
    "content nested 900 deep": chat_with(
        f'{{"role": "assistant", "content": {nested("[", "]", 900)}}}'
    ),
    "content parts nested 200 deep": chat_with(
        '{"role": "assistant", "content": [' + nested('{"type": ', "}", 200, "null") + "]}"
    ),
    "tool parameters nested 200 deep": chat_with(
        extra=', "tools": [{"type": "function", "function": '
        '{"name": "f", "parameters": ' + nested('{"a":', "}", 200) + "}}]"
    ),
    "arguments nested 100k deep": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": "c", "type": '
        f'"function", "function": {{"name": "f", "arguments": "{DEEP_ARGUMENTS}"}}}}]}}'
    ),
    # numbers
    "huge integer weight": chat_with(
        '{"role": "assistant", "content": "a", "weight": ' + "9" * 4000 + "}"
    ),
    "integer beyond 4300 digits": chat_with(
        '{"role": "assistant", "content": "a", "weight": ' + "9" * 5000 + "}"
    ),
    "2**70 weight": chat_with(
        '{"role": "assistant", "content": "a", "weight": 1180591620717411303424}'
    ),
    "1e400 weight": chat_with('{"role": "assistant", "content": "a", "weight": 1e400}'),
    "-0.0 weight": chat_with('{"role": "assistant", "content": "a", "weight": -0.0}'),
    "NaN weight": chat_with('{"role": "assistant", "content": "a", "weight": NaN}'),
    "Infinity content": chat_with('{"role": "assistant", "content": -Infinity}'),
    "true weight": chat_with('{"role": "assistant", "content": "a", "weight": true}'),
    # strings
    "lone surrogate content": chat_with('{"role": "assistant", "content": "\\ud800"}'),
    "lone surrogate role": chat_with('{"role": "\\udfff", "content": "a"}'),
    "lone surrogate key": chat_with('{"role": "assistant", "\\ud800": 1}'),
    "lone surrogate tool name": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": "\\ud800", "type": '
        '"function", "function": {"name": "\\ud801", "arguments": "{\\"\\\\ud800\\": 1}"}}]}'
    ),
    "NUL and control chars": chat_with('{"role": "assistant", "content": "\\u0000\\u001b[31m"}'),
    # the record itself
    "empty object": "{}",
    "record is array": "[]",
    "record is null": "null",
    "record is number": "12",
    "record is string": '"messages"',
    "both chat and completion keys": '{"messages": [], "prompt": 1, "completion": null}',
    # messages
    "messages is object": '{"messages": {"role": "user", "content": "hi"}}',
    "messages is string": '{"messages": "hi"}',
    "messages is null": '{"messages": null}',
    "messages is empty": '{"messages": []}',
    "messages of nulls": '{"messages": [null, null]}',
    "messages of numbers and arrays": '{"messages": [1, [], "x", true]}',
    "null everywhere": '{"messages": [{"role": null, "content": null, "name": null, "weight": null, '
    '"tool_calls": null, "tool_call_id": null, "function_call": null, "refusal": null}], '
    '"tools": null, "functions": null, "parallel_tool_calls": null}',
    # roles
    "role is object": chat_with('{"role": {"a": 1}, "content": "x"}'),
    "role is array": chat_with('{"role": ["assistant"], "content": "x"}'),
    "role is number": chat_with('{"role": 1, "content": "x"}'),
    "role missing everywhere": '{"messages": [{"content": "a"}, {"content": "b"}]}',
    # content
    "content is object": chat_with('{"role": "assistant", "content": {"text": "x"}}'),
    "content parts of nulls": chat_with('{"role": "assistant", "content": [null, 1, "x"]}'),
    "content part of unknown type": chat_with(
        '{"role": "user", "content": [{"type": "video", "url": "x"}]}'
    ),
    "content part type is object": chat_with('{"role": "user", "content": [{"type": {"a": 1}}]}'),
    "content part type is array": chat_with(
        '{"role": "user", "content": [{"type": ["text"], "text": "x"}]}'
    ),
    "text part without text": chat_with('{"role": "user", "content": [{"type": "text"}]}'),
    "text part with number text": chat_with(
        '{"role": "user", "content": [{"type": "text", "text": 5}]}'
    ),
    "image part without url": chat_with(
        '{"role": "assistant", "content": [{"type": "image_url"}]}'
    ),
    "image_url is string": chat_with(
        '{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}'
    ),
    # tools
    "tool_calls is string": chat_with('{"role": "assistant", "tool_calls": "get_weather()"}'),
    "tool_calls of nulls": chat_with('{"role": "assistant", "tool_calls": [null, 1]}'),
    "tool call function is string": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": "c", "function": "f"}]}'
    ),
    "tool call name and arguments wrong types": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": [], "type": "function", "function": {"name": 1, "arguments": {}}}]}'
    ),
    "arguments is NaN text": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "NaN"}}]}'
    ),
    "tool_call_id is object": chat_with(
        '{"role": "tool", "tool_call_id": {"id": 1}, "content": "x"}'
    ),
    "tool_call_id is array": chat_with('{"role": "tool", "tool_call_id": ["a"], "content": "x"}'),
    "tools is string": chat_with(extra=', "tools": "all"'),
    "tools of nulls": chat_with(extra=', "tools": [null, 1, {"function": null}]'),
    "tool name is array": chat_with(
        '{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": '
        '{"name": "f", "arguments": "{}"}}]}',
        ', "tools": [{"type": "function", "function": {"name": ["f"]}}]',
    ),
    "functions is object": chat_with(extra=', "functions": {"name": "f"}'),
    "function_call is string": chat_with('{"role": "assistant", "function_call": "auto"}'),
    "function_call name null": chat_with(
        '{"role": "assistant", "function_call": {"name": null, "arguments": null}}'
    ),
    "weight is object": chat_with('{"role": "assistant", "content": "a", "weight": {}}'),
    "name is array": chat_with('{"role": "assistant", "content": "a", "name": []}'),
    # preference
    "preference input null": '{"input": null, "preferred_output": null, "non_preferred_output": null}',
    "preference input messages object": '{"input": {"messages": {}}, "preferred_output": [], "non_preferred_output": {}}',
    "preference outputs strings": '{"input": {"messages": ['
    + OK_USER
    + ']}, "preferred_output": "a", '
    '"non_preferred_output": "a"}',
    "preference outputs of nulls": '{"input": {"messages": [null]}, "preferred_output": [null], '
    '"non_preferred_output": [[]]}',
    "preference output role is number": '{"input": {"messages": ['
    + OK_USER
    + ']}, "preferred_output": '
    '[{"role": 1}], "non_preferred_output": [{"role": 1}]}',
    "preference only one key": '{"non_preferred_output": [1]}',
    # completion
    "completion values wrong types": '{"prompt": {"a": 1}, "completion": [1]}',
    "completion values null": '{"prompt": null, "completion": null}',
    "completion with lone surrogate": '{"prompt": "\\ud800", "completion": "\\udc00<|endoftext|>"}',
}


def by_format() -> dict[str, str]:
    """The corpus as one file text per record format (a line of another format than the
    file's is rejected before any check: grouping keeps every line checked)."""
    groups: dict[str, list[str]] = {}
    for line in NASTY.values():
        try:
            fmt = detect_format(json.loads(line))
        except (ValueError, RecursionError):
            fmt = "unparsable"
        groups.setdefault(fmt, []).append(line)
    return {fmt: "".join(f"{line}\n" for line in lines) for fmt, lines in groups.items()}
