"""What every check says: a Finding with a stable code and an exact position."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. `line` is 1-based in the input file (0 = the whole file);
    `path` is a JSON path inside the record such as ``messages[2].content`` ("" = the record)."""

    code: str
    severity: Severity
    line: int
    path: str
    message: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d
