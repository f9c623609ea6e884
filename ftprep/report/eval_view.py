"""report.html for `ftprep eval`: scores with their intervals, the verdicts, and every example
side by side (prompt, reference, each candidate's answer and scores), the examples where the
candidates disagree most first. A metric filter (a few lines of inline script) narrows the
examples to those where the candidates' scores on that metric differ."""
from __future__ import annotations

import json
import math

from ftprep.eval.examples import message_text
from ftprep.eval.results import EvalReport, ExampleResult
from ftprep.report.html import Html, Page, bar_chart, definition_list, join, section, table, tag

CSS = """
.ex { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 12px 0; }
.ex[hidden] { display: none; }
.grid { display: grid; gap: 10px; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
.cell { background: var(--soft); border-radius: 4px; padding: 8px; }
.cell h3 { margin: 0 0 4px; }
.prompt .role { color: var(--muted); font-size: 12px; }
.controls { position: sticky; top: 0; background: var(--bg); padding: 8px 0;
            border-bottom: 1px solid var(--line); }
"""

SCRIPT = """
(function () {
  var select = document.getElementById('metric');
  var count = document.getElementById('shown');
  function apply() {
    var metric = select.value, shown = 0;
    document.querySelectorAll('.ex').forEach(function (ex) {
      var spread = JSON.parse(ex.getAttribute('data-spread'));
      var show = metric === '' || (spread[metric] || 0) > 0;
      ex.hidden = !show;
      if (show) { shown += 1; }
    });
    count.textContent = shown;
  }
  select.addEventListener('change', apply);
  apply();
})();
"""

VERDICT_CLASS = {"better": "good", "worse": "bad", "insufficient_evidence": "warn"}


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def render_eval(report: EvalReport, *, title: str = "ftprep eval") -> str:
    """The whole report.html for `report`, as a string."""
    page = Page(title, subtitle=_subtitle(report), css=CSS, script=SCRIPT)
    page.add(*eval_sections(report))
    return page.render()


def eval_sections(report: EvalReport) -> list[Html]:
    """The eval's sections (they need CSS and SCRIPT on their page): its own report.html,
    and `ftprep report --eval DIR`, render the same blocks."""
    return [_overview(report), _scores(report), _comparisons(report), _examples(report)]


def _subtitle(report: EvalReport) -> str:
    names = ", ".join(m.model for m in report.models)
    return (f"{report.examples} examples ({report.skipped} skipped) × {len(report.models)} "
            f"candidates: {names}")


def _overview(report: EvalReport) -> Html:
    rows = [[m.model, m.errors, _num(m.latency_p50, 0), _num(m.latency_p95, 0),
             m.prompt_tokens, m.completion_tokens,
             "unknown" if m.cost_usd is None else f"${m.cost_usd:.4f}"] for m in report.models]
    facts = [("metrics", ", ".join(report.metrics)), ("requests sent", report.requests_sent),
             ("answers from the cache", report.cached_replies)]
    if report.skipped_lines:
        facts.append(("skipped lines", ", ".join(
            f"{s['line']} ({s['reason']})" for s in report.skipped_lines[:20])))
    return section("Candidates", definition_list(facts), table(
        ["candidate", "errors", "latency p50 ms", "p95 ms", "prompt tokens",
         "completion tokens", "cost"], rows, numeric=(1, 2, 3, 4, 5, 6)))


def _scores(report: EvalReport) -> Html:
    blocks = []
    for metric in report.metrics:
        items = [(m.model, m.scores.get(metric)) for m in report.models]
        intervals = [m.ci.get(metric) for m in report.models]
        rows = [[m.model, _num(m.scores.get(metric)), _ci(m.ci.get(metric))]
                for m in report.models]
        blocks.append(join([tag("h3", metric), table(["candidate", "mean", "95% CI"], rows,
                                                     numeric=(1,)),
                            bar_chart(items, max_value=_axis(items), intervals=intervals)]))
    return section("Scores", *blocks, note="Mean per example with its 95% bootstrap interval.")


def _axis(items: list[tuple[str, float | None]]) -> float:
    known = [v for _, v in items if v is not None and math.isfinite(v)]
    return 1.0 if all(0 <= v <= 1 for v in known) else max([*known, 1.0])


def _ci(ci: tuple[float, float] | None) -> str:
    return "-" if ci is None else f"[{_num(ci[0])}, {_num(ci[1])}]"


def _comparisons(report: EvalReport) -> Html:
    if not report.comparisons:
        return section("Comparisons", tag("p", "one candidate: nothing to compare",
                                          class_="muted"))
    rows = [[c.model, c.baseline, c.metric, c.n, _num(c.delta), _ci((c.low, c.high)),
             _num(c.p_value, 4), tag("span", c.verdict, class_=VERDICT_CLASS.get(c.verdict)),
             c.reason] for c in report.comparisons]
    return section("Comparisons", table(
        ["candidate", "baseline", "metric", "n", "Δ", "95% CI", "p", "verdict", "why"],
        rows, numeric=(3, 4, 6)), note="Paired over the examples both answered.")


def _examples(report: EvalReport) -> Html:
    by_line: dict[int, list[ExampleResult]] = {}
    for r in report.results:
        by_line.setdefault(r.line, []).append(r)
    options = [tag("option", "all examples", value="")] + [
        tag("option", f"candidates differ on {m}", value=m) for m in report.metrics]
    controls = tag("div", tag("label", "Show ", tag("select", *options, id="metric")), " ",
                   tag("span", "", id="shown"), " shown", class_="controls")
    cards = [_example(line, by_line[line], report) for line in report.disagreements()]
    return section("Examples", controls, *cards,
                   note="Ordered by how much the candidates disagree, most first.")


def _spread(rows: list[ExampleResult], metrics: list[str]) -> dict[str, float]:
    out = {}
    for metric in metrics:
        known = [v for v in (r.scores.get(metric) for r in rows) if v is not None]
        errors = sum(r.error is not None for r in rows)
        out[metric] = (max(known) - min(known) if len(known) > 1 else 0.0) + (
            1.0 if 0 < errors < len(rows) else 0.0)
    return out


def _example(line: int, rows: list[ExampleResult], report: EvalReport) -> Html:
    prompt = report.prompts.get(line, [])
    reference = report.references.get(line, {})
    messages = [tag("div", tag("span", m.get("role", "?"), class_="role"),
                    tag("pre", message_text(m))) for m in prompt]
    answers = [tag("div", tag("h3", r.candidate),
                   tag("pre", r.error or message_text({"content": r.output,
                                                "tool_calls": list(r.tool_calls)}),
                       class_="bad" if r.error else None),
                   tag("p", " ".join(f"{k} {_num(v, 2)}" for k, v in r.scores.items()),
                       class_="muted"), class_="cell") for r in rows]
    ref_cell = tag("div", tag("h3", "reference"), tag("pre", message_text(reference)), class_="cell")
    return tag("article", tag("h3", f"line {line}"),
               tag("div", *messages, class_="prompt"), tag("div", ref_cell, *answers, class_="grid"),
               class_="ex", data_spread=json.dumps(_spread(rows, report.metrics)))


__all__ = ["eval_sections", "render_eval"]
