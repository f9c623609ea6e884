"""ftprep.eval.stats against hand-computed cases: sign-test p-values, exact permutation p-values,
intervals that contain a known difference, seeded determinism, degenerate inputs and the verdict
boundaries."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.errors import UsageError
from ftprep.eval.stats import (
    MAX_FAILURE_RATE,
    MIN_PAIRS,
    VERDICTS,
    Comparison,
    Estimate,
    compare_paired,
    mean_ci,
    verdict,
    verdict_reason,
)


def pairs(wins: int, losses: int, ties: int) -> tuple[list[float], list[float]]:
    """Binary scores with `wins` examples only the candidate got right, `losses` only the
    baseline, and `ties` both got right."""
    candidate = [1.0] * wins + [0.0] * losses + [1.0] * ties
    baseline = [0.0] * wins + [1.0] * losses + [1.0] * ties
    return candidate, baseline


# -- p-values -----------------------------------------------------------------------------------


def test_sign_test_9_of_10_discordant_pairs() -> None:
    # Two-sided exact binomial: 2 · (C(10,9) + C(10,10)) / 2**10 = 22/1024.
    c = compare_paired(*pairs(9, 1, 20), binary=True)
    assert c.p_value == 0.021484375
    assert (c.n, c.delta) == (30, pytest.approx(8 / 30))
    assert compare_paired(*pairs(1, 9, 20), binary=True).p_value == 0.021484375


@pytest.mark.parametrize(("wins", "losses", "expected"), [
    (5, 0, 2 / 32), (3, 3, 1.0), (0, 0, 1.0), (1, 0, 1.0), (10, 0, 2 / 1024), (7, 2, 2 * 46 / 512),
])
def test_sign_test_only_counts_discordant_pairs(wins: int, losses: int, expected: float) -> None:
    assert compare_paired(*pairs(wins, losses, 40), binary=True).p_value == pytest.approx(expected)


def test_binary_needs_0_1_scores() -> None:
    with pytest.raises(ValueError, match="binary=True but candidate= has scores other than 0 and 1"):
        compare_paired([0.5, 1.0], [0.0, 1.0], binary=True)


def brute_force_p(diffs: list[float]) -> float:
    observed = abs(sum(diffs))
    sums = [abs(sum(s * d for s, d in zip(signs, diffs, strict=True)))
            for signs in itertools.product((1, -1), repeat=len(diffs))]
    return sum(1 for s in sums if s >= observed - 1e-12) / len(sums)


def test_permutation_p_value_is_exact_for_small_n() -> None:
    assert compare_paired([0.5] * 3, [0.0] * 3, binary=False).p_value == 2 / 8
    diffs = [0.3, 0.1, -0.2, 0.4, 0.25, -0.05, 0.6, 0.0, 0.15, -0.3, 0.45, 0.2]
    baseline = [0.4] * len(diffs)
    candidate = [0.4 + d for d in diffs]
    assert compare_paired(candidate, baseline, binary=False).p_value == pytest.approx(brute_force_p(diffs))


def test_permutation_p_value_agrees_with_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(7)
    for n in (14, 40):  # exact, then random sign flips
        candidate, baseline = rng.random(n), np.clip(rng.random(n) - 0.1, 0, 1)
        ours = compare_paired(candidate, baseline, binary=False, resamples=20_000).p_value
        theirs = stats.permutation_test(
            (candidate - baseline,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
            vectorized=True, n_resamples=100_000, rng=np.random.default_rng(0)).pvalue
        assert ours == pytest.approx(theirs, abs=0.01 if n > 16 else 1e-12)


def test_random_permutation_p_values_use_the_resamples_asked_for() -> None:
    rng = np.random.default_rng(3)
    candidate, baseline = rng.random(50), rng.random(50)
    for resamples in (2000, 5000):
        p = compare_paired(candidate, baseline, binary=False, resamples=resamples).p_value
        hits = p * (resamples + 1) - 1  # p = (hits + 1) / (resamples + 1): never 0
        assert hits == pytest.approx(round(hits), abs=1e-6) and 0 <= round(hits) <= resamples


# -- intervals ----------------------------------------------------------------------------------


def test_paired_ci_contains_the_true_difference() -> None:
    rng = np.random.default_rng(11)
    # 400 questions; the baseline is right with p = 0.6, the candidate with p = 0.8: true delta 0.2.
    ability = rng.random(400)
    baseline = (ability < 0.6).astype(float)
    candidate = (ability < 0.8).astype(float)
    c = compare_paired(candidate, baseline, binary=True)
    assert c.low < 0.2 < c.high
    assert c.low > 0.1  # and the interval is not uselessly wide
    assert c.delta == pytest.approx(float(np.mean(candidate - baseline)))
    # continuous scores: candidate = baseline + 0.05 + noise
    base = rng.uniform(0.2, 0.7, 300)
    cand = np.clip(base + 0.05 + rng.normal(0, 0.1, 300), 0, 1)
    c = compare_paired(cand, base, binary=False)
    assert c.low < 0.05 < c.high
    assert c.high - c.low < 0.06


def test_bootstrap_intervals_cover_the_true_mean_most_of_the_time() -> None:
    rng = np.random.default_rng(5)
    covered = 0
    for trial in range(100):
        scores = (rng.random(60) < 0.7).astype(float)
        e = mean_ci(scores, seed=trial)
        covered += e.low <= 0.7 <= e.high
    assert covered >= 88  # nominal 95; a broken interval (too narrow or shifted) falls well below


def test_mean_ci_hand_checked_case() -> None:
    e = mean_ci([0.0, 1.0] * 50)
    assert e.mean == 0.5
    assert 0.38 < e.low < 0.42 and 0.58 < e.high < 0.62  # ±1.96·0.05
    assert e.to_dict() == {"mean": 0.5, "ci": [e.low, e.high]}


def test_same_seed_same_numbers_other_seed_other_interval() -> None:
    rng = np.random.default_rng(1)
    candidate, baseline = rng.random(80).tolist(), rng.random(80).tolist()
    first = compare_paired(candidate, baseline, binary=False, seed=42)
    assert compare_paired(candidate, baseline, binary=False, seed=42) == first
    assert compare_paired(candidate, baseline, binary=False, seed=43) != first
    assert mean_ci(candidate, seed=9) == mean_ci(candidate, seed=9)


def test_at_least_2000_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy import stats

    seen: list[int] = []
    real = stats.bootstrap

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(int(kwargs["n_resamples"]))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stats, "bootstrap", spy)
    mean_ci([0.1, 0.5, 0.9])
    compare_paired([0.1, 0.5, 0.9], [0.2, 0.2, 0.2], binary=False)
    assert seen and min(seen) >= 2000
    for call in (lambda: mean_ci([0.1, 0.5], resamples=1999),
                 lambda: compare_paired([1.0], [0.0], binary=True, resamples=100)):
        with pytest.raises(UsageError, match=r"resamples=\d+ is too few"):
            call()


# -- degenerate inputs --------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_degenerate_inputs_give_documented_values() -> None:
    assert mean_ci([]) == Estimate(0.0, 0.0, 1.0)
    assert mean_ci([0.3]) == Estimate(0.3, 0.0, 1.0)
    assert mean_ci([1.0] * 40) == Estimate(1.0, 1.0, 1.0)
    assert compare_paired([], [], binary=True) == Comparison(0, 0.0, -1.0, 1.0, 1.0)
    assert compare_paired([1.0], [0.0], binary=True) == Comparison(1, 1.0, -1.0, 1.0, 1.0)
    assert compare_paired([0.7], [0.2], binary=False) == Comparison(1, pytest.approx(0.5), -1.0, 1.0, 1.0)
    assert compare_paired([1.0, 0.0] * 20, [1.0, 0.0] * 20, binary=True) == Comparison(40, 0.0, 0.0, 0.0, 1.0)
    assert compare_paired([0.4] * 20, [0.4] * 20, binary=False) == Comparison(20, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(("candidate", "baseline", "message"), [
    ([1.0, 0.0], [1.0], "candidate= has 2 scores and baseline= 1"),
    ([float("nan")], [0.0], r"candidate= must hold scores in \[0, 1\]"),
    ([0.5], [1.5], r"baseline= must hold scores in \[0, 1\]"),
    ([[0.5]], [[0.5]], "flat sequence"),
])
def test_bad_scores_are_value_errors(candidate: list, baseline: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_paired(candidate, baseline, binary=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), max_size=60),
       st.booleans())
def test_comparisons_are_always_finite_and_ordered(scores: list[tuple[float, float]], binary: bool) -> None:
    candidate, baseline = [s[0] for s in scores], [s[1] for s in scores]
    c = compare_paired(candidate, baseline, binary=binary)
    assert all(math.isfinite(v) for v in (c.delta, c.low, c.high, c.p_value))
    assert -1.0 <= c.low <= c.high <= 1.0 and 0.0 < c.p_value <= 1.0 and c.n == len(scores)
    assert verdict(c) in VERDICTS


# -- verdicts -----------------------------------------------------------------------------------


def spanning(n: int) -> Comparison:
    return Comparison(n=n, delta=0.01, low=-0.05, high=0.07, p_value=0.6)


def test_verdict_boundary_at_30_pairs() -> None:
    assert MIN_PAIRS == 30
    assert verdict(spanning(29)) == "insufficient_evidence"
    assert verdict(spanning(30)) == "no_difference"


def test_verdict_boundary_at_10_percent_failures() -> None:
    clear = Comparison(n=200, delta=0.2, low=0.1, high=0.3, p_value=1e-6)
    assert MAX_FAILURE_RATE == 0.10
    assert verdict(clear, candidate_failure_rate=0.10) == "better"
    assert verdict(clear, candidate_failure_rate=0.11) == "insufficient_evidence"
    assert verdict(clear, baseline_failure_rate=0.11) == "insufficient_evidence"
    assert verdict(clear, candidate_failure_rate=20 / 200, baseline_failure_rate=3 / 30) == "better"
    with pytest.raises(ValueError, match=r"candidate_failure_rate=1\.5"):
        verdict(clear, candidate_failure_rate=1.5)


def test_better_and_worse_need_the_interval_and_the_test_to_agree() -> None:
    assert verdict(Comparison(100, 0.1, 0.01, 0.2, 0.049)) == "better"
    assert verdict(Comparison(100, -0.1, -0.2, -0.01, 0.049)) == "worse"
    assert verdict(Comparison(100, 0.1, 0.01, 0.2, 0.051)) == "insufficient_evidence"
    assert verdict(Comparison(100, -0.1, -0.2, -0.01, 0.2)) == "insufficient_evidence"
    # few pairs, but clear: 9 of 10 discordant pairs (p = 0.021) on 15 examples
    assert verdict(compare_paired(*pairs(9, 1, 5), binary=True)) == "better"
    # 3 of 3 pairs better: the bootstrap interval is [1, 1], but p = 0.25
    three = compare_paired([1.0] * 3, [0.0] * 3, binary=True)
    assert (three.low, three.p_value) == (1.0, 0.25)
    assert verdict(three) == "insufficient_evidence"


def test_twelve_examples_with_one_difference_are_insufficient_evidence() -> None:
    c = compare_paired(*pairs(1, 0, 11), binary=True)
    assert verdict(c) == "insufficient_evidence"
    reason = verdict_reason(c, metric="exact", candidate="ft:small", baseline="gpt-4o-mini")
    assert reason.startswith("insufficient evidence: only 12 paired examples (at least 30 needed)")
    assert "exact difference of +0.083" in reason and "includes 0 (p = 1)" in reason


def test_verdict_reasons_say_what_the_verdict_rests_on() -> None:
    better = Comparison(200, 0.165, 0.075, 0.25, 0.0004)
    assert verdict_reason(better, metric="exact", candidate="ft", baseline="base") == (
        "better: on 200 paired examples ft scores 0.165 higher than base on exact "
        "(95% CI +0.075 to +0.250, p < 0.001).")
    worse = Comparison(50, -0.2, -0.3, -0.1, 0.012)
    assert verdict_reason(worse, metric="chrf").startswith(
        "worse: on 50 paired examples the candidate scores 0.200 lower than the baseline on chrf")
    assert verdict_reason(spanning(30), metric="token_f1") == (
        "no difference: on 30 paired examples the token_f1 difference of +0.010 has a 95% CI of "
        "-0.050 to +0.070, which includes 0 (p = 0.6).")
    assert verdict_reason(better, metric="exact", baseline="base", baseline_failure_rate=0.25) == (
        "insufficient evidence: 25% of base's requests failed (more than 10%), and the missing "
        "answers could bias the comparison.")
    assert "excludes 0, but the paired test does not confirm it (p = 0.25)" in verdict_reason(
        compare_paired([1.0] * 3, [0.0] * 3, binary=True), metric="exact")
    assert verdict_reason(Comparison(0, 0.0, -1.0, 1.0, 1.0), metric="exact") == (
        "insufficient evidence: no example was answered by both the candidate and the baseline.")


def test_comparison_to_dict_has_the_report_keys() -> None:
    assert Comparison(3, 0.5, 0.1, 0.9, 0.25).to_dict() == {
        "n": 3, "delta": 0.5, "ci": [0.1, 0.9], "p_value": 0.25}
