"""Google Vertex AI (Gemini supervised tuning): `systemInstruction: {parts: [{text}]}` and
`contents: [{role: user|model, parts: [...]}]`. Images must be Cloud Storage files
(`fileData` with a MIME type from the file's extension); other images are rejected."""
from __future__ import annotations

import mimetypes
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
)

ROLES = {"user": "user", "assistant": "model"}


class VertexWriter(NoCompanions):
    def convert(self, record: dict, ctx: ExportContext) -> dict:
        messages = messages_of(record)
        refuse_tools(record, messages, ctx)
        refuse_weight0_anywhere(messages, ctx)
        system, turns = split_system(messages, ctx)
        offset = len(messages) - len(turns)
        out: dict[str, Any] = {}
        if system is not None:
            out["systemInstruction"] = {"role": "system", "parts": [{"text": system}]}
        out["contents"] = [self._content(m, f"messages[{i + offset}]", ctx)
                           for i, m in enumerate(turns)]
        if not out["contents"]:
            raise Refuse("no-turns", "messages", "no user or assistant turn")
        ctx.changed("roles-mapped")
        for key in record:
            if key not in ("messages", "tools", "functions"):
                ctx.drop(key)
        return out

    def _content(self, m: dict, path: str, ctx: ExportContext) -> dict:
        role = ROLES.get(m.get("role", ""))
        if role is None:
            raise Refuse("role-unsupported", f"{path}.role", f"vertex has no {m.get('role')} role")
        for key in m:
            if key not in ("role", "content"):
                ctx.drop(f"messages[].{key}")
        return {"role": role, "parts": self._parts(m.get("content"), f"{path}.content")}

    def _parts(self, content: Any, path: str) -> list[dict]:
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
                parts.append(self._image(part["image_url"].get("url"), f"{path}[{j}]"))
            else:
                raise Refuse("content-part-unsupported", f"{path}[{j}]", "unknown content part")
        return parts

    def _image(self, url: Any, path: str) -> dict:
        mime = mimetypes.guess_type(url)[0] if isinstance(url, str) else None
        if image_source(url) != "gcs" or mime is None:
            raise Refuse("image-source-unsupported", f"{path}.image_url.url",
                         "vertex reads images only from Cloud Storage (gs://...) files")
        return {"fileData": {"mimeType": mime, "fileUri": url}}
