"""What an eval found, as dataclasses. `EvalReport.to_dict()` is exactly what
`ftprep eval --format json` prints (keys and order are a stable interface)."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from ftprep.errors import EXIT_FINDINGS, EXIT_OK


def _num(value: float | None) -> float | None:
    """JSON-safe number: NaN (nothing to measure) becomes null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


@dataclass(frozen=True)
class ExampleResult:
    """One example × one candidate: one line of results.jsonl."""

    line: int
    candidate: str
    output: str | None
    tool_calls: tuple[dict[str, Any], ...]
    scores: dict[str, float | None]
    latency_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    error: str | None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "candidate": self.candidate, "output": self.output,
                "tool_calls": list(self.tool_calls),
                "scores": {k: _num(v) for k, v in self.scores.items()},
                "latency_ms": self.latency_ms,
                "usage": {"prompt_tokens": self.prompt_tokens,
                          "completion_tokens": self.completion_tokens},
                "error": self.error, "cached": self.cached}


@dataclass(frozen=True)
class ModelSummary:
    """Per candidate: mean and 95% CI per metric, errors, latency, usage and cost."""

    model: str  # the label when one is given, else the model name
    label: str
    scores: dict[str, float | None]
    ci: dict[str, tuple[float, float] | None]
    errors: int
    latency_p50: float | None
    latency_p95: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    model_id: str = ""  # the model name sent in requests (not in the JSON shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "label": self.label,
            "scores": {k: _num(v) for k, v in self.scores.items()},
            "ci": {k: (None if v is None or any(_num(x) is None for x in v) else list(v))
                   for k, v in self.ci.items()},
            "errors": self.errors,
            "latency_ms": {"p50": self.latency_p50, "p95": self.latency_p95},
            "usage": {"prompt_tokens": self.prompt_tokens,
                      "completion_tokens": self.completion_tokens},
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True)
class ComparisonResult:
    """A candidate against the baseline on one metric, over the examples both answered."""

    model: str
    baseline: str
    metric: str
    n: int
    delta: float
    low: float
    high: float
    p_value: float
    verdict: str
    reason: str = ""  # what the verdict rests on, in words (not in the JSON shape)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "baseline": self.baseline, "metric": self.metric,
                "n": self.n, "delta": _num(self.delta),
                "ci": [_num(self.low), _num(self.high)], "p_value": _num(self.p_value),
                "verdict": self.verdict}


@dataclass
class EvalReport:
    """Everything one eval produced. `results` holds every example × candidate; `prompts`
    and `references` (by line) let views show them beside the answers."""

    examples: int
    skipped: int
    metrics: list[str]
    models: list[ModelSummary]
    comparisons: list[ComparisonResult]
    results: list[ExampleResult] = field(default_factory=list)
    prompts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    references: dict[int, dict[str, Any]] = field(default_factory=dict)
    skipped_lines: list[dict[str, Any]] = field(default_factory=list)
    requests_sent: int = 0
    cached_replies: int = 0
    judge: dict[str, Any] | None = None  # judge model, its errors and cost, when used
    scoring_errors: list[dict[str, Any]] = field(default_factory=list)  # unscored, and why

    def to_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "skipped": self.skipped, "metrics": list(self.metrics),
                "models": [m.to_dict() for m in self.models],
                "comparisons": [c.to_dict() for c in self.comparisons]}

    @property
    def failed(self) -> int:
        return sum(m.errors for m in self.models)

    @property
    def exit_code(self) -> int:
        """1 when some requests failed after retries (the results are still complete)."""
        return EXIT_FINDINGS if self.failed else EXIT_OK

    def disagreements(self) -> list[int]:
        """Lines ordered by how much the candidates disagree (score spread summed over the
        metrics, an error counting as the widest spread), then by line."""
        by_line: dict[int, list[ExampleResult]] = {}
        for r in self.results:
            by_line.setdefault(r.line, []).append(r)

        def spread(rows: list[ExampleResult]) -> float:
            if any(r.error for r in rows) and not all(r.error for r in rows):
                return float(len(self.metrics))
            total = 0.0
            for metric in self.metrics:
                values = [r.scores.get(metric) for r in rows]
                known = [v for v in values if v is not None and not math.isnan(v)]
                if len(known) > 1:
                    total += max(known) - min(known)
            return total

        return sorted(by_line, key=lambda line: (-spread(by_line[line]), line))

    def summary_dict(self) -> dict[str, Any]:
        """summary.json: the JSON report plus what it rests on (skipped lines, verdict
        reasons, requests sent, judge)."""
        return {**self.to_dict(),
                "details": {"skipped_lines": self.skipped_lines,
                            "reasons": [{"model": c.model, "metric": c.metric,
                                         "reason": c.reason} for c in self.comparisons],
                            "requests_sent": self.requests_sent,
                            "cached_replies": self.cached_replies,
                            "judge": self.judge, "scoring_errors": self.scoring_errors}}


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile `q` (0..100); None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[int(q) - 1], 3)
