"""`evaluate`: candidates × test prompts → answers → scores → paired comparisons → EvalReport.

Two steps so the CLI can show the plan (requests, upper-bound cost, the first requests
exactly) and ask before spending: `plan_eval(...)` reads and prepares everything and sends
nothing; `EvalPlan.run()` sends (through the cache) and scores. `evaluate(...)` does both.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.eval.answers import Answer, answer_from_message
from ftprep.eval.cache import CACHE_FILE, ResponseCache
from ftprep.eval.candidates import Candidate
from ftprep.eval.cost import (
    Price,
    default_max_tokens,
    encoding_for,
    inference_price,
    prompt_tokens,
    sum_costs,
)
from ftprep.eval.examples import Example, ExampleSet, read_examples
from ftprep.eval.judge import (
    JUDGE_MAX_TOKENS,
    JUDGE_METRIC,
    check_judge,
    judge_messages,
    load_rubric,
    parse_grade,
)
from ftprep.eval.metrics import (
    Metric,
    MetricContext,
    ScoreError,
    default_metrics,
    resolve_metrics,
)
from ftprep.eval.results import (
    ComparisonResult,
    EvalReport,
    ExampleResult,
    ModelSummary,
    percentile,
)
from ftprep.eval.runner import Endpoint, Job, Reply, Sender
from ftprep.eval.stats import compare_paired, mean_ci, verdict, verdict_reason
from ftprep.platform.config import resolve_config
from ftprep.platform.uploads import state_dir

DEFAULT_CONCURRENCY = 4
RESAMPLES = 2000


@dataclass(frozen=True)
class EvalOptions:
    """Everything about how the eval runs, apart from the file and the candidates.
    `connection` holds the default provider settings (provider, base_url, api_key_env,
    api_version, max_retries, timeout, debug) that each candidate's endpoint overrides."""

    metrics: tuple[str, ...] = ()  # empty: chosen from the references
    baseline: str | None = None  # a candidate's label or model; default: the first
    pattern: str | None = None
    schema: str | None = None
    scorer: str | None = None
    judge: str | None = None
    rubric: str | None = None  # a file path
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    limit: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    use_cache: bool = True
    cache_path: str | None = None  # default: <state dir>/eval-cache.sqlite3
    connection: dict[str, Any] = field(default_factory=dict)
    bootstrap_seed: int = 0
    require_key: bool = True  # False for a dry run: nothing is sent


@dataclass(frozen=True)
class Progress:
    """Where a run is: `phase` is "answers" or "judge"."""

    phase: str
    done: int
    total: int
    sent: int
    errors: int
    cost_usd: float | None


@dataclass(frozen=True)
class DryRun:
    """What an eval would do, sending nothing: examples × candidates, the requests it would
    send (answers not in the cache, plus the judge's grades), the upper bound of their cost
    (None: a model without a price), and the first requests exactly as they would be sent."""

    examples: int
    skipped: int
    candidates: list[Candidate]
    baseline: str  # the baseline candidate's name
    metrics: list[str]
    requests: int  # answer_requests + judge_requests
    cached: int  # answers already in the cache: not sent again
    answer_requests: int
    judge_requests: int  # at most one grade per answer
    judge: str | None  # the judge model
    estimated_cost_usd_max: float | None
    first_requests: list[dict[str, Any]]  # {"endpoint": key, "body": request body}
    judge_request: dict[str, Any] | None  # the first judge request (placeholder answer)

    def to_dict(self) -> dict[str, Any]:
        """The dry run as `eval --dry-run --format json` prints it, keys and order stable
        (`judge_request` only with a judge). `answer_requests`, `judge_requests` and `judge`
        serve the text view and are left out, so the JSON stays what it has been."""
        out: dict[str, Any] = {
            "dry_run": True, "examples": self.examples, "skipped": self.skipped,
            "candidates": [c.to_dict() for c in self.candidates],
            "baseline": self.baseline, "metrics": list(self.metrics),
            "requests": self.requests, "cached": self.cached,
            "estimated_cost_usd_max": self.estimated_cost_usd_max,
            "first_requests": list(self.first_requests)}
        if self.judge_request is not None:
            out["judge_request"] = self.judge_request
        return out


@dataclass
class EvalPlan:
    """A prepared eval: examples, candidates, the exact request bodies, and what it may cost."""

    data: ExampleSet
    candidates: list[Candidate]
    baseline: Candidate
    metrics: list[Metric]
    options: EvalOptions
    jobs: list[Job]
    endpoints: dict[str, Endpoint]
    cached: int
    estimate_usd: float | None
    judge_requests: int = 0
    rubric: str = ""
    sender: Sender | None = None
    scoring_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Requests that will be sent for answers (cache hits excluded) plus judge requests."""
        return len(self.jobs) - self.cached + self.judge_requests

    def dry_run(self, first: int = 3) -> DryRun:
        """The plan, and the first `first` requests exactly as they would be sent."""
        shown = [{"endpoint": j.endpoint.key, "body": j.body} for j in self.jobs[:first]]
        judge_request = None
        if self.options.judge and self.data.examples:
            example = self.data.examples[0]
            messages = judge_messages(list(example.prompt), example.reference_message,
                                      {"role": "assistant", "content": "<the candidate's answer>"},
                                      self.rubric)
            judge_request = {"endpoint": self._judge_endpoint().key,
                             "body": self._judge_body(messages)}
        return DryRun(
            examples=len(self.data.examples), skipped=len(self.data.skipped),
            candidates=list(self.candidates), baseline=self.baseline.name,
            metrics=[m.name for m in self.metrics], requests=self.requests, cached=self.cached,
            answer_requests=len(self.jobs) - self.cached, judge_requests=self.judge_requests,
            judge=self.options.judge, estimated_cost_usd_max=self.estimate_usd,
            first_requests=shown, judge_request=judge_request)

    # -- running ---------------------------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None) -> EvalReport:
        sender = self.sender or Sender(self._cache(), self.options.concurrency)
        replies: dict[tuple[str, int], Reply] = {}
        prices = {c.name: inference_price(c.model) for c in self.candidates}
        spent: list[float | None] = []
        errors = 0
        for done, (job, reply) in enumerate(sender.run(self.jobs), start=1):
            name, line = job.tag
            replies[(name, line)] = reply
            errors += not reply.ok
            spent.append(_cost(prices[name], reply))
            if progress:
                progress(Progress("answers", done, len(self.jobs), sender.sent, errors,
                                  sum_costs(spent)))
        grades, judge_info = self._judge(sender, replies, progress)
        return self._report(replies, grades, judge_info, sender)

    def _cache(self) -> ResponseCache | None:
        if not self.options.use_cache:
            return None
        return ResponseCache(self.options.cache_path or state_dir() / CACHE_FILE)

    def _judge_endpoint(self) -> Endpoint:
        return self.endpoints[_JUDGE]

    def _judge_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.options.judge, "messages": messages,
                                "temperature": 0.0, "max_tokens": JUDGE_MAX_TOKENS}
        if self.options.seed is not None:
            body["seed"] = self.options.seed
        return body

    def _judge(self, sender: Sender, replies: dict[tuple[str, int], Reply],
               progress: Callable[[Progress], None] | None
               ) -> tuple[dict[tuple[str, int], float | None], dict[str, Any] | None]:
        if not self.options.judge:
            return {}, None
        jobs = []
        for example in self.data.examples:
            for candidate in self.candidates:
                reply = replies[(candidate.name, example.line)]
                if reply.message is None:
                    continue
                messages = judge_messages(list(example.prompt), example.reference_message,
                                          reply.message, self.rubric)
                jobs.append(Job(self._judge_endpoint(), self._judge_body(messages),
                                (candidate.name, example.line)))
        grades: dict[tuple[str, int], float | None] = {}
        price = inference_price(self.options.judge)
        costs: list[float | None] = []  # spent by this run (cached grades cost nothing now)
        prompt = completion = 0
        errors = unreadable = 0
        for done, (job, reply) in enumerate(sender.run(jobs), start=1):
            grade = parse_grade((reply.message or {}).get("content")) if reply.ok else None
            errors += not reply.ok
            unreadable += reply.ok and grade is None
            grades[job.tag] = grade
            costs.append(_cost(price, reply))
            prompt, completion = prompt + reply.prompt_tokens, completion + reply.completion_tokens
            if progress:
                progress(Progress("judge", done, len(jobs), sender.sent, errors, sum_costs(costs)))
        info = {"model": self.options.judge, "requests": len(jobs), "errors": errors,
                "unreadable": unreadable, "prompt_tokens": prompt, "completion_tokens": completion,
                "cost_usd": None if price is None else round(price.cost(prompt, completion), 10)}
        return grades, info

    def _report(self, replies: dict[tuple[str, int], Reply],
                grades: dict[tuple[str, int], float | None], judge_info: dict[str, Any] | None,
                sender: Sender) -> EvalReport:
        metric_names = [m.name for m in self.metrics] + ([JUDGE_METRIC] if self.options.judge
                                                         else [])
        results = [self._score(example, candidate, replies[(candidate.name, example.line)],
                               grades)
                   for example in self.data.examples for candidate in self.candidates]
        by_candidate = {c.name: [r for r in results if r.candidate == c.name]
                        for c in self.candidates}
        models = [self._summary(c, by_candidate[c.name], metric_names) for c in self.candidates]
        comparisons = [self._compare(c, metric, by_candidate)
                       for c in self.candidates if c is not self.baseline
                       for metric in metric_names]
        return EvalReport(
            examples=len(self.data.examples), skipped=len(self.data.skipped),
            metrics=metric_names, models=models, comparisons=comparisons, results=results,
            prompts={e.line: list(e.prompt) for e in self.data.examples},
            references={e.line: e.reference_message for e in self.data.examples},
            skipped_lines=[s.to_dict() for s in self.data.skipped],
            requests_sent=sender.sent,
            cached_replies=sum(r.cached for r in replies.values()), judge=judge_info,
            scoring_errors=list(self.scoring_errors))

    def _score(self, example: Example, candidate: Candidate, reply: Reply,
               grades: dict[tuple[str, int], float | None]) -> ExampleResult:
        scores: dict[str, float | None] = {}
        message = reply.message or {}
        error, output = reply.error, None
        if reply.ok:
            try:
                output = answer_from_message(message)
            except ValueError as e:  # answered (and cached), but nothing a metric can read
                error, message = f"the answer is malformed: {e}", {}
        if output is not None:
            context = MetricContext(prompt=example.prompt)
            for metric in self.metrics:
                try:
                    scores[metric.name] = _score_one(metric, output, example.reference, context)
                except ScoreError as e:  # the data or a custom scorer, not the answer
                    scores[metric.name] = None
                    self.scoring_errors.append({"line": example.line, "candidate": candidate.name,
                                                "metric": metric.name, "error": str(e)})
        else:
            scores = {m.name: None for m in self.metrics}
        if self.options.judge:
            scores[JUDGE_METRIC] = grades.get((candidate.name, example.line))
        content = message.get("content")
        return ExampleResult(
            line=example.line, candidate=candidate.name,
            output=content if isinstance(content, str) else None,
            tool_calls=tuple(message.get("tool_calls") or ()), scores=scores,
            latency_ms=reply.latency_ms, prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens, error=error, cached=reply.cached)

    def _summary(self, candidate: Candidate, rows: list[ExampleResult],
                 metric_names: list[str]) -> ModelSummary:
        scores: dict[str, float | None] = {}
        cis: dict[str, tuple[float, float] | None] = {}
        for metric in metric_names:
            values = [v for v in (r.scores.get(metric) for r in rows) if v is not None]
            if values:
                est = mean_ci(values, seed=self.options.bootstrap_seed, resamples=RESAMPLES)
                scores[metric], cis[metric] = est.mean, (est.low, est.high)
            else:
                scores[metric], cis[metric] = None, None
        latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
        price = inference_price(candidate.model)
        prompt = sum(r.prompt_tokens for r in rows)
        completion = sum(r.completion_tokens for r in rows)
        return ModelSummary(
            model=candidate.name, label=candidate.name, scores=scores, ci=cis,
            errors=sum(r.error is not None for r in rows),
            latency_p50=percentile(latencies, 50), latency_p95=percentile(latencies, 95),
            prompt_tokens=prompt, completion_tokens=completion,
            cost_usd=None if price is None else round(price.cost(prompt, completion), 10),
            model_id=candidate.model)

    def _compare(self, candidate: Candidate, metric: str,
                 by_candidate: dict[str, list[ExampleResult]]) -> ComparisonResult:
        mine = {r.line: r.scores.get(metric) for r in by_candidate[candidate.name]}
        base = {r.line: r.scores.get(metric) for r in by_candidate[self.baseline.name]}
        lines = [line for line in mine if mine[line] is not None and base.get(line) is not None]
        cand_scores = [float(mine[line]) for line in lines]  # type: ignore[arg-type]
        base_scores = [float(base[line]) for line in lines]  # type: ignore[arg-type]
        binary = metric != JUDGE_METRIC and _metric(self.metrics, metric).binary
        comparison = compare_paired(cand_scores, base_scores, binary=binary,
                                    seed=self.options.bootstrap_seed, resamples=RESAMPLES)
        total = len(self.data.examples) or 1
        fail_c = _failures(by_candidate[candidate.name]) / total
        fail_b = _failures(by_candidate[self.baseline.name]) / total
        rates = {"candidate_failure_rate": fail_c, "baseline_failure_rate": fail_b}
        return ComparisonResult(
            model=candidate.name, baseline=self.baseline.name, metric=metric, n=comparison.n,
            delta=comparison.delta, low=comparison.low, high=comparison.high,
            p_value=comparison.p_value, verdict=verdict(comparison, **rates),
            reason=verdict_reason(comparison, metric=metric, candidate=candidate.name,
                                  baseline=self.baseline.name, **rates))

_JUDGE = "\0judge"  # the judge's endpoint key in EvalPlan.endpoints


def _metric(metrics: list[Metric], name: str) -> Metric:
    return next(m for m in metrics if m.name == name)


def _failures(rows: list[ExampleResult]) -> int:
    return sum(r.error is not None for r in rows)


def _score_one(metric: Metric, output: Answer, reference: Answer,
               context: MetricContext) -> float | None:
    value = metric.score(output, reference, context)
    return None if value is None or math.isnan(value) else float(value)


def _cost(price: Price | None, reply: Reply) -> float | None:
    if price is None:
        return None
    if reply.cached:
        return 0.0  # paid for on an earlier run
    return price.cost(reply.prompt_tokens, reply.completion_tokens)


# -- planning ------------------------------------------------------------------------------


def _as_candidate(value: Candidate | str) -> Candidate:
    return value if isinstance(value, Candidate) else Candidate(model=value)


def _check_names(candidates: list[Candidate]) -> None:
    seen: set[str] = set()
    for c in candidates:
        if c.name in seen:
            raise UsageError(f"candidates: {c.name!r} appears twice; give each a distinct label")
        seen.add(c.name)


def _pick_baseline(candidates: list[Candidate], name: str | None) -> Candidate:
    if name is None:
        return candidates[0]
    for c in candidates:
        if name in (c.name, c.model):
            return c
    raise UsageError(f"baseline={name!r} is not one of the candidates "
                     f"({', '.join(c.name for c in candidates)})")


def _endpoint(options: EvalOptions, overrides: dict[str, str]) -> Endpoint:
    settings = {**options.connection, **overrides}
    return Endpoint.from_config(resolve_config(**settings, require_key=options.require_key))


def _body(candidate: Candidate, example: Example, options: EvalOptions,
          max_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": candidate.model, "messages": candidate.messages(example),
                            "temperature": options.temperature, "max_tokens": max_tokens}
    if options.seed is not None:
        body["seed"] = options.seed
    if example.tools:
        body["tools"] = list(example.tools)
        body.update(example.extra)
    return body


def plan_eval(path: str | Path, candidates: Sequence[Candidate | str],
              options: EvalOptions | None = None) -> EvalPlan:
    """Read the test file, resolve metrics and endpoints, build every request body and
    estimate the cost. Sends nothing; raises UsageError / InputError for bad arguments."""
    options = options or EvalOptions()
    chosen = [_as_candidate(c) for c in candidates]
    if not chosen:
        raise UsageError("candidates: give at least one model")
    _check_names(chosen)
    baseline = _pick_baseline(chosen, options.baseline)
    if options.limit is not None and options.limit < 1:
        raise UsageError(f"limit={options.limit}: must be at least 1")
    if options.concurrency < 1:
        raise UsageError(f"concurrency={options.concurrency}: must be at least 1")
    rubric = ""
    if options.judge:
        check_judge(options.judge, [c.model for c in chosen])
        rubric = load_rubric(options.rubric)
    elif options.rubric:
        raise UsageError("rubric: only used with judge (--judge MODEL)")
    data = read_examples(path, options.limit)
    names = list(options.metrics) or default_metrics([e.reference for e in data.examples])
    if JUDGE_METRIC in names and not options.judge:
        raise UsageError("metrics=judge needs a judge model: judge=MODEL")
    names = [n for n in names if n != JUDGE_METRIC]  # judge is added by `judge=MODEL`
    metrics = resolve_metrics(names, pattern=options.pattern,
                              schema=Path(options.schema) if options.schema else None,
                              scorer=options.scorer)
    max_tokens = options.max_tokens or default_max_tokens(
        [e.reference_message for e in data.examples])
    endpoints: dict[str, Endpoint] = {}
    jobs: list[Job] = []
    for candidate in chosen:
        endpoint = endpoints.setdefault(candidate.name, _endpoint(options, candidate.endpoint))
        jobs += [Job(endpoint, _body(candidate, e, options, max_tokens), (candidate.name, e.line))
                 for e in data.examples]
    if options.judge:
        endpoints[_JUDGE] = _endpoint(options, {})
    plan = EvalPlan(data, chosen, baseline, metrics, options, jobs, endpoints, cached=0,
                    estimate_usd=None, rubric=rubric)
    plan.sender = Sender(plan._cache(), options.concurrency)
    to_send = [j for j in jobs if plan.sender.cached(j) is None]
    plan.cached = len(jobs) - len(to_send)
    plan.judge_requests = len(jobs) if options.judge else 0
    plan.estimate_usd = _estimate(plan, to_send, max_tokens)
    return plan


def _estimate(plan: EvalPlan, jobs: list[Job], max_tokens: int) -> float | None:
    """Upper bound in USD for `jobs` (the requests not in the cache): every prompt token, and
    every answer as long as max_tokens. None when any model's price is unknown."""
    by_name = {c.name: c.model for c in plan.candidates}
    models = {by_name[j.tag[0]] for j in jobs}
    prices = {m: inference_price(m) for m in models}
    judge_price = inference_price(plan.options.judge) if plan.options.judge else None
    if any(p is None for p in prices.values()) or (plan.options.judge and judge_price is None):
        return None
    encodings = {m: encoding_for(m) for m in models}
    costs: list[float | None] = []
    for job in jobs:
        model = by_name[job.tag[0]]
        tokens = prompt_tokens(job.body["messages"], job.body.get("tools", []), encodings[model])
        costs.append(prices[model].cost(tokens, max_tokens))  # type: ignore[union-attr]
        if judge_price is not None:
            # the judge reads the prompt, the reference and an answer of at most max_tokens
            judge_in = 2 * tokens + 2 * max_tokens + 400
            costs.append(judge_price.cost(judge_in, JUDGE_MAX_TOKENS))
    return sum_costs(costs)


def evaluate(path: str | Path, candidates: Sequence[Candidate | str],
             metrics: Sequence[str] = (), *, baseline: str | None = None,
             progress: Callable[[Progress], None] | None = None, **options: Any) -> EvalReport:
    """Evaluate `candidates` (model names or Candidate objects) on the chat JSONL test split at
    `path` and compare each with the baseline (default: the first). `options` are the fields
    of EvalOptions (judge, temperature, max_tokens, seed, limit, concurrency, use_cache,
    connection...). Sends requests through the response cache; prints nothing."""
    plan = plan_eval(path, candidates,
                     EvalOptions(metrics=tuple(metrics), baseline=baseline, **options))
    return plan.run(progress)
