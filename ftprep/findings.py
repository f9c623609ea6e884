"""What every check says: a Finding with a stable code and an exact position."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Facts:
    """The numbers behind a finding, so that consumers need not parse its message. Every
    field is None where it does not apply to the rule; `--format json` always has every key."""

    related_line: int | None = None  # the other line involved (FT109: the earlier copy)
    tokens: int | None = None  # the example's tokens (FT701, FT702)
    count: int | None = None  # what the rule counts: examples (FT107, FT808, FT809), images (FT504, FT806)
    file_bytes: int | None = None  # the file's size (FT108, FT810)
    limit: int | None = None  # the bound that tokens, count or file_bytes broke


NO_FACTS = Facts()
FACT_FIELDS = ("related_line", "tokens", "count", "file_bytes", "limit")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. `line` is 1-based in the input file (0 = the whole file);
    `path` is a JSON path inside the record such as ``messages[2].content`` ("" = the record).
    The `Facts` fields carry the numbers behind the message (None where not applicable)."""

    code: str
    severity: Severity
    line: int
    path: str
    message: str
    related_line: int | None = None
    tokens: int | None = None
    count: int | None = None
    file_bytes: int | None = None
    limit: int | None = None

    @classmethod
    def of(cls, code: str, severity: Severity, line: int, path: str, message: str,
           facts: Facts = NO_FACTS) -> Finding:
        return cls(code, severity, line, path, message, facts.related_line, facts.tokens,
                   facts.count, facts.file_bytes, facts.limit)

    def to_dict(self) -> dict:
        """Stable keys: code, severity, line, path, message, then every fact (null = n/a)."""
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: Iterable[str | int]) -> str:
    """('messages', 2, 'content') → 'messages[2].content'. A key that is not an identifier is
    quoted so the path stays unambiguous: ('messages', 0, 'a.b') → "messages[0]['a.b']"."""
    out = ""
    for part in parts:
        out = child_path(out, part)
    return out


def child_path(path: str, part: str | int) -> str:
    """The path of `part` (an index or a key) inside the value at `path` ("" = the record)."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if _IDENTIFIER.fullmatch(part):
        return f"{path}.{part}" if path else part
    quoted = part.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{quoted}']"
