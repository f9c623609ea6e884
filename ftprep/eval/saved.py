"""An eval read back from the folder `ftprep eval -o DIR` wrote (summary.json and
results.jsonl), as the `EvalReport` the eval's views render: how `ftprep report --eval DIR`
shows it with the same renderer."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftprep.errors import InputError
from ftprep.eval.results import ComparisonResult, EvalReport, ExampleResult, ModelSummary
from ftprep.io.jsonl import iter_records


def _pair(value: Any) -> tuple[float, float] | None:
    return None if not isinstance(value, list) or len(value) != 2 or None in value \
        else (float(value[0]), float(value[1]))


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def load_eval_dir(folder: str | Path, *, max_examples: int | None = None) -> EvalReport:
    """The eval saved in `folder`; with `max_examples`, only the results of the examples
    where the candidates disagree most are kept (the summary is always whole)."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        report = _report(summary)
    except FileNotFoundError:
        raise InputError("no summary.json here (the folder `ftprep eval -o` wrote)",
                         path=str(folder)) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"not an eval summary: {type(e).__name__}: {e}",
                         path=str(summary_path)) from None
    results = folder / "results.jsonl"
    if results.exists():
        report.results = [_result(line, r, results) for line, r in iter_records(results)]
        if max_examples is not None:
            kept = set(report.disagreements()[:max_examples])
            report.results = [r for r in report.results if r.line in kept]
    return report


def _report(s: dict[str, Any]) -> EvalReport:
    details = s.get("details") or {}
    reasons = {(r["model"], r["metric"]): r["reason"] for r in details.get("reasons", [])}
    models = [ModelSummary(
        model=m["model"], label=m.get("label", m["model"]), scores=dict(m["scores"]),
        ci={k: _pair(v) for k, v in m.get("ci", {}).items()}, errors=int(m.get("errors", 0)),
        latency_p50=m.get("latency_ms", {}).get("p50"),
        latency_p95=m.get("latency_ms", {}).get("p95"),
        prompt_tokens=int(m.get("usage", {}).get("prompt_tokens", 0)),
        completion_tokens=int(m.get("usage", {}).get("completion_tokens", 0)),
        cost_usd=m.get("cost_usd")) for m in s["models"]]
    comparisons = [ComparisonResult(
        model=c["model"], baseline=c["baseline"], metric=c["metric"], n=int(c["n"]),
        delta=_nan(c.get("delta")), low=_nan((c.get("ci") or [None, None])[0]),
        high=_nan((c.get("ci") or [None, None])[1]), p_value=_nan(c.get("p_value")),
        verdict=c["verdict"], reason=reasons.get((c["model"], c["metric"]), ""))
        for c in s.get("comparisons", [])]
    return EvalReport(
        examples=int(s["examples"]), skipped=int(s.get("skipped", 0)), metrics=list(s["metrics"]),
        models=models, comparisons=comparisons,
        skipped_lines=list(details.get("skipped_lines", [])),
        requests_sent=int(details.get("requests_sent", 0)),
        cached_replies=int(details.get("cached_replies", 0)), judge=details.get("judge"),
        scoring_errors=list(details.get("scoring_errors", [])))


def _result(at: int, r: Any, path: Path) -> ExampleResult:
    try:
        usage = r.get("usage") or {}
        return ExampleResult(
            line=int(r["line"]), candidate=str(r["candidate"]), output=r.get("output"),
            tool_calls=tuple(r.get("tool_calls") or ()), scores=dict(r.get("scores") or {}),
            latency_ms=r.get("latency_ms"), prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)), error=r.get("error"),
            cached=bool(r.get("cached", False)))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"not an eval result: {type(e).__name__}: {e}", path=str(path),
                         line=at) from None


__all__ = ["load_eval_dir"]
