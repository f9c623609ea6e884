"""Evaluate fine-tunes against their alternatives on the held-out split (`ftprep eval`).

    from ftprep.eval import evaluate, Candidate
    report = evaluate("split/test.jsonl", ["gpt-4o-mini", "ft:gpt-4o-mini:acme::abc"])
    report.to_dict()  # what `ftprep eval --format json` prints

Modules: `examples` (prompts and references), `candidates` (model, endpoint, prompt variant),
`runner` (concurrency, retries, back-pressure), `cache` (persistent responses), `metrics`,
`stats`, `judge`, `cost`, `results` (dataclasses), `pipeline` (`evaluate`), `chat` (`try`).
Names are imported lazily so that `import ftprep.eval` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate": "ftprep.eval.pipeline",
    "plan_eval": "ftprep.eval.pipeline",
    "EvalOptions": "ftprep.eval.pipeline",
    "EvalPlan": "ftprep.eval.pipeline",
    "DryRun": "ftprep.eval.pipeline",
    "EvalReport": "ftprep.eval.results",
    "Candidate": "ftprep.eval.candidates",
    "load_candidates": "ftprep.eval.candidates",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftprep.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
