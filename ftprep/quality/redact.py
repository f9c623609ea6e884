"""`convert --redact`: secrets and personal data replaced by typed placeholders."""
from __future__ import annotations

from collections import Counter
from typing import Any

from ftprep.quality.sensitive import PLACEHOLDERS, find_sensitive, redact
from ftprep.quality.walk import map_strings


class Redactor:
    """Redacts texts and records, counting the values it replaced by kind."""

    def __init__(self, counts: Counter[str] | None = None) -> None:
        self.counts: Counter[str] = Counter() if counts is None else counts

    def text(self, text: str) -> str:
        spans = find_sensitive(text)
        self.counts.update(span.kind for span in spans)
        return redact(text, spans)

    def record(self, value: Any) -> Any:
        """A copy of `value` (a record, a row, anything JSON-like) with every string redacted."""
        return map_strings(value, self.text)


__all__ = ["PLACEHOLDERS", "Redactor"]
