"""Token totals per split for --model."""
from __future__ import annotations

from typing import Any

from ftprep.errors import UsageError
from ftprep.io.jsonl import parse_line
from ftprep.split.constants import TEST, TRAIN


class _TokenCounter:
    """Token totals per split for --model (token counting lives in ftprep.tokens/models)."""

    def __init__(self, model: str) -> None:
        try:  # imported lazily: another area, and tiktoken is slow to import
            from ftprep.models import get_model
            from ftprep.tokens import count_example, get_encoding
        except ImportError as e:
            raise UsageError(f"--model needs token counting, which is not available: {e}") from None
        spec = get_model(model)
        self.model = model
        self.encoding = get_encoding(spec.encoding)
        self.limit: int | None = getattr(spec, "max_example_tokens", None)
        self.count_example = count_example
        self.totals = {TRAIN: 0, TEST: 0}
        self.over_limit = {TRAIN: 0, TEST: 0}

    def add(self, split: str, raw: bytes) -> None:
        n = self.count_example(parse_line(raw, 0).value, self.encoding).total
        self.totals[split] += n
        if self.limit is not None and n > self.limit:
            self.over_limit[split] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, TRAIN: self.totals[TRAIN], TEST: self.totals[TEST],
                "max_example_tokens": self.limit, "over_limit": self.over_limit}
