"""What an eval costs: inference prices from the model registry, an upper bound before any
request, and the real figure from the responses' `usage` afterwards.

A fine-tuned model (`ft:BASE:...`) is priced at its base model's fine-tuned inference prices
(`ft_input`/`ft_output`), any other registry model at `base_input`/`base_output`. A model the
registry does not know (a deployment name, an open model) has no price: its cost is None,
never a guess.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.models import get_model
from ftprep.tokens import count_example, get_encoding

FALLBACK_ENCODING = "o200k_base"  # for token budgets of models the registry does not know


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


def inference_price(model: str, models_file: str | Path | None = None) -> Price | None:
    """The per-token price of serving `model`, or None when the registry does not know it."""
    try:
        info = get_model(model, models_file)
    except UsageError:
        return None
    prices = info.prices
    if model.startswith("ft:"):
        return Price(prices.ft_input, prices.ft_output)
    return Price(prices.base_input, prices.base_output)


def encoding_for(model: str, models_file: str | Path | None = None) -> Any:
    try:
        name = get_model(model, models_file).encoding
    except UsageError:
        name = FALLBACK_ENCODING
    return get_encoding(name)


def prompt_tokens(messages: list[dict[str, Any]], tools: list[Any], encoding: Any) -> int:
    """Tokens the request's prompt is billed as (the cookbook formula `count` uses)."""
    record: dict[str, Any] = {"messages": messages}
    if tools:
        record["tools"] = tools
    return count_example(record, encoding).total


def reference_tokens(message: dict[str, Any], encoding: Any) -> int:
    """Tokens of a reference answer: its text, or its tool calls as JSON."""
    text = message.get("content")
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False) if text else ""
    calls = message.get("tool_calls")
    if calls:
        text += json.dumps(calls, ensure_ascii=False)
    return len(encoding.encode(text, disallowed_special=()))


def default_max_tokens(references: list[dict[str, Any]]) -> int:
    """A little above the longest reference: +25% and at least 16 tokens of headroom."""
    encoding = get_encoding(FALLBACK_ENCODING)
    longest = max((reference_tokens(r, encoding) for r in references), default=0)
    return longest + max(16, -(-longest // 4))


def sum_costs(costs: list[float | None]) -> float | None:
    """Total of known costs; None when any part is unknown (no partial total pretends)."""
    if any(c is None for c in costs):
        return None
    return round(sum(c for c in costs if c is not None), 10)
