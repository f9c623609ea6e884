"""TRL: conversational `messages` (SFTTrainer) and `prompt`/`chosen`/`rejected` (DPOTrainer).

Chat templates read a tool call's `arguments` as an object (OpenAI stores a JSON string), so
they are parsed. TRL has no per-message weight: a weight-0 assistant turn needs the user's
choice (`weight0`): drop the example, or keep it as context, which writes every example as
conversational prompt/completion (TRL then trains on the completion only: the assistant
turns after the last user or tool message)."""
from __future__ import annotations

from typing import Any

from ftprep.formats import PREFERENCE
from ftprep.targets.base import (
    ExportContext,
    NoCompanions,
    Refuse,
    keep_extra_keys,
    messages_of,
    parsed_arguments,
    require_weight0_choice,
)

_KEPT = ("role", "content", "tool_calls", "tool_call_id", "name")
FORMAT_KEYS = ("messages", "tools", "input", "preferred_output", "non_preferred_output")


def trl_message(m: dict, path: str, ctx: ExportContext) -> dict:
    """One OpenAI message as chat templates expect it: arguments as objects, the deprecated
    function_call as a tool call, a refusal as content; weight and unknown keys dropped."""
    out = {k: m[k] for k in _KEPT if m.get(k) is not None}
    if m.get("role") == "function":
        out["role"] = "tool"
        ctx.changed("function-role-to-tool")
    call = m.get("function_call")
    if isinstance(call, dict):
        out["tool_calls"] = [{"type": "function", "function": call}]
        ctx.changed("function-call-to-tool-calls")
    if "tool_calls" in out:
        out["tool_calls"] = [_call(c, f"{path}.tool_calls[{i}]", ctx)
                             for i, c in enumerate(out["tool_calls"])]
    refusal = m.get("refusal")
    if isinstance(refusal, str) and not out.get("content"):
        out["content"] = refusal
        ctx.changed("refusal-as-content")
    for key in m:
        if key == "weight" and ctx.target.weights != "none":
            continue  # the writer maps it (axolotl's training field)
        if key not in _KEPT and key not in ("function_call", "refusal"):
            ctx.drop(f"messages[].{key}")
    return out


def _call(call: Any, path: str, ctx: ExportContext) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise Refuse("malformed-record", path, "a tool call is not an object with `function`")
    function = dict(call["function"])
    if isinstance(function.get("arguments"), str):
        function["arguments"] = parsed_arguments(function["arguments"], f"{path}.function.arguments")
        ctx.changed("tool-arguments-as-objects")
    return {**call, "function": function}


def convert_messages(messages: list[dict], path: str, ctx: ExportContext) -> list[dict]:
    return [trl_message(m, f"{path}[{i}]", ctx) for i, m in enumerate(messages)]


def completion_start(messages: list[dict], path: str) -> int:
    """Where the trained completion starts: after the last message that is not the assistant's."""
    start = len(messages)
    while start > 0 and messages[start - 1].get("role") == "assistant":
        start -= 1
    if start == len(messages):
        raise Refuse("no-final-assistant-turn", f"{path}[{len(messages) - 1}]",
                     "the conversation does not end with an assistant turn to train on")
    return start


class TRLWriter(NoCompanions):
    parquet = True

    def convert(self, record: dict, ctx: ExportContext) -> dict:
        if ctx.format == PREFERENCE:
            return self._preference(record, ctx)
        messages = messages_of(record)
        require_weight0_choice(messages, ctx)
        out: dict[str, Any] = {}
        if ctx.weight0 == "keep-as-context":
            start = completion_start(messages, "messages")
            if any(m.get("weight") == 0 for m in messages[start:]):
                raise Refuse("weight0-in-completion", f"messages[{start}].weight", "a final "
                             "assistant turn has weight 0: nothing would be trained on")
            trained_before = sum(1 for m in messages[:start] if m.get("role") == "assistant"
                                 and m.get("weight") != 0)
            if trained_before:
                ctx.changed("trained-turns-made-context", trained_before)
            out["prompt"] = convert_messages(messages[:start], "messages", ctx)
            out["completion"] = convert_messages(messages[start:], "messages", ctx)
            ctx.changed("split-prompt-completion")
        else:
            out["messages"] = convert_messages(messages, "messages", ctx)
        return _with_tools(out, record.get("tools"), record, ctx)

    def _preference(self, record: dict, ctx: ExportContext) -> dict:
        inp = record.get("input")
        if not isinstance(inp, dict):
            raise Refuse("malformed-record", "input", "`input` is not an object")
        prompt = messages_of(inp, path="input.messages")
        out = {"prompt": convert_messages(prompt, "input.messages", ctx)}
        for key, name in (("preferred_output", "chosen"), ("non_preferred_output", "rejected")):
            out[name] = convert_messages(messages_of(record, key), key, ctx)
        return _with_tools(out, inp.get("tools"), record, ctx)


def _with_tools(out: dict, tools: Any, record: dict, ctx: ExportContext) -> dict:
    if tools is not None:
        out["tools"] = tools
    keep_extra_keys(record, out, FORMAT_KEYS, ctx)
    if isinstance(record.get("input"), dict):
        keep_extra_keys(record["input"], out, ("messages", "tools"), ctx, prefix="input.")
    return out
