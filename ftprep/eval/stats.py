"""Statistics for `ftprep eval`: a mean with its bootstrap CI, a paired comparison with a p-value,
and a verdict that says "insufficient evidence" rather than guess.

scipy.stats does the work (bootstrap with BCa intervals, binomtest, permutation_test); numpy and
scipy are imported lazily, so `ftprep --help` never loads them. Every random step takes a seed,
so the same scores always give the same numbers.

Scores are in [0, 1] (metrics guarantee it), so paired differences are in [-1, 1]. Degenerate
inputs give documented values instead of NaN or an exception:
- no scores: mean 0.0 with the interval [0, 1] (nothing is known); no pairs: delta 0.0, interval
  [-1, 1], p = 1.0;
- one score or one pair: the value itself with the widest interval ([0, 1] or [-1, 1]); a
  bootstrap of one value would claim certainty;
- identical scores (or identical differences): the interval is that single value; no differences
  at all give p = 1.0.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftprep.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

VERDICTS = ("better", "worse", "no_difference", "insufficient_evidence")
MIN_PAIRS = 30
MAX_FAILURE_RATE = 0.10
MIN_RESAMPLES = 2000
ALPHA = 0.05  # the verdict's significance level, matching the 95% intervals
EXACT_PERMUTATION_MAX_N = 16  # up to 2**16 sign patterns: the permutation p-value is exact
BCA_MAX_N = 2000  # above this many values the interval is the plain percentile one
_BATCH_CELLS = 2_000_000  # resampled values held at once (16 MB), whatever the number of examples


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci": [self.low, self.high]}


@dataclass(frozen=True)
class Comparison:
    """Candidate minus baseline on the examples both answered."""

    n: int
    delta: float
    low: float
    high: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "delta": self.delta, "ci": [self.low, self.high], "p_value": self.p_value}


def mean_ci(
    scores: Sequence[float], *, seed: int = 0, resamples: int = 2000, level: float = 0.95
) -> Estimate:
    """The mean of `scores` (each in [0, 1]) with its bootstrap confidence interval (BCa,
    `resamples` ≥ 2000 resamples drawn from `seed`)."""
    values = _scores(scores, "scores")
    _check_options(resamples, level)
    if values.size == 0:
        return Estimate(0.0, 0.0, 1.0)
    mean = float(values.mean())
    if values.size == 1:
        return Estimate(mean, 0.0, 1.0)
    low, high = _bootstrap(values, seed=seed, resamples=resamples, level=level)
    return Estimate(mean, low, high)


def compare_paired(
    candidate: Sequence[float],
    baseline: Sequence[float],
    *,
    binary: bool,
    seed: int = 0,
    resamples: int = 2000,
) -> Comparison:
    """The paired difference candidate - baseline: its mean, a 95% paired-bootstrap CI (BCa over
    the per-example differences, `resamples` ≥ 2000, seeded) and a two-sided p-value.

    `binary` metrics (every score 0 or 1) use the exact sign test on the discordant pairs, which is
    the exact McNemar test; other metrics use the paired permutation test (random sign flips of the
    differences; exact, over all 2**n flips, when n ≤ 16)."""
    import numpy as np

    cand = _scores(candidate, "candidate")
    base = _scores(baseline, "baseline")
    if cand.size != base.size:
        raise ValueError(f"candidate= has {cand.size} scores and baseline= {base.size}; they must be paired")
    _check_options(resamples, 0.95)
    if binary:
        for name, values in (("candidate", cand), ("baseline", base)):
            if not np.all((values == 0.0) | (values == 1.0)):
                raise ValueError(f"binary=True but {name}= has scores other than 0 and 1")
    n = int(cand.size)
    if n == 0:
        return Comparison(0, 0.0, -1.0, 1.0, 1.0)
    diffs = cand - base
    delta = float(diffs.mean())
    p_value = _sign_test(diffs) if binary else _permutation_test(diffs, seed=seed, resamples=resamples)
    if n == 1:
        return Comparison(1, delta, -1.0, 1.0, p_value)
    low, high = _bootstrap(diffs, seed=seed, resamples=resamples, level=0.95)
    return Comparison(n, delta, low, high, p_value)


def verdict(c: Comparison, *, candidate_failure_rate: float = 0.0, baseline_failure_rate: float = 0.0) -> str:
    """One of VERDICTS, in this order:
    1. either side lost more than 10% of its requests → insufficient_evidence (the missing
       answers may be the hard ones, so the comparison could be biased);
    2. the CI is above 0 → better, below 0 → worse, provided the paired test agrees (p < 0.05);
    3. fewer than 30 pairs → insufficient_evidence;
    4. the CI excludes 0 but the test does not agree → insufficient_evidence; else no_difference.
    The agreement in 2 guards against bootstrap intervals that are too narrow on few examples
    (3 of 3 pairs better gives the interval [1, 1] but p = 0.25)."""
    for name, rate in (("candidate_failure_rate", candidate_failure_rate),
                       ("baseline_failure_rate", baseline_failure_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name}={rate!r} must be a fraction in [0, 1]")
    if max(candidate_failure_rate, baseline_failure_rate) > MAX_FAILURE_RATE:
        return "insufficient_evidence"
    confirmed = c.p_value < ALPHA
    if c.low > 0 and confirmed:
        return "better"
    if c.high < 0 and confirmed:
        return "worse"
    if c.n < MIN_PAIRS or c.low > 0 or c.high < 0:
        return "insufficient_evidence"
    return "no_difference"


def verdict_reason(
    c: Comparison,
    *,
    metric: str,
    candidate_failure_rate: float = 0.0,
    baseline_failure_rate: float = 0.0,
    candidate: str = "the candidate",
    baseline: str = "the baseline",
) -> str:
    """One plain sentence: the verdict and what it rests on (n, metric, CI, p-value)."""
    result = verdict(c, candidate_failure_rate=candidate_failure_rate,
                     baseline_failure_rate=baseline_failure_rate)
    label = result.replace("_", " ")
    for who, rate in ((candidate, candidate_failure_rate), (baseline, baseline_failure_rate)):
        if rate > MAX_FAILURE_RATE:
            return (f"{label}: {rate:.0%} of {who}'s requests failed (more than {MAX_FAILURE_RATE:.0%}), "
                    "and the missing answers could bias the comparison.")
    if c.n == 0:
        return f"{label}: no example was answered by both {candidate} and {baseline}."
    ci = f"95% CI {c.low:+.3f} to {c.high:+.3f}, {_p(c.p_value)}"
    if result in ("better", "worse"):
        direction = "higher" if result == "better" else "lower"
        return (f"{label}: on {c.n} paired examples {candidate} scores {abs(c.delta):.3f} {direction} "
                f"than {baseline} on {metric} ({ci}).")
    interval = f"the {metric} difference of {c.delta:+.3f} has a 95% CI of {c.low:+.3f} to {c.high:+.3f}"
    if c.low > 0 or c.high < 0:
        why = f"{interval}, which excludes 0, but the paired test does not confirm it ({_p(c.p_value)})"
    else:
        why = f"{interval}, which includes 0 ({_p(c.p_value)})"
    if c.n < MIN_PAIRS:
        return f"{label}: only {c.n} paired examples (at least {MIN_PAIRS} needed) and {why}."
    return f"{label}: on {c.n} paired examples {why}."


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


# -- the computations ---------------------------------------------------------------------------


def _scores(values: Sequence[float], name: str) -> np.ndarray:
    import numpy as np

    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}= must be a sequence of numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name}= must be a flat sequence of numbers")
    if not np.all(np.isfinite(array)) or np.any(array < 0.0) or np.any(array > 1.0):
        raise ValueError(f"{name}= must hold scores in [0, 1] (no NaN)")
    return array


def _check_options(resamples: int, level: float) -> None:
    if resamples < MIN_RESAMPLES:
        raise UsageError(f"resamples={resamples} is too few for a stable interval (use ≥ {MIN_RESAMPLES})")
    if not 0.0 < level < 1.0:
        raise UsageError(f"level={level!r} must be between 0 and 1 (e.g. 0.95)")


def _bootstrap(values: np.ndarray, *, seed: int, resamples: int, level: float) -> tuple[float, float]:
    """BCa bootstrap interval of the mean; a percentile interval where BCa is undefined."""
    import numpy as np

    stats = _scipy_stats()
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])  # every resample is the same: no spread to show
    batch = max(1, min(resamples, _BATCH_CELLS // values.size))
    # BCa's jackknife costs n² (20,000 examples: 10 s); on that many examples the bootstrap
    # distribution of a mean is close to normal and the percentile interval agrees with BCa.
    methods = ("BCa", "percentile") if values.size <= BCA_MAX_N else ("percentile",)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns, then returns NaN, where BCa is undefined
        for method in methods:
            result = stats.bootstrap(
                (values,), np.mean, n_resamples=resamples, batch=batch, vectorized=True,
                confidence_level=level, method=method, rng=np.random.default_rng(seed),
            )
            low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
            if math.isfinite(low) and math.isfinite(high):
                return low, high
    mean = float(values.mean())  # unreachable in practice: percentile intervals are always finite
    return mean, mean


def _sign_test(diffs: np.ndarray) -> float:
    """Exact two-sided sign test on the discordant pairs (= exact McNemar)."""
    stats = _scipy_stats()
    wins, losses = int((diffs > 0).sum()), int((diffs < 0).sum())
    if wins + losses == 0:
        return 1.0
    return min(1.0, float(stats.binomtest(wins, wins + losses, 0.5).pvalue))


def _permutation_test(diffs: np.ndarray, *, seed: int, resamples: int) -> float:
    """Two-sided paired permutation test of the mean difference: with no real difference each
    pair's difference is as likely to have either sign. Exact over all 2**n sign patterns when
    n ≤ 16, else `resamples` random patterns with the +1 correction (p is never 0).

    numpy rather than scipy.stats.permutation_test, which gives the same p-values (the tests
    check it) but makes one array per example for one-sample sign flips: 20,000 pairs took 5 s,
    100,000 took 80 s."""
    import numpy as np

    n = diffs.size
    observed = abs(float(diffs.sum()))
    threshold = observed * (1 - 1e-9)  # sums of the same values in another order differ in the last bits
    if not np.any(diffs):
        return 1.0
    if n <= EXACT_PERMUTATION_MAX_N:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        null = np.abs((patterns * 2.0 - 1.0) @ diffs)
        return float(np.count_nonzero(null >= threshold)) / 2**n
    rng = np.random.default_rng(seed)
    batch = max(1, min(resamples, _BATCH_CELLS // n))
    total = float(diffs.sum())
    hits = 0
    for start in range(0, resamples, batch):
        # One random bit per difference (random bytes unpacked: 20× faster than integers(0, 2));
        # flipping the differences where the bit is 0 gives the sum 2·(bits @ diffs) - total.
        raw = rng.integers(0, 256, size=(min(batch, resamples - start), (n + 7) // 8), dtype=np.uint8)
        bits = np.unpackbits(raw, axis=1, count=n)
        hits += int(np.count_nonzero(np.abs(2.0 * (bits.astype(float) @ diffs) - total) >= threshold))
    return min(1.0, (hits + 1) / (resamples + 1))


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise UsageError("eval statistics need scipy: pip install 'ftprep[eval]'") from None
    return stats
