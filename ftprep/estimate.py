"""`estimate`: what a fine-tuning job would cost, traceable to the registry's prices.

billed tokens = Σ_examples min(tokens, limit) × epochs;  cost = price per 1M × billed / 1e6.
Validation tokens are reported separately, priced like training tokens as an upper bound.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ftprep.count import TokenCounts, count_tokens
from ftprep.errors import UsageError
from ftprep.models import (
    AVAILABLE,
    OPENAI_PROVIDER,
    ModelInfo,
    get_model,
    lifecycle_status,
    list_models,
)
from ftprep.targets.registry import TargetInfo, get_target

DEFAULT_EPOCHS = 3
MAX_EPOCHS = 25
MIN_TARGET_TOKENS_EXAMPLES = 100  # auto raises epochs until n × epochs reaches this
MAX_TARGET_EXAMPLES = 25_000  # ... and lowers them when n × epochs exceeds this


def auto_epochs(n_examples: int) -> int:
    """The platform's documented default: 3, raised for tiny sets, lowered for huge ones."""
    if n_examples <= 0:
        return DEFAULT_EPOCHS
    if n_examples * DEFAULT_EPOCHS < MIN_TARGET_TOKENS_EXAMPLES:
        return min(MAX_EPOCHS, MIN_TARGET_TOKENS_EXAMPLES // n_examples)
    if n_examples * DEFAULT_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // n_examples)
    return DEFAULT_EPOCHS


def training_cost(billed_tokens: int, epochs: int, price_per_1m: float) -> float:
    """Cost in USD of `billed_tokens` per epoch trained `epochs` times."""
    return round(price_per_1m * billed_tokens * epochs / 1_000_000, 6)


@dataclass
class Inference:
    """Serving cost of the fine-tuned model vs. its base model with a longer few-shot prompt."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_saved: int
    fine_tuned_cost_usd: float
    base_cost_usd: float
    saving_per_request_usd: float
    break_even_requests: int | None  # None: the fine-tuned model never pays back

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Estimate:
    model: str
    examples: int
    epochs: int
    billed_tokens: int  # already × epochs
    cost_usd: float
    price_per_1m: float
    max_example_tokens: int
    lifecycle: str
    validation_examples: int | None = None
    validation_billed_tokens: int | None = None
    validation_cost_usd: float | None = None
    inference: Inference | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "inference"}
        d["inference"] = self.inference.to_dict() if self.inference else None
        return d


def _resolve_epochs(epochs: int | str | None, n_examples: int) -> int:
    if epochs in (None, "auto"):
        return auto_epochs(n_examples)
    try:
        value = int(epochs)
    except (TypeError, ValueError):
        raise UsageError("must be a positive integer or 'auto'", param="epochs",
                         value=epochs) from None
    if value < 1:
        raise UsageError("must be at least 1", param="epochs", value=value)
    return value


def inference_comparison(
    info: ModelInfo, training_usd: float | Fraction, *, requests: int, prompt_tokens: int,
    completion_tokens: int, prompt_tokens_saved: int,
) -> Inference:
    """Fine-tuned model with a short prompt vs. the base model with `prompt_tokens_saved` more.
    The break-even is computed in exact decimal arithmetic: with binary floats a cost that is
    exactly N requests' saving often came out as N + 1."""
    p = info.prices
    tuned = (prompt_tokens * _exact(p.ft_input) + completion_tokens * _exact(p.ft_output)) / 10**6
    base = ((prompt_tokens + prompt_tokens_saved) * _exact(p.base_input)
            + completion_tokens * _exact(p.base_output)) / 10**6
    saving = base - tuned
    break_even = math.ceil(_exact(training_usd) / saving) if saving > 0 else None
    return Inference(
        requests, prompt_tokens, completion_tokens, prompt_tokens_saved,
        round(float(tuned * requests), 6), round(float(base * requests), 6),
        round(float(saving), 8), break_even,
    )


def _exact(value: float | Fraction) -> Fraction:
    """The decimal a price was written as (0.8, not the binary float nearest to it)."""
    return value if isinstance(value, Fraction) else Fraction(repr(float(value)))


def _exact_training_usd(billed_tokens: int, price_per_1m: float) -> Fraction:
    return _exact(price_per_1m) * billed_tokens / 10**6


def estimate_counts(
    counts: TokenCounts, info: ModelInfo, *, epochs: int | str | None = "auto",
    validation: TokenCounts | None = None, today: dt.date | None = None,
) -> Estimate:
    """Price already-counted examples for one model."""
    n = len(counts.tokens)
    n_epochs = _resolve_epochs(epochs, n)
    per_epoch = counts.billed(info.max_example_tokens)
    status = lifecycle_status(info, today)
    est = Estimate(
        model=info.id, examples=n, epochs=n_epochs, billed_tokens=per_epoch * n_epochs,
        cost_usd=training_cost(per_epoch, n_epochs, info.prices.training),
        price_per_1m=info.prices.training, max_example_tokens=info.max_example_tokens,
        lifecycle=status.state,
    )
    if status.state != AVAILABLE:  # shut down, closed, or closing on a known date
        est.warnings.append(status.message)
    if validation is not None:
        val = validation.billed(info.max_example_tokens)
        est.validation_examples = len(validation.tokens)
        est.validation_billed_tokens = val * n_epochs
        est.validation_cost_usd = training_cost(val, n_epochs, info.prices.training)
    if counts.estimated:
        est.warnings.append("some examples hold images or tools: their token counts are estimates")
    return est


def job_limit_warning(est: Estimate, target: TargetInfo) -> str | None:
    """The target's tokens × epochs limit per job (Azure: 2B), when this job would pass it.
    Validation tokens are not added: the platforms count the training file."""
    limit = target.job_token_limit
    if limit is None or est.billed_tokens <= limit:
        return None
    unsure = " (an unconfirmed fact: see `ftprep targets " + target.name + "`)" \
        if "job_token_limit" in target.uncertain else ""
    fewer = max(1, limit // max(1, est.billed_tokens // est.epochs))
    return (f"{est.billed_tokens:,} tokens × epochs is over {target.name}'s {limit:,} per job"
            f"{unsure}: {target.name} would refuse it; train fewer epochs (at most {fewer}) "
            "or fewer examples")


def estimate_file(
    path: str | Path, *, model: str, epochs: int | str | None = "auto",
    validation: str | Path | None = None, models_file: str | Path | None = None,
    requests: int | None = None, prompt_tokens_saved: int = 0, prompt_tokens: int = 500,
    completion_tokens: int = 200, workers: int | None = None, today: dt.date | None = None,
    target: str | None = None, targets_file: str | Path | None = None,
) -> Estimate:
    """Estimate the training cost of `path` on `model` (optionally with inference break-even).
    `today` decides the lifecycle warning (default: the real date); `target` adds that
    platform's per-job token limit (e.g. Azure's) as a warning."""
    _refuse_stdin_twice(path, validation)
    info = get_model(model, models_file=models_file)
    spec = get_target(target, targets_file) if target is not None else None
    counts = count_tokens(path, info.encoding, workers=workers)
    val = count_tokens(validation, info.encoding, workers=workers) if validation else None
    est = estimate_counts(counts, info, epochs=epochs, validation=val, today=today)
    over = job_limit_warning(est, spec) if spec is not None else None
    if over:
        est.warnings.append(over)
    if requests is not None:
        est.inference = inference_comparison(
            info, _exact_training_usd(est.billed_tokens, est.price_per_1m), requests=requests,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            prompt_tokens_saved=prompt_tokens_saved,
        )
    return est


def _refuse_stdin_twice(path: str | Path, validation: str | Path | None) -> None:
    # The second reader of stdin finds it empty: the validation set would silently be 0.
    if str(path) == "-" and validation is not None and str(validation) == "-":
        raise UsageError("the training and validation data cannot both come from stdin ('-'); "
                         "give one of them as a file")


def estimate_all(
    path: str | Path, *, epochs: int | str | None = "auto", validation: str | Path | None = None,
    models_file: str | Path | None = None, workers: int | None = None,
    today: dt.date | None = None,
) -> list[Estimate]:
    """One estimate per model that can still be fine-tuned, cheapest first. The file is
    counted once per tokenizer, not once per model."""
    _refuse_stdin_twice(path, validation)
    models = [m for m in list_models(models_file)
              if m.provider == OPENAI_PROVIDER and lifecycle_status(m, today).can_fine_tune]
    encodings = sorted({m.encoding for m in models})
    if len(encodings) > 1 and "-" in (str(path), str(validation)):
        # stdin can be read once; the second tokenizer would silently see 0 examples
        raise UsageError(f"needs one pass per tokenizer ({', '.join(encodings)}) "
                         "and stdin ('-') can be read only once; give a file", param="model",
                         value="all")
    by_encoding: dict[str, tuple[TokenCounts, TokenCounts | None]] = {}
    estimates = []
    for info in models:
        if info.encoding not in by_encoding:
            by_encoding[info.encoding] = (
                count_tokens(path, info.encoding, workers=workers),
                count_tokens(validation, info.encoding, workers=workers) if validation else None,
            )
        counts, val = by_encoding[info.encoding]
        estimates.append(estimate_counts(counts, info, epochs=epochs, validation=val, today=today))
    return sorted(estimates, key=lambda e: (e.cost_usd, e.model))


__all__ = [
    "Estimate",
    "Inference",
    "auto_epochs",
    "estimate_all",
    "estimate_counts",
    "estimate_file",
    "inference_comparison",
    "job_limit_warning",
    "training_cost",
]
