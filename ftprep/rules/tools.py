"""FT4xx: tool and function calls. The schema checks their shape; these rules check that
calls, definitions and results fit together."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ftprep.findings import Severity
from ftprep.formats import CHAT, PREFERENCE, json_type
from ftprep.rules.base import (
    Context,
    Hit,
    iter_messages,
    message_lists,
    record_check,
    role_of,
    rule,
)
from ftprep.rules.roles import ROLES

E, W = Severity.ERROR, Severity.WARNING

UNKNOWN_TOOL_CALL_ID = rule(
    "FT401", "unknown-tool-call-id", E, "A tool message's `tool_call_id` matches no earlier "
    "tool call.",
    why="A tool result must answer a call the assistant made before it; an orphan result "
    "is rejected by the platform.",
    fix="Use the `id` of the assistant's tool call as `tool_call_id`, or remove the orphan "
    "tool message.",
)
UNKNOWN_FUNCTION = rule(
    "FT402", "unknown-function", E, "A tool call or function_call names a function that is "
    "not defined in `tools` / `functions`.",
    why="The model learns to call functions it has been shown; calling an undefined one "
    "teaches it to invent tools, and the platform rejects the example.",
    fix="Add the function's definition to `tools` (or `functions`), or fix the name's spelling.",
)
INVALID_ARGUMENTS = rule(
    "FT403", "invalid-arguments", E, "A call's `arguments` is not a JSON string that decodes "
    "to an object.",
    why="`arguments` is the JSON text the model must produce; text that does not decode to "
    "an object teaches the model broken calls.",
    fix="Serialise the arguments object with json.dumps, e.g. \"{\\\"city\\\": \\\"Paris\\\"}\".",
)
UNANSWERED_TOOL_CALL = rule(
    "FT405", "unanswered-tool-call", E, "A tool call has no tool message answering it before "
    "the conversation goes on.",
    why="After an assistant message with tool calls, the API expects one tool message per "
    "call id before anything else; a conversation that moves on without the result is "
    "rejected. (An example may end with the call: that teaches when to call.)",
    fix="Add the tool message with the call's `tool_call_id` and result right after the call, "
    "or remove the call.",
)
DUPLICATE_TOOL_CALL_ID = rule(
    "FT406", "duplicate-tool-call-id", E, "Two tool calls in one example share an `id`.",
    why="A tool result is matched to its call by `tool_call_id`; with two calls under one id "
    "the result cannot be told apart, and the platform rejects the example.",
    fix="Give every tool call in the example its own id (e.g. call_1, call_2, ...) and use it "
    "in the matching tool message.",
)
DEPRECATED_FUNCTIONS = rule(
    "FT404", "deprecated-functions", W, "The example uses the deprecated `functions` / "
    "`function_call` fields.",
    why="`functions` and `function_call` are superseded by `tools` and `tool_calls`; newer "
    "models and endpoints may not accept them.",
    fix="Convert to `tools` (type function) and `tool_calls` with ids, and tool messages with "
    "`tool_call_id`.",
)


def _container(record: dict, fmt: str) -> dict:
    """Where `tools`/`functions` live: the record for chat, `input` for preference data."""
    inner = record.get("input") if fmt == PREFERENCE else record
    return inner if isinstance(inner, dict) else {}


def _tool_calls(message: dict) -> Iterator[tuple[int, dict]]:
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            if isinstance(call, dict):
                yield j, call


def _function_of(call: dict) -> dict:
    function = call.get("function")
    return function if isinstance(function, dict) else {}


def _defined_names(container: dict, key: str) -> set[str] | None:
    """Names defined in `tools` or `functions`; empty when the key is absent; None when a
    definition is malformed (the schema reports it; guessing would give false alarms)."""
    if key not in container:
        return set()
    definitions = container[key]
    if not isinstance(definitions, list):
        return None
    names: set[str] = set()
    for d in definitions:
        spec = _function_of(d) if key == "tools" and isinstance(d, dict) else d
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            return None
        names.add(name)
    return names


@record_check(CHAT, PREFERENCE, plain_silent=True)
def unknown_tool_call_id(record: dict, ctx: Context) -> Iterator[Hit]:
    earlier: set[str] = set()  # input calls stay known in the preference outputs
    for path, messages in message_lists(record, ctx.format):
        seen = set(earlier)
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            seen.update(c["id"] for _, c in _tool_calls(message) if isinstance(c.get("id"), str))
            if role_of(message) != "tool":
                continue
            call_id = message.get("tool_call_id")
            if "tool_call_id" not in message:  # null or another type is the schema's FT201
                yield Hit(UNKNOWN_TOOL_CALL_ID.code, f"{path}[{i}]",
                          "tool message without tool_call_id")
            elif isinstance(call_id, str) and call_id not in seen:
                yield Hit(UNKNOWN_TOOL_CALL_ID.code, f"{path}[{i}].tool_call_id",
                          f"tool_call_id {call_id!r} matches no earlier tool call")
        if path == "input.messages":
            earlier = seen


@record_check(CHAT, PREFERENCE, plain_silent=True)
def duplicate_tool_call_id(record: dict, ctx: Context) -> Iterator[Hit]:
    earlier: dict[str, str] = {}  # the input's calls precede each preference output
    for path, messages in message_lists(record, ctx.format):
        first = dict(earlier)  # call id -> JSON path of its first use
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            for j, call in _tool_calls(message):
                call_id, here = call.get("id"), f"{path}[{i}].tool_calls[{j}]"
                if not isinstance(call_id, str) or not call_id:
                    continue  # the schema reports a missing or empty id
                if call_id in first:
                    yield Hit(DUPLICATE_TOOL_CALL_ID.code, f"{here}.id",
                              f"tool call id {call_id!r} is already used by {first[call_id]}")
                else:
                    first[call_id] = here
        if path == "input.messages":
            earlier = first


@record_check(CHAT, PREFERENCE, plain_silent=True)
def unanswered_tool_call(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, messages in message_lists(record, ctx.format):
        yield from _unanswered_in(path, messages)


def _unanswered_in(path: str, messages: list) -> Iterator[Hit]:
    """Calls still unanswered when the next non-tool message comes. A result whose id
    matches no earlier call (missing, misspelt, or before its call) is FT401's finding: the
    calls it was probably meant to answer are not reported again."""
    pending: dict[str, str] = {}  # call id -> JSON path of the call
    calls: set[str] = set()  # every call id so far
    orphans: set[str] = set()  # result ids that came before any call with that id
    orphan_in_batch = False
    for i, message in enumerate(messages):
        role = role_of(message)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if isinstance(call_id, str) and call_id in calls:
                pending.pop(call_id, None)
            else:
                orphan_in_batch = True
                if isinstance(call_id, str):
                    orphans.add(call_id)
            continue
        if role not in ROLES:
            continue  # FT301/FT201 reports it; it may be a misspelt tool message
        if not orphan_in_batch:
            for call_id, call_path in pending.items():
                if call_id not in orphans:
                    yield Hit(UNANSWERED_TOOL_CALL.code, call_path,
                              f"tool call {call_id!r} has no tool result before {path}[{i}]")
        pending.clear()
        orphan_in_batch = False
        if role != "assistant":
            continue  # calls on another role are FT308's finding, not an unanswered call
        for j, call in _tool_calls(message):
            if isinstance(call.get("id"), str):
                pending[call["id"]] = f"{path}[{i}].tool_calls[{j}].id"
                calls.add(call["id"])


def _unknown(name: Any, defined: set[str] | None, key: str) -> str | None:
    """Why calling `name` is wrong, or None when it is fine (or cannot be judged)."""
    if not isinstance(name, str) or defined is None or name in defined:
        return None
    if not defined:
        return f"calls {name!r} but the example defines no `{key}`"
    return f"calls {name!r}, which is not in `{key}` ({', '.join(sorted(defined))})"


@record_check(CHAT, PREFERENCE, plain_silent=True)
def unknown_function(record: dict, ctx: Context) -> Iterator[Hit]:
    container = _container(record, ctx.format)
    tools, functions = _defined_names(container, "tools"), _defined_names(container, "functions")
    for path, message in iter_messages(record, ctx.format):
        for j, call in _tool_calls(message):
            problem = _unknown(_function_of(call).get("name"), tools, "tools")
            if problem:
                yield Hit(UNKNOWN_FUNCTION.code, f"{path}.tool_calls[{j}].function.name", problem)
        function_call = message.get("function_call")
        if isinstance(function_call, dict):
            problem = _unknown(function_call.get("name"), functions, "functions")
            if problem:
                yield Hit(UNKNOWN_FUNCTION.code, f"{path}.function_call.name", problem)


def arguments_problem(arguments: Any) -> str | None:
    """Why a call's `arguments` is unusable, or None. Non-strings are the schema's (FT201)."""
    if not isinstance(arguments, str):
        return None
    try:
        value = json.loads(arguments, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        detail = e.msg if isinstance(e, json.JSONDecodeError) else str(e) or "too deeply nested"
        return f"arguments are not valid JSON ({detail})"
    if not isinstance(value, dict):
        return f"arguments must encode a JSON object, not {json_type(value)}"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@record_check(CHAT, PREFERENCE, plain_silent=True)
def invalid_arguments(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        for j, call in _tool_calls(message):
            problem = arguments_problem(_function_of(call).get("arguments"))
            if problem:
                yield Hit(INVALID_ARGUMENTS.code, f"{path}.tool_calls[{j}].function.arguments",
                          problem)
        function_call = message.get("function_call")
        if isinstance(function_call, dict):
            problem = arguments_problem(function_call.get("arguments"))
            if problem:
                yield Hit(INVALID_ARGUMENTS.code, f"{path}.function_call.arguments", problem)


@record_check(CHAT, PREFERENCE, plain_silent=True)
def deprecated_functions(record: dict, ctx: Context) -> Iterator[Hit]:
    """One finding per example, at the first deprecated field: the fix is one conversion."""
    # Only well-formed deprecated fields: a malformed one is the schema's finding first.
    if ctx.format == CHAT and isinstance(record.get("functions"), list):
        yield Hit(DEPRECATED_FUNCTIONS.code, "functions", "`functions` is deprecated; use `tools`")
        return
    for path, message in iter_messages(record, ctx.format):
        if isinstance(message.get("function_call"), dict):
            yield Hit(DEPRECATED_FUNCTIONS.code, f"{path}.function_call",
                      "`function_call` is deprecated; use `tool_calls`")
            return
        if role_of(message) == "function":
            yield Hit(DEPRECATED_FUNCTIONS.code, f"{path}.role",
                      "role `function` is deprecated; use `tool` with `tool_call_id`")
            return
