"""axolotl: `type: chat_template` data (OpenAI messages, tool arguments as objects, a
per-message `training` flag where the input had `weight`) or DPO rows (`messages`, `chosen`,
`rejected`), plus a ready dataset fragment `<name>.axolotl.yaml` written beside the data."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftprep.formats import PREFERENCE
from ftprep.targets.base import ExportContext, Refuse, keep_extra_keys, messages_of
from ftprep.targets.trl import convert_messages

TRAINING_FIELD = "training"


class AxolotlWriter:
    def __init__(self) -> None:
        self.weights_seen = False
        self.tools_seen = False

    def convert(self, record: dict, ctx: ExportContext) -> dict:
        if ctx.format == PREFERENCE:
            return self._preference(record, ctx)
        messages = messages_of(record)
        out_messages = convert_messages(messages, "messages", ctx)
        for source, message in zip(messages, out_messages, strict=True):
            weight = source.get("weight")
            if weight is not None:
                message[TRAINING_FIELD] = bool(weight)
                self.weights_seen = True
        if any("weight" in m for m in messages):
            ctx.changed("weight-as-training-field")
        out: dict[str, Any] = {"messages": out_messages}
        if record.get("tools") is not None:
            out["tools"] = record["tools"]
            self.tools_seen = True
        keep_extra_keys(record, out, ("messages", "tools"), ctx)
        return out

    def _preference(self, record: dict, ctx: ExportContext) -> dict:
        inp = record.get("input")
        if not isinstance(inp, dict):
            raise Refuse("malformed-record", "input", "`input` is not an object")
        prompt = messages_of(inp, path="input.messages")
        out: dict[str, Any] = {"messages": convert_messages(prompt, "input.messages", ctx)}
        for key, name in (("preferred_output", "chosen"), ("non_preferred_output", "rejected")):
            value = messages_of(record, key)
            if len(value) != 1:
                raise Refuse("preference-output-shape", key, f"`{key}` is not one message")
            out[name] = convert_messages(value, key, ctx)[0]
        keep_extra_keys(record, out, ("input", "preferred_output", "non_preferred_output"), ctx)
        keep_extra_keys(inp, out, ("messages",), ctx, prefix="input.")
        return out

    def companions(self, out: Path, ctx: ExportContext, rows: int) -> dict[Path, bytes]:
        name = out.name[: -len(out.suffix)] if out.suffix else out.name
        text = dpo_yaml(str(out)) if ctx.format == PREFERENCE else sft_yaml(
            str(out), self.weights_seen)
        return {out.with_name(f"{name}.axolotl.yaml"): text.encode()}


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML scalar, quoted and escaped


def sft_yaml(data: str, weights: bool) -> str:
    lines = [
        "# axolotl dataset fragment written by `ftprep export --to axolotl`; merge it into",
        "# your config (base_model, adapter, sequence_len... are yours to choose).",
        "chat_template: tokenizer_default",
        "datasets:",
        f"  - path: {_q(data)}",
        "    ds_type: json",
        "    type: chat_template",
        "    field_messages: messages",
        "    message_property_mappings:",
        "      role: role",
        "      content: content",
        "    roles_to_train: [\"assistant\"]",
        "    train_on_eos: turn",
    ]
    if weights:
        lines.append(f"    message_field_training: {TRAINING_FIELD}  # from each message's weight")
    return "\n".join(lines) + "\n"


def dpo_yaml(data: str) -> str:
    return "\n".join([
        "# axolotl DPO dataset fragment written by `ftprep export --to axolotl`; merge it into",
        "# your config (base_model, adapter, sequence_len... are yours to choose).",
        "rl: dpo",
        "chat_template: tokenizer_default",
        "datasets:",
        f"  - path: {_q(data)}",
        "    ds_type: json",
        "    split: train",
        "    type: chat_template.default",
        "    field_messages: messages",
        "    field_chosen: chosen",
        "    field_rejected: rejected",
        "    message_property_mappings:",
        "      role: role",
        "      content: content",
    ]) + "\n"
