"""What the report shows besides validation, gathered inside validation's own pass (`ProfileObserver`:
one read and one parse of the file): per-example token counts for every tokenizer asked for
(lenient: a line that is not an example is skipped, `validate` reports it), conversation shape
(messages, turns, roles, system prompts, answer lengths, tool use), a deterministic sample of
records, and records the page links to (`Keep`: lines known beforehand, and the first examples
over each limit).

Chunks of lines are profiled in the processes that validate them and merged in file order, so
the result is the same whatever the number of workers. Memory per example: 4 bytes × 5 arrays
per tokenizer plus 4 bytes × 4 shape arrays, and 8 bytes per distinct system prompt; the kept
records are bounded by `Keep` (the lines named, plus `first` per limit), the memo of system
prompts' digests by DIGESTS_MEMO (≤ 5 MB a process).
"""
from __future__ import annotations

import hashlib
import zlib
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.count import LOCAL_PREFIX, CountBatch, TokenCounts, record_counter
from ftprep.errors import UsageError
from ftprep.formats import CHAT, COMPLETION, PREFERENCE, UNKNOWN, detect_format
from ftprep.tokens import plain_chat_counter

SAMPLES = 3  # example records shown as a chat
PROMPTS_KEPT = 20  # distinct system prompts whose text is kept (all are counted)
PROMPT_CHARS = 600  # characters of a system prompt's text kept
DIGESTS_MEMO = 1_000  # system prompts (of ≤ 8 × PROMPT_CHARS characters) whose digest is kept
_INSTRUCTIONS = frozenset(("system", "developer"))  # the roles a system prompt comes in
FUNCTIONS_KEPT = 10_000  # distinct function names counted (the rest are summed as "other")


@dataclass(frozen=True)
class Keep:
    """Which records to keep whole for the page's links: `lines` (named beforehand, e.g. by
    validation findings), and per tokenizer the `first` examples over each of its `limits`
    (and the first whose whole final answer is past it) and the first the tokenizer refused."""

    lines: frozenset[int] = frozenset()
    limits: dict[str, tuple[int, ...]] = field(default_factory=dict)
    first: int = 30


@dataclass
class Shape:
    """Per-example arrays (file order) of what the conversation looks like."""

    lines: array = field(default_factory=lambda: array("I"))
    messages: array = field(default_factory=lambda: array("I"))
    user_turns: array = field(default_factory=lambda: array("I"))
    answer_chars: array = field(default_factory=lambda: array("I"))
    tool_calls: array = field(default_factory=lambda: array("I"))


@dataclass
class Profile:
    """What one pass found. `counts[tokenizer]` are count's per-example arrays (examples
    the tokenizer refused are left out and listed in `refused`)."""

    path: str
    formats: Counter[str] = field(default_factory=Counter)
    shape: Shape = field(default_factory=Shape)
    roles: Counter[str] = field(default_factory=Counter)
    prompts: Counter[bytes] = field(default_factory=Counter)  # digest → examples using it
    prompt_text: dict[bytes, tuple[int, str]] = field(default_factory=dict)  # first line, text
    with_system: int = 0
    with_tools: int = 0
    functions: Counter[str] = field(default_factory=Counter)
    counts: dict[str, TokenCounts] = field(default_factory=dict)
    refused: dict[str, list[int]] = field(default_factory=dict)
    samples: list[tuple[int, int, Any]] = field(default_factory=list)  # (rank, line, record)
    kept: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)  # why → (line, record)

    @property
    def examples(self) -> int:
        return len(self.shape.lines)


@dataclass
class _Chunk:
    formats: Counter[str]
    shape: Shape
    roles: Counter[str]
    prompts: Counter[bytes]
    prompt_text: dict[bytes, tuple[int, str]]
    with_system: int
    with_tools: int
    functions: Counter[str]
    counts: dict[str, _Tokens]
    samples: list[tuple[int, int, Any]]
    kept: dict[str, list[tuple[int, Any]]]


@dataclass
class _Tokens(CountBatch):
    """count's batch arrays, plus the lines a tokenizer's chat template refused (the
    report skips them; count stops at the first)."""

    refused: list[int] = field(default_factory=list)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _messages(record: dict, fmt: str) -> list[Any]:
    if fmt == PREFERENCE:
        source = record.get("input")
        head = source.get("messages") if isinstance(source, dict) else None
        tail = record.get("preferred_output")
        return [*(head if isinstance(head, list) else []), *(tail if isinstance(tail, list) else [])]
    messages = record.get("messages")
    return messages if isinstance(messages, list) else []


def _rank(raw: bytes) -> int:
    """The sample order: a checksum of the line's bytes, so the choice is deterministic and
    does not depend on where the record sits in the file (CRC-32: 2.5× cheaper than a
    cryptographic digest, and the order needs no more; ties go to the earlier line)."""
    return zlib.crc32(raw)


def _order(sample: tuple[int, int, Any]) -> tuple[int, int]:
    return sample[0], sample[1]


class _Profiler:
    """Profiles chunks of lines; one per process, with its tokenizers built once."""

    def __init__(self, tokenizers: Sequence[str], keep: Keep = Keep()) -> None:
        self.tokenizers = list(tokenizers)
        # per tokenizer: its counter, count's plain-chat path where it applies (same numbers,
        # no per-message objects) and the limits whose first examples over them are kept
        self.counting = [(t, record_counter(t),
                          None if t.startswith(LOCAL_PREFIX) else plain_chat_counter(t),
                          keep.limits.get(t, ())) for t in tokenizers]
        self.keep = keep
        # A file's system prompts are few and repeat: a dict lookup is cheaper than a digest
        self.digests: dict[str, bytes] = {}

    def new_chunk(self) -> _Chunk:
        return _Chunk(Counter(), Shape(), Counter(), Counter(), {}, 0, 0, Counter(),
                      {t: _Tokens() for t in self.tokenizers}, [], {})

    def see(self, out: _Chunk, line: int, raw: bytes, record: dict, cleared: bool = False) -> None:
        """Profile one decoded record into `out` (skipped when it is no example: validation
        reports it). `cleared`: validation's short way cleared it (`RecordObserver`)."""
        fmt = CHAT if cleared else detect_format(record)
        if fmt != UNKNOWN:
            self._record(out, line, raw, record, fmt, cleared)

    def _record(self, out: _Chunk, line: int, raw: bytes, record: dict, fmt: str,
                cleared: bool) -> None:
        out.formats[fmt] += 1
        if cleared:
            self._cleared_shape(out, line, record["messages"])
        else:
            self._shape(out, line, record, fmt, _messages(record, fmt))
        for name, count, plain, limits in self.counting:
            tokens = out.counts[name]
            row = plain(record) if plain is not None else None
            if row is not None:
                tokens.add_row(line, *row)
                total, answer_start = row[0], row[3]
            else:
                try:
                    counted = count(record, fmt)
                except UsageError:  # an open model's chat template refused the record
                    tokens.refused.append(line)
                    self._keep(out, f"refused:{name}", line, record)
                    continue
                tokens.add(line, counted)
                total, answer_start = counted.total, counted.answer_start
            for limit in limits:
                if total > limit:
                    self._keep(out, f"over:{name}:{limit}", line, record)
                    if answer_start is not None and answer_start >= limit:
                        self._keep(out, f"cut:{name}:{limit}", line, record)
        if line in self.keep.lines:
            out.kept.setdefault("lines", []).append((line, record))
        samples, rank = out.samples, _rank(raw)
        if len(samples) < SAMPLES or rank < samples[-1][0]:  # most records: one comparison
            samples.append((rank, line, record))
            samples.sort(key=_order)
            del samples[SAMPLES:]

    def _keep(self, out: _Chunk, why: str, line: int, record: Any) -> None:
        kept = out.kept.setdefault(why, [])
        if len(kept) < self.keep.first:
            kept.append((line, record))

    def _shape(self, out: _Chunk, line: int, record: dict, fmt: str, messages: list) -> None:
        shape = out.shape
        shape.lines.append(line)
        shape.messages.append(len(messages))
        users = calls = 0
        roles = []
        answer: Any = None  # the last assistant message: its text is the final answer
        system = None
        for m in messages:
            if not isinstance(m, dict):
                continue
            role = m.get("role")
            roles.append(role if isinstance(role, str) else "?")
            if role == "user":
                users += 1
            elif role == "assistant":
                answer = m
                if "tool_calls" in m or "function_call" in m:
                    calls += self._calls(out, m)
            elif system is None and role in _INSTRUCTIONS:
                system = _text(m.get("content"))
        out.roles.update(roles)  # one update per record: Counter's C loop
        answer_text = _text(answer.get("content")) if answer is not None else ""
        if fmt == COMPLETION:
            users, answer_text = 1, _text(record.get("completion"))
        shape.user_turns.append(users)
        shape.answer_chars.append(len(answer_text))
        shape.tool_calls.append(calls)
        if record.get("tools") or record.get("functions"):
            out.with_tools += 1
        if system is not None:
            self._system(out, line, system)

    def _cleared_shape(self, out: _Chunk, line: int, messages: list[dict]) -> None:
        """`_shape` of a record validation cleared: every role a string, every content a
        string, no tool call, any instruction first and the answer last (`RecordObserver`).
        Most records of a chat file: the report's share of the pass kept small."""
        shape = out.shape
        roles = [m["role"] for m in messages]
        shape.lines.append(line)
        shape.messages.append(len(messages))
        shape.user_turns.append(roles.count("user"))
        shape.answer_chars.append(len(messages[-1]["content"]))
        shape.tool_calls.append(0)
        out.roles.update(roles)
        if roles[0] in _INSTRUCTIONS:
            self._system(out, line, messages[0]["content"])

    def _system(self, out: _Chunk, line: int, system: str) -> None:
        out.with_system += 1
        digest = self.digests.get(system)
        if digest is None:
            digest = hashlib.blake2b(system.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            if len(self.digests) < DIGESTS_MEMO and len(system) <= PROMPT_CHARS * 8:
                self.digests[system] = digest
        out.prompts[digest] += 1
        if digest not in out.prompt_text:
            out.prompt_text[digest] = (line, system[:PROMPT_CHARS])

    def _calls(self, out: _Chunk, message: dict) -> int:
        """The tool calls of an assistant message (malformed ones too: validate reports
        them), their functions counted by name."""
        calls = 0
        tool_calls = message.get("tool_calls")
        for call in tool_calls if isinstance(tool_calls, list) else ():
            calls += 1
            fn = call.get("function") if isinstance(call, dict) else None
            self._function(out, fn.get("name") if isinstance(fn, dict) else None)
        legacy = message.get("function_call")
        if isinstance(legacy, dict):
            calls += 1
            self._function(out, legacy.get("name"))
        return calls

    @staticmethod
    def _function(out: _Chunk, name: Any) -> None:
        out.functions[name if isinstance(name, str) else "?"] += 1


def _merge(profile: Profile, chunk: _Chunk, cap: int) -> None:
    profile.formats.update(chunk.formats)
    for name in ("lines", "messages", "user_turns", "answer_chars", "tool_calls"):
        getattr(profile.shape, name).extend(getattr(chunk.shape, name))
    profile.roles.update(chunk.roles)
    profile.prompts.update(chunk.prompts)
    for digest, first in chunk.prompt_text.items():
        if digest not in profile.prompt_text and len(profile.prompt_text) < PROMPTS_KEPT * 50:
            profile.prompt_text[digest] = first
    profile.with_system += chunk.with_system
    profile.with_tools += chunk.with_tools
    for name, n in chunk.functions.items():
        if name in profile.functions or len(profile.functions) < FUNCTIONS_KEPT:
            profile.functions[name] += n
        else:
            profile.functions["(other)"] += n
    for name, part in chunk.counts.items():
        profile.counts[name].extend(part)
        profile.refused[name].extend(part.refused)
    profile.samples = sorted([*profile.samples, *chunk.samples], key=_order)[:SAMPLES]
    for why, records in chunk.kept.items():
        kept = profile.kept.setdefault(why, [])
        room = len(records) if why == "lines" else cap - len(kept)
        kept.extend(records[:max(0, room)])


class ProfileObserver:
    """The profile of `path`, gathered by a validation pass it rides along
    (`validate_file(..., observer=ProfileObserver(...))`; then `profile` holds it): token
    counts with each of `tokenizers` (OpenAI encoding names, or "local:PATH" for an open
    model's files), keeping the records `keep` asks for."""

    def __init__(self, path: str | Path, tokenizers: Sequence[str] = (), keep: Keep = Keep()) -> None:
        self.args = (tuple(tokenizers), keep)
        self.profiler = _Profiler(tokenizers, keep)  # built here: forked workers inherit it
        self.profile = Profile(str(path), counts={t: TokenCounts(str(path), t) for t in tokenizers},
                               refused={t: [] for t in tokenizers})

    def __getstate__(self) -> dict[str, Any]:
        return {"args": self.args}  # a spawned worker builds its own tokenizers, keeps no profile

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.args = state["args"]
        self.profiler = _Profiler(*self.args)

    def open_chunk(self) -> _Chunk:
        return self.profiler.new_chunk()

    def see(self, part: _Chunk, line: int, raw: bytes, record: dict[str, Any],
            cleared: bool) -> None:
        self.profiler.see(part, line, raw, record, cleared)

    def take(self, part: _Chunk) -> None:
        _merge(self.profile, part, self.args[1].first)
