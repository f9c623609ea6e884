"""Writers for targets that read OpenAI's chat format: openai and azure (the same bytes, keys
they refuse removed; azure's BOM is added by the engine), together and fireworks (stricter:
roles, alternation, weights and images are checked, keys they refuse removed)."""
from __future__ import annotations

from typing import Any

from ftprep.formats import PREFERENCE
from ftprep.rules.targets import image_source
from ftprep.targets.base import ExportContext, NoCompanions, Refuse

_TOOL_KEYS = ("tool_calls", "function_call", "tool_call_id")


def message_lists(record: dict, fmt: str) -> list[tuple[str, list]]:
    """(path, list) of every message list a record carries, as stored in the record."""
    if fmt == PREFERENCE:
        inp = record.get("input")
        found = [("input.messages", inp.get("messages") if isinstance(inp, dict) else None),
                 ("preferred_output", record.get("preferred_output")),
                 ("non_preferred_output", record.get("non_preferred_output"))]
    else:
        found = [("messages", record.get("messages"))]
    return [(p, v) for p, v in found if isinstance(v, list)]


def strip_refused_keys(record: dict, ctx: ExportContext) -> dict:
    """The record without the keys the target refuses (each reported); the same object when
    nothing was removed, so that unchanged lines keep their bytes."""
    target = ctx.target
    if target.extra_keys:
        return record
    drop_top = [k for k in record if target.record_keys and k not in target.record_keys]
    drop_msg = [(path, i, k) for path, messages in message_lists(record, ctx.format)
                for i, m in enumerate(messages) if isinstance(m, dict)
                for k in m if target.message_keys and k not in target.message_keys]
    if not drop_top and not drop_msg:
        return record
    out = {k: v for k, v in record.items() if k not in drop_top}
    for key in drop_top:
        ctx.drop(key)
    copies: dict[str, list] = {}
    for path, i, key in drop_msg:
        messages = copies.setdefault(path, [dict(m) if isinstance(m, dict) else m
                                            for m in dict(message_lists(record, ctx.format))[path]])
        messages[i].pop(key, None)
        ctx.drop(f"{path}[].{key}")
    for path, messages in copies.items():
        if path == "input.messages":
            out["input"] = {**out["input"], "messages": messages}
        else:
            out[path] = messages
    ctx.changed("keys-dropped")
    return out


class OpenAIWriter(NoCompanions):
    """openai, azure: unchanged lines keep their bytes; refused keys (e.g. `metadata`) go."""

    keep_bytes = True

    def convert(self, record: dict, ctx: ExportContext) -> dict:
        return strip_refused_keys(record, ctx)


class StrictWriter(NoCompanions):
    """together, fireworks: what they refuse is rejected with its reason, or mapped where the
    mapping keeps the meaning (`developer` → `system`, weight 1.0 → 1)."""

    def convert(self, record: dict, ctx: ExportContext) -> dict:
        target = ctx.target
        for path, messages in message_lists(record, ctx.format):
            for i, m in enumerate(messages):
                if isinstance(m, dict):
                    self._check_message(m, f"{path}[{i}]", ctx)
            if path in ("messages", "input.messages") and target.alternation:
                check_alternation(messages, path, target.name)
        return strip_refused_keys(_mapped(record, ctx), ctx)

    def _check_message(self, m: dict, path: str, ctx: ExportContext) -> None:
        target = ctx.target
        role = m.get("role")
        if role not in target.roles and role != "developer":
            raise Refuse("role-unsupported", f"{path}.role", f"{target.name} does not accept "
                         f"{role} messages")
        for key in _TOOL_KEYS:
            if m.get(key) is not None and key not in target.message_keys:
                raise Refuse("tool-calls-unsupported", f"{path}.{key}",
                             f"{target.name} does not accept tool calls")
        content = m.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                source = image_source(image.get("url") if isinstance(image, dict) else None)
                if target.image_sources and source not in target.image_sources:
                    raise Refuse("image-source-unsupported", f"{path}.content[{j}]",
                                 f"{target.name} reads images only as: "
                                 f"{', '.join(target.image_sources)}")


def check_alternation(messages: list, path: str, target: str) -> None:
    """user, assistant, user... after optional opening system messages; else Refuse."""
    expected = "user"
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role in ("system", "developer") and expected == "user" and i == 0:
            continue
        if role != expected:
            raise Refuse("not-alternating", f"{path}[{i}].role", f"{role} message where "
                         f"{target} expects {expected}: turns must alternate user/assistant")
        expected = "assistant" if role == "user" else "user"


def _mapped(record: dict, ctx: ExportContext) -> dict:
    """developer → system and (for integer-only weights) 1.0 → 1, on copies."""
    changed = False
    out = dict(record)
    for path, messages in message_lists(record, ctx.format):
        new: list[Any] = []
        for m in messages:
            if isinstance(m, dict) and m.get("role") == "developer" and "developer" not in ctx.target.roles:
                m = {**m, "role": "system"}
                ctx.changed("role-developer-to-system")
                changed = True
            weight = m.get("weight") if isinstance(m, dict) else None
            if ctx.target.weights == "int01" and isinstance(weight, float) and weight in (0.0, 1.0):
                m = {**m, "weight": int(weight)}
                ctx.changed("weight-made-integer")
                changed = True
            new.append(m)
        if path == "input.messages":
            out["input"] = {**out["input"], "messages": new}
        else:
            out[path] = new
    return out if changed else record
