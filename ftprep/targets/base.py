"""What every export writer shares: the per-run context that counts changes and dropped keys,
the `Refuse` that sends an example to the rejects file, and small message helpers."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ftprep.errors import UsageError
from ftprep.targets.registry import TargetInfo

WEIGHT0_CHOICES = ("drop-example", "keep-as-context")


class Refuse(Exception):  # a signal rather than an error: the example goes to the rejects
    """The example cannot be expressed in the target's shape: `reason` is a stable key."""

    def __init__(self, reason: str, path: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.path, self.message = reason, escaped(path), escaped(message)


class Weight0Required(UsageError):
    """A weight-0 assistant turn, a target that cannot express it, and no `weight0` choice."""

    def __init__(self, path: str, target: str, line: int | None = None) -> None:
        where = f"line {line} " if line is not None else ""
        super().__init__(f"{where}{path}: weight 0 cannot be expressed in {target}; choose "
                         "weight0=drop-example or weight0=keep-as-context")
        self.path, self.target, self.line = path, target, line


@dataclass
class ExportContext:
    """One export run: the target, the user's choices and what the writer changed."""

    target: TargetInfo
    format: str  # the input's record format (chat, preference...)
    weight0: str | None = None
    changes: Counter[str] = field(default_factory=Counter)  # stable key → examples changed
    dropped: Counter[str] = field(default_factory=Counter)  # key path → times dropped

    def changed(self, key: str, n: int = 1) -> None:
        self.changes[key] += n

    def drop(self, path: str) -> None:
        self.dropped[escaped(path)] += 1


def escaped(text: str) -> str:
    """Text from the data (a key, a message) that UTF-8 can carry: JSON allows lone
    surrogates in keys and strings, a terminal or a JSON summary cannot; they become \\udXXX."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


class Writer(Protocol):
    """A target family's writer. `convert` maps one record (or raises Refuse); `companions`
    gives files written next to the output in the same commit (name → bytes)."""

    def convert(self, record: dict, ctx: ExportContext) -> dict: ...

    def companions(self, out: Path, ctx: ExportContext, rows: int) -> dict[Path, bytes]: ...


class NoCompanions:
    def companions(self, out: Path, ctx: ExportContext, rows: int) -> dict[Path, bytes]:
        return {}


# -- message helpers -----------------------------------------------------------------------------


def messages_of(record: dict, key: str = "messages", path: str | None = None) -> list[dict]:
    """`record[key]` as a list of messages that each have a string role; else Refuse."""
    messages = record.get(key)
    where = path or key
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise Refuse("malformed-record", where, f"`{where}` is not a list of objects "
                     "(run `ftprep validate`)")
    for i, m in enumerate(messages):
        if not isinstance(m.get("role"), str):
            raise Refuse("malformed-record", f"{where}[{i}].role", "the role is not a string "
                         "(run `ftprep validate`)")
    return messages


def text_of(content: Any, path: str, ctx: ExportContext) -> str:
    """A message's content as one string: text parts joined; images cannot be text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Refuse("malformed-record", path, "content is neither text nor a list of parts")
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal") and isinstance(part.get(kind), str):
            texts.append(part[kind])
        else:
            raise Refuse("content-part-unsupported", f"{path}[{j}]",
                         f"a {kind or 'malformed'} part cannot be expressed in {ctx.target.name}")
    if len(texts) > 1:
        ctx.changed("text-parts-joined")
    return "".join(texts)


def parsed_arguments(arguments: Any, path: str) -> Any:
    """A tool call's `arguments` string as the JSON value it encodes."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except (ValueError, RecursionError):
        raise Refuse("tool-arguments-not-json", path,
                     "tool call arguments are not valid JSON") from None


def is_zero_weight(message: dict) -> bool:
    weight = message.get("weight")
    return type(weight) in (int, float) and weight == 0


def weight0_turns(messages: list[dict]) -> Iterator[int]:
    for i, m in enumerate(messages):
        if m.get("role") == "assistant" and is_zero_weight(m):
            yield i


def require_weight0_choice(messages: list[dict], ctx: ExportContext, path: str = "messages") -> None:
    """A weight-0 turn the target cannot express: the user chooses what happens (no default,
    since both choices change what is trained)."""
    first = next(weight0_turns(messages), None)
    if first is None:
        return
    if ctx.weight0 is None:
        raise Weight0Required(f"{path}[{first}].weight", ctx.target.name)
    if ctx.weight0 == "drop-example":
        raise Refuse("weight0-dropped", f"{path}[{first}].weight",
                     "dropped: an assistant turn has weight 0 (weight0=drop-example)")


def refuse_weight0_anywhere(messages: list[dict], ctx: ExportContext, path: str = "messages") -> None:
    """For targets that train on every assistant turn: a weight-0 turn is dropped with its
    example whatever the choice, since it can be neither masked nor kept as mere context."""
    require_weight0_choice(messages, ctx, path)
    first = next(weight0_turns(messages), None)
    if first is not None:
        raise Refuse("weight0-not-expressible", f"{path}[{first}].weight",
                     f"{ctx.target.name} trains on every assistant turn: a weight-0 turn "
                     "cannot be kept as context")


def split_system(
    messages: list[dict], ctx: ExportContext, path: str = "messages"
) -> tuple[str | None, list[dict]]:
    """The opening system (or developer) message's text, and the rest; a system message
    anywhere else cannot be expressed by targets that keep one prompt beside the turns."""
    system = None
    rest = messages
    if messages and messages[0].get("role") in ("system", "developer"):
        system = text_of(messages[0].get("content"), f"{path}[0].content", ctx)
        rest = messages[1:]
        ctx.changed("system-moved")
    for i, m in enumerate(rest, start=len(messages) - len(rest)):
        if m.get("role") in ("system", "developer"):
            raise Refuse("system-not-opening", f"{path}[{i}].role",
                         f"{ctx.target.name} keeps one system prompt before the conversation")
    return system, rest


def refuse_tools(record: dict, messages: list[dict], ctx: ExportContext, path: str = "messages",
                 why: str = "") -> None:
    """Refuse an example with tool calls or results (`why`: the platform's limit and where it
    is documented); tool definitions alone are dropped and reported."""
    for i, m in enumerate(messages):
        for key in ("tool_calls", "function_call", "tool_call_id"):
            if m.get(key) is not None:
                raise Refuse("tool-calls-unsupported", f"{path}[{i}].{key}",
                             why or f"{ctx.target.name} export does not map tool calls")
        if m.get("role") in ("tool", "function"):
            raise Refuse("tool-calls-unsupported", f"{path}[{i}].role",
                         why or f"{ctx.target.name} export does not map tool results")
    if record.get("tools") or record.get("functions"):
        ctx.drop("tools" if record.get("tools") else "functions")


def keep_extra_keys(record: dict, out: dict, known: tuple[str, ...], ctx: ExportContext,
                    prefix: str = "") -> None:
    """Keys outside the input format's own: copied where the target takes extra keys (trainers
    ignore columns they do not map), reported as dropped where it does not."""
    for key, value in record.items():
        if key in known:
            continue
        if ctx.target.extra_keys and not prefix and key not in out:
            out[key] = value
        else:
            ctx.drop(f"{prefix}{key}")
