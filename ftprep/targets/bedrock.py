"""Amazon Bedrock (Nova): the `bedrock-conversation-2024` schema — `system: [{text}]` and
`messages: [{role: user|assistant, content: [{text}]}]`, turns alternating from the user."""
from __future__ import annotations

from typing import Any

from ftprep.targets.base import (
    ExportContext,
    NoCompanions,
    Refuse,
    messages_of,
    refuse_tools,
    refuse_weight0_anywhere,
    split_system,
    text_of,
)
from ftprep.targets.openai_like import check_alternation

SCHEMA_VERSION = "bedrock-conversation-2024"


class BedrockWriter(NoCompanions):
    def convert(self, record: dict, ctx: ExportContext) -> dict:
        messages = messages_of(record)
        refuse_tools(record, messages, ctx)
        refuse_weight0_anywhere(messages, ctx)
        system, turns = split_system(messages, ctx)
        offset = len(messages) - len(turns)
        check_alternation(messages, "messages", ctx.target.name)
        out: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION}
        if system is not None:
            out["system"] = [{"text": system}]
        out["messages"] = [self._turn(m, f"messages[{i + offset}]", ctx)
                           for i, m in enumerate(turns)]
        if not out["messages"]:
            raise Refuse("no-turns", "messages", "no user or assistant turn")
        for key in record:
            if key not in ("messages", "tools", "functions"):
                ctx.drop(key)
        return out

    def _turn(self, m: dict, path: str, ctx: ExportContext) -> dict:
        text = text_of(m.get("content"), f"{path}.content", ctx)
        for key in m:
            if key not in ("role", "content"):
                ctx.drop(f"messages[].{key}")
        return {"role": m["role"], "content": [{"text": text}]}
