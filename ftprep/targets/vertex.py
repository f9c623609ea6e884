"""Google Vertex AI (Gemini) supervised tuning: `systemInstruction: {parts: [{text}]}`,
`contents: [{role: user|model, parts: [...]}]` and, for tool use, `tools: [{functionDeclarations}]`.

Images must be Cloud Storage files (`fileData` with a MIME type from the file's extension);
other images are rejected. Tool use follows the tuning guide's function-calling examples: an
assistant's tool calls are `functionCall` parts of its model turn (several for parallel calls),
and the tool results that answer them are `functionResponse` parts of one content without a
role, named after the function called (Vertex links a result to its call by name, not by id),
with the result text under `response.output` (the key tool.proto names for a function's output).
"""
from __future__ import annotations

import mimetypes
from typing import Any

from ftprep.rules.targets import image_source
from ftprep.targets.base import (
    ExportContext,
    NoCompanions,
    Refuse,
    messages_of,
    refuse_weight0_anywhere,
    split_system,
    text_of,
)
from ftprep.targets.vertex_tools import ToolNotes, function_call, function_declarations

ROLES = {"user": "user", "assistant": "model"}
_MESSAGE_KEYS = {"user": ("role", "content"), "assistant": ("role", "content", "tool_calls"),
                 "tool": ("role", "content", "tool_call_id")}


class VertexWriter(NoCompanions):
    def convert(self, record: dict, ctx: ExportContext) -> dict:
        messages = messages_of(record)
        _refuse_legacy_functions(messages)
        refuse_weight0_anywhere(messages, ctx)
        system, turns = split_system(messages, ctx)
        out: dict[str, Any] = {}
        if system is not None:
            out["systemInstruction"] = {"role": "system", "parts": [{"text": system}]}
        out["contents"] = _Turns(ctx).contents(turns, len(messages) - len(turns))
        if not any(c.get("role") for c in out["contents"]):
            raise Refuse("no-turns", "messages", "no user or assistant turn")
        ctx.changed("roles-mapped")
        if record.get("tools"):
            notes = ToolNotes()
            out["tools"] = [{"functionDeclarations": function_declarations(record["tools"], notes)}]
            for key in notes.dropped:
                ctx.drop(key)
            for change in sorted(notes.changed):
                ctx.changed(change)
        for key in record:
            if key not in ("messages", "tools") or (key == "tools" and not record["tools"]):
                ctx.drop(key)
        return out


def _refuse_legacy_functions(messages: list[dict]) -> None:
    for i, m in enumerate(messages):
        if m.get("function_call") is not None or m.get("role") == "function":
            key = "function_call" if m.get("function_call") is not None else "role"
            raise Refuse("legacy-function-call", f"messages[{i}].{key}", "vertex export maps "
                         "`tools`/`tool_calls`, not the deprecated `functions`/`function_call`")


class _Turns:
    """The conversation as `contents`, remembering which function each call id named."""

    def __init__(self, ctx: ExportContext) -> None:
        self.ctx = ctx
        self.names: dict[str, str] = {}  # tool_call_id → function name
        self.answered: set[str] = set()
        self.changes: set[str] = set()

    def contents(self, turns: list[dict], offset: int) -> list[dict]:
        contents: list[dict] = []
        responses: list[dict] | None = None  # the parts of the open function-response content
        for i, m in enumerate(turns, start=offset):
            path = f"messages[{i}]"
            self._drop_keys(m)
            if m["role"] == "tool":
                if responses is None:
                    responses = []
                    contents.append({"parts": responses})
                responses.append(self._response(m, path))
                continue
            responses = None
            contents.append(self._content(m, path))
        for change in sorted(self.changes):
            self.ctx.changed(change)
        return contents

    def _drop_keys(self, m: dict) -> None:
        kept = _MESSAGE_KEYS.get(m["role"], ("role", "content"))
        for key in m:
            if key not in kept:
                self.ctx.drop(f"messages[].{key}")

    def _content(self, m: dict, path: str) -> dict:
        role = ROLES.get(m["role"])
        if role is None:
            raise Refuse("role-unsupported", f"{path}.role", f"vertex has no {m['role']} role")
        calls = m.get("tool_calls") if role == "model" else None
        if calls is None:
            return {"role": role, "parts": _parts(m.get("content"), f"{path}.content")}
        if not isinstance(calls, list):
            raise Refuse("malformed-record", f"{path}.tool_calls", "tool_calls is not a list")
        content = m.get("content")
        parts = [] if content in (None, "", []) else _parts(content, f"{path}.content")
        for j, call in enumerate(calls):
            parts.append(function_call(call, f"{path}.tool_calls[{j}]"))
            self._remember(call, f"{path}.tool_calls[{j}].id")
        self.changes.add("tool-calls-as-function-calls")
        return {"role": role, "parts": parts}

    def _remember(self, call: dict, path: str) -> None:
        call_id = call.get("id")
        if not isinstance(call_id, str):
            raise Refuse("malformed-record", path, "a tool call has no id for its result to name")
        if call_id in self.names:
            raise Refuse("tool-call-id-duplicate", path, "two tool calls share this id")
        self.names[call_id] = call["function"]["name"]

    def _response(self, m: dict, path: str) -> dict:
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in self.names:
            raise Refuse("tool-result-unlinked", f"{path}.tool_call_id", "the tool result answers "
                         "no earlier tool call (vertex names a result after its call's function)")
        if call_id in self.answered:
            raise Refuse("tool-result-unlinked", f"{path}.tool_call_id",
                         "a second result for the same tool call")
        self.answered.add(call_id)
        self.changes.add("tool-results-as-function-responses")
        output = text_of(m.get("content"), f"{path}.content", self.ctx)
        return {"functionResponse": {"name": self.names[call_id], "response": {"output": output}}}


def _parts(content: Any, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise Refuse("malformed-record", path, "content is neither text nor a list of parts")
    parts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal") and isinstance(part.get(kind), str):
            parts.append({"text": part[kind]})
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            parts.append(_image(part["image_url"].get("url"), f"{path}[{j}]"))
        else:
            raise Refuse("content-part-unsupported", f"{path}[{j}]", "unknown content part")
    return parts


def _image(url: Any, path: str) -> dict:
    mime = mimetypes.guess_type(url)[0] if isinstance(url, str) else None
    if image_source(url) != "gcs" or mime is None:
        raise Refuse("image-source-unsupported", f"{path}.image_url.url",
                     "vertex reads images only from Cloud Storage (gs://...) files")
    return {"fileData": {"mimeType": mime, "fileUri": url}}
