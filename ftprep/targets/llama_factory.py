"""LLaMA-Factory: sharegpt-style rows (`conversations` of {from, value}, `system`, `tools`)
and their `dataset_info.json` entry, merged into that file beside the output. Tool calls
become `function_call` turns and tool results `observation` turns; preference data becomes a
ranking dataset (`chosen`/`rejected`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftprep.errors import InputError
from ftprep.formats import PREFERENCE
from ftprep.targets.base import (
    ExportContext,
    Refuse,
    keep_extra_keys,
    messages_of,
    parsed_arguments,
    refuse_weight0_anywhere,
    split_system,
    text_of,
)

INFO_FILE = "dataset_info.json"
_ASKS = ("human", "observation")  # odd positions (1-based); gpt and function_call: even
TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
        "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}


class LlamaFactoryWriter:
    def convert(self, record: dict, ctx: ExportContext) -> dict:
        if ctx.format == PREFERENCE:
            return self._preference(record, ctx)
        messages = messages_of(record)
        refuse_weight0_anywhere(messages, ctx)
        system, turns = split_system(messages, ctx)
        conversations = self._turns(turns, len(messages) - len(turns), ctx)
        if not conversations or conversations[-1]["from"] not in ("gpt", "function_call"):
            raise Refuse("no-final-assistant-turn", "messages", "sharegpt needs the conversation "
                         "to end with the assistant")
        out = {"conversations": conversations, "system": system or "",
               "tools": _tools(record.get("tools"))}
        keep_extra_keys(record, out, ("messages", "tools"), ctx)
        return out

    def _turns(self, turns: list[dict], offset: int, ctx: ExportContext) -> list[dict]:
        out: list[dict] = []
        results: dict[int, list[str]] = {}  # turn index → the parallel tool results it merges
        for i, m in enumerate(turns, start=offset):
            turn = self._turn(m, f"messages[{i}]", ctx)
            if turn["from"] == "observation" and out and out[-1]["from"] == "observation":
                results.setdefault(len(out) - 1, [out[-1]["value"]]).append(turn["value"])
                continue
            if (len(out) % 2 == 0) != (turn["from"] in _ASKS):
                raise Refuse("not-alternating", f"messages[{i}].role", "sharegpt needs "
                             "user/tool turns and assistant turns to alternate")
            out.append(turn)
        for index, values in results.items():
            out[index]["value"] = json.dumps(values, ensure_ascii=False)
            ctx.changed("parallel-tool-results-merged")
        return out

    def _turn(self, m: dict, path: str, ctx: ExportContext) -> dict:
        role = m.get("role")
        calls = m.get("tool_calls") or ([{"function": m["function_call"]}]
                                        if isinstance(m.get("function_call"), dict) else None)
        if role == "assistant" and calls:
            if text_of(m.get("content"), f"{path}.content", ctx).strip():
                raise Refuse("content-with-tool-calls", f"{path}.content", "sharegpt cannot keep "
                             "an assistant's text beside its tool calls")
            ctx.changed("tool-calls-as-function-call-turns")
            return {"from": "function_call", "value": _calls(calls, path)}
        if role in ("tool", "function"):
            return {"from": "observation", "value": text_of(m.get("content"), f"{path}.content", ctx)}
        kind = {"user": "human", "assistant": "gpt"}.get(str(role))
        if kind is None:
            raise Refuse("role-unsupported", f"{path}.role", f"sharegpt has no {role} turn")
        return {"from": kind, "value": text_of(m.get("content"), f"{path}.content", ctx)}

    def _preference(self, record: dict, ctx: ExportContext) -> dict:
        inp = record.get("input")
        if not isinstance(inp, dict):
            raise Refuse("malformed-record", "input", "`input` is not an object")
        messages = messages_of(inp, path="input.messages")
        system, turns = split_system(messages, ctx, "input.messages")
        out: dict[str, Any] = {"conversations": self._turns(turns, len(messages) - len(turns), ctx)}
        if len(out["conversations"]) % 2 == 0:  # the outputs answer a user or tool turn
            raise Refuse("not-alternating", f"input.messages[{len(messages) - 1}].role",
                         "a ranking prompt must end with a user or tool turn")
        for key, name in (("preferred_output", "chosen"), ("non_preferred_output", "rejected")):
            value = messages_of(record, key)
            if len(value) != 1:
                raise Refuse("preference-output-shape", key, f"`{key}` is not one message")
            out[name] = self._turn(value[0], f"{key}[0]", ctx)
        out["system"] = system or ""
        out["tools"] = _tools(inp.get("tools"))
        keep_extra_keys(record, out, ("input", "preferred_output", "non_preferred_output"), ctx)
        keep_extra_keys(inp, out, ("messages", "tools"), ctx, prefix="input.")
        return out

    def companions(self, out: Path, ctx: ExportContext, rows: int) -> dict[Path, bytes]:
        info_path = out.with_name(INFO_FILE)
        info = _read_info(info_path)
        name = out.name[: -len(out.suffix)] if out.suffix else out.name
        columns = {"messages": "conversations", "system": "system", "tools": "tools"}
        entry: dict[str, Any] = {"file_name": out.name, "formatting": "sharegpt"}
        if ctx.format == PREFERENCE:
            entry["ranking"] = True
            columns |= {"chosen": "chosen", "rejected": "rejected"}
        entry |= {"columns": columns, "tags": TAGS}
        info[name] = entry
        return {info_path: (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode()}


def _calls(calls: list, path: str) -> str:
    found = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise Refuse("malformed-record", f"{path}.tool_calls[{j}]", "a malformed tool call")
        found.append({"name": function.get("name"), "arguments": parsed_arguments(
            function.get("arguments"), f"{path}.tool_calls[{j}].function.arguments")})
    return json.dumps(found[0] if len(found) == 1 else found, ensure_ascii=False)


def _tools(tools: Any) -> str:
    if not isinstance(tools, list) or not tools:
        return ""
    return json.dumps([t.get("function", t) if isinstance(t, dict) else t for t in tools],
                      ensure_ascii=False)


def _read_info(path: Path) -> dict[str, Any]:
    """The existing dataset_info.json (other datasets' entries are kept), or a new one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InputError(f"cannot update it: {e}", path=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("cannot update it: not a JSON object", path=str(path))
    return data
