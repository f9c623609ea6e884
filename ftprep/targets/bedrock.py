"""Amazon Bedrock (Nova): the `bedrock-conversation-2024` schema — `system: [{text}]` and
`messages: [{role: user|assistant, content: [{text} | {image: s3Location}]}]`, turns
alternating from the user. Examples with tool use are rejected: Bedrock's Nova SFT guide says
tool usage is not currently supported (the reason names that page)."""
from __future__ import annotations

from typing import Any

from ftprep.rules.targets import image_source
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
IMAGE_FORMATS = ("jpeg", "png", "gif", "webp")


class BedrockWriter(NoCompanions):
    def convert(self, record: dict, ctx: ExportContext) -> dict:
        messages = messages_of(record)
        refuse_tools(record, messages, ctx, why=_tools_refused(ctx))
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
        for key in m:
            if key not in ("role", "content"):
                ctx.drop(f"messages[].{key}")
        content = m.get("content")
        if not isinstance(content, list) or not any(_is_image(p) for p in content):
            return {"role": m["role"], "content": [{"text": text_of(content, f"{path}.content", ctx)}]}
        blocks = []
        for j, part in enumerate(content):
            if _is_image(part):
                blocks.append(_image(part["image_url"].get("url"), f"{path}.content[{j}]"))
            else:
                blocks.append({"text": text_of([part], f"{path}.content[{j}]", ctx)})
        return {"role": m["role"], "content": blocks}


def _tools_refused(ctx: ExportContext) -> str:
    """Nova fine-tuning on Bedrock takes no tool use; the message names the page that says so
    (the `roles` fact's source in targets.toml)."""
    source = ctx.target.sources.get("roles")
    where = f" ({source.url})" if source and source.url else ""
    return f"{ctx.target.name} cannot train on tool use: Bedrock's Nova SFT guide says tool " \
        f"usage is not currently supported{where}"


def _is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url" and isinstance(
        part.get("image_url"), dict)


def _image(url: Any, path: str) -> dict:
    """An S3 image as Nova's image block; images elsewhere cannot be referenced."""
    ext = url.rsplit(".", 1)[-1].lower() if isinstance(url, str) else ""
    fmt = {"jpg": "jpeg"}.get(ext, ext)
    if image_source(url) != "s3" or fmt not in IMAGE_FORMATS:
        raise Refuse("image-source-unsupported", f"{path}.image_url.url", "bedrock reads "
                     "images only from S3 (s3://...jpeg|png|gif|webp)")
    return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
