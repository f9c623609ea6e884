"""The rule framework: every check is a `Rule` with a stable code (ruff-style), and every
check function reports `Hit`s that the engine turns into positioned `Finding`s.

Two kinds of check:
- record checks: `f(record, ctx) -> Iterable[Hit]`, run on every parsed record of the formats
  they declare;
- file checks: classes that see the whole stream (duplicates, example counts...), created
  fresh for each run. They work in two steps so that records can be checked in worker
  processes: `key(record)` reduces a record to a small picklable value (e.g. a 16-byte digest)
  wherever the record is parsed; `feed(keys, lines)` then runs in the parent, once per chunk
  of records in file order, and `finish()` at the end.
Check functions must be defensive: a record may violate the schema in any way.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ftprep.findings import Facts, Severity
from ftprep.formats import CHAT, FORMATS, PREFERENCE


@dataclass(frozen=True, slots=True)
class Rule:
    code: str  # stable, e.g. "FT301"; never reused for another meaning
    name: str  # kebab-case, e.g. "unknown-role"
    severity: Severity
    summary: str  # one line: what is wrong
    why: str  # why it matters (what the platform or the model does with it)
    fix: str  # how to fix it
    default: bool = True  # False: only run when selected by code/prefix (costly or noisy rules)

    def to_dict(self) -> dict[str, str | bool]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "summary": self.summary,
            "why": self.why,
            "fix": self.fix,
            "default": self.default,
        }


class Hit(NamedTuple):
    """What a check reports; the engine adds severity and the line."""

    code: str
    path: str
    message: str
    line: int | None = None  # only file checks set it (they report on earlier lines)
    facts: Facts | None = None  # the numbers behind the message (counts, limits, the other line)


@dataclass(slots=True)
class Context:
    """What a check may know besides the record itself."""

    line: int
    format: str
    model: Any = None  # ftprep.models.ModelInfo when validating --model
    encoding: Any = None  # tiktoken.Encoding of that model
    target: Any = None  # ftprep.targets.TargetInfo when validating --target (FT8xx rules)
    extra: dict[str, Any] = field(default_factory=dict)
    enabled: frozenset[str] | None = None  # the selected rule codes (None = all): costly checks skip work


RecordCheck = Callable[[dict, Context], Iterable[Hit]]


class FileCheck(Protocol):
    def key(self, record: Any) -> Any:
        """What `feed` needs of a record; must depend on the record only (it runs in workers)."""
        ...

    def feed(self, keys: list[Any], lines: list[int]) -> Iterable[Hit]:
        """The keys of consecutive records and their lines (one chunk, in file order); every
        hit names its line. A chunk at a time: the parent feeds every record of the file."""
        ...

    def finish(self) -> Iterable[Hit]: ...


RULES: dict[str, Rule] = {}
RECORD_CHECKS: list[tuple[tuple[str, ...], RecordCheck]] = []
FILE_CHECKS: list[Callable[[], FileCheck]] = []
PLAIN_SILENT: set[RecordCheck] = set()  # checks that never report on a plain chat record


def rule(
    code: str, name: str, severity: Severity, summary: str, *, why: str, fix: str,
    default: bool = True,
) -> Rule:
    """Declare a rule; codes and names must be unique. `default=False` rules run only when
    selected explicitly (`--select FT912`, `--extend-select FT91`, `--select ALL`)."""
    if code in RULES:
        raise ValueError(f"duplicate rule code {code}")
    if any(r.name == name for r in RULES.values()):
        raise ValueError(f"duplicate rule name {name}")
    RULES[code] = r = Rule(code, name, severity, summary, why, fix, default)
    return r


def record_check(*formats: str, plain_silent: bool = False) -> Callable[[RecordCheck], RecordCheck]:
    """Register a record check for the given formats (all formats when none are given).
    `plain_silent`: the check never reports on a plain chat record (text-only messages with
    role, content, name and weight; no tools or functions; see `rules.schema.schema_check`),
    so such records (nearly all) skip it. tests/test_plain_records.py holds every check to it."""

    def register(fn: RecordCheck) -> RecordCheck:
        RECORD_CHECKS.append((formats or FORMATS, fn))
        if plain_silent:
            PLAIN_SILENT.add(fn)
        return fn

    return register


def file_check(factory: Callable[[], FileCheck]) -> Callable[[], FileCheck]:
    FILE_CHECKS.append(factory)
    return factory


def select_codes(
    rules: dict[str, Rule], select: Iterable[str] | None, ignore: Iterable[str] | None,
    extend_select: Iterable[str] | None = None,
) -> set[str]:
    """Ruff-style selection by code prefix: `--select FT3` keeps FT3xx (opt-in rules too);
    without select, the default rules; `extend_select` adds to either; ignore wins."""
    selected = [s.upper() for s in (select or [])]
    extended = [s.upper() for s in (extend_select or [])]
    ignored = [s.upper() for s in (ignore or [])]
    unknown = [p for p in selected + extended + ignored
               if p != "ALL" and not any(c.startswith(p) for c in rules)]
    if unknown:
        from ftprep.errors import UsageError

        raise UsageError(f"unknown rule code(s): {', '.join(unknown)} (see `ftprep rules`)")

    def matches(code: str, prefixes: list[str]) -> bool:
        return "ALL" in prefixes or any(code.startswith(p) for p in prefixes)

    keep = {c for c, r in rules.items()
            if (matches(c, selected) if selected else r.default) or matches(c, extended)}
    return {c for c in keep if not any(c.startswith(p) for p in ignored)}




# Helpers shared by the semantic rules. Records may violate the schema anywhere, so these
# only hand out values of the expected type and silently skip the rest (the schema reports it).


def message_lists(record: Any, fmt: str) -> list[tuple[str, list[dict]]]:
    """Every list of messages in a record with its JSON path: `messages` for chat data,
    `input.messages`, `preferred_output` and `non_preferred_output` for preference data.
    Values that are not lists are left out (the schema reports them)."""
    if not isinstance(record, dict):
        return []
    if fmt == PREFERENCE:
        inp = record.get("input")
        found = [("input.messages", inp.get("messages") if isinstance(inp, dict) else None),
                 ("preferred_output", record.get("preferred_output")),
                 ("non_preferred_output", record.get("non_preferred_output"))]
    elif fmt == CHAT:
        found = [("messages", record.get("messages"))]
    else:
        return []
    return [(path, value) for path, value in found if isinstance(value, list)]


def iter_messages(record: Any, fmt: str) -> Iterable[tuple[str, dict]]:
    """(path, message) for every well-formed (dict) message, e.g. ('messages[2]', {...})."""
    for path, messages in message_lists(record, fmt):
        paths = _item_paths(path, len(messages))
        for i, message in enumerate(messages):
            if isinstance(message, dict):
                yield paths[i], message


_ITEM_PATHS: dict[str, list[str]] = {}  # "messages" -> ["messages[0]", "messages[1]", ...]


def _item_paths(path: str, n: int) -> list[str]:
    """The paths of a list's first `n` items, formatted once per process rather than once per
    message and rule (a dozen rules walk every message and almost never report). Only the four
    message-list paths come here; lists longer than 4,096 items are formatted each time."""
    known = _ITEM_PATHS.setdefault(path, [])
    if len(known) < n <= 4096:
        known.extend(f"{path}[{i}]" for i in range(len(known), n))
    return known if n <= len(known) else [f"{path}[{i}]" for i in range(n)]


def role_of(message: Any) -> str | None:
    """The message's role when it is a string, else None."""
    role = message.get("role") if isinstance(message, dict) else None
    return role if isinstance(role, str) else None
