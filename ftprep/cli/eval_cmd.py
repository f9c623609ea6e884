"""CLI: `eval` (did the fine-tune work?) and `try` (one streamed request). Thin layers over
ftprep.eval: plan, show the plan and its cost, ask, run, print."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ftprep.cli import common
from ftprep.cli.common import as_flags, emit_json, format_option, quiet_option, usd
from ftprep.cli.platform_cmd import Connection, platform_options
from ftprep.errors import EXIT_FINDINGS, InputError, UsageError
from ftprep.text import json_printable
from ftprep.text import printable as neutral

DEFAULT_CONFIRM_ABOVE = 1.0
_FLAGS = {f"{param}=": f"--{flag} " for param, flag in (
    ("metrics", "metric"), ("baseline", "baseline"), ("judge", "judge"), ("rubric", "rubric"),
    ("pattern", "pattern"), ("schema", "schema"), ("scorer", "scorer"), ("limit", "limit"),
    ("concurrency", "concurrency"), ("candidates", "candidates"))}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}



def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.command("eval")
@click.argument("test", type=click.Path(dir_okay=False))
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="A model to evaluate (repeatable); the first is the default baseline.")
@click.option("--candidates", "candidates_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file of candidates: label, model, endpoint, system prompt, few-shot.")
@click.option("--baseline", default=None, help="Candidate the others are compared against.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="Metric (repeatable or comma-separated); default chosen from the references.")
@click.option("--pattern", default=None, help="Regular expression for the regex metric.")
@click.option("--schema", type=click.Path(dir_okay=False), default=None,
              help="JSON Schema file for the json_schema metric.")
@click.option("--scorer", default=None, metavar="MODULE:FUNCTION", help="A custom scorer.")
@click.option("--judge", default=None, metavar="MODEL", help="Grade answers with this model.")
@click.option("--rubric", type=click.Path(dir_okay=False), default=None,
              help="The judge's rubric (text file); a 1-5 default otherwise.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=0.0, show_default=True)
@click.option("--max-tokens", type=click.IntRange(1), default=None,
              help="Default: a little above the longest reference.")
@click.option("--seed", type=int, default=None, help="Sent with every request.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N examples.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              help="Write results.jsonl, summary.json and report.html here.")
@click.option("--show", type=click.IntRange(0), default=3, show_default=True,
              help="Examples where the candidates disagree most, printed after the tables.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending money.")
@click.option("--confirm-above", type=click.FloatRange(0), default=DEFAULT_CONFIRM_ABOVE,
              show_default=True, metavar="USD", help="Ask first when the upper bound is above.")
@click.option("--dry-run", is_flag=True, help="Show the plan and the first requests; send nothing.")
@quiet_option
@format_option
@platform_options
def eval_command(test: str, models: tuple[str, ...], candidates_file: str | None,
                 baseline: str | None, metrics: tuple[str, ...], pattern: str | None,
                 schema: str | None, scorer: str | None, judge: str | None, rubric: str | None,
                 temperature: float, max_tokens: int | None, seed: int | None,
                 limit: int | None, concurrency: int, no_cache: bool, output_dir: str | None,
                 show: int, yes: bool, confirm_above: float, dry_run: bool, fmt: str,
                 conn: Connection) -> None:
    """Evaluate models on TEST (the held-out split) and say whether the fine-tune is better.

    Each candidate answers every prompt (the messages before the final assistant message);
    the answers are scored against that message, and each candidate is compared with the
    baseline on the examples both answered (paired bootstrap CI, sign test or permutation).
    Answers are cached: a re-run sends nothing, an interrupted run resumes."""
    from ftprep.eval.candidates import Candidate, load_candidates
    from ftprep.eval.pipeline import EvalOptions, plan_eval

    try:
        candidates = load_candidates(candidates_file) if candidates_file else []
    except UsageError as e:
        raise UsageError(as_flags(str(e), _FLAGS)) from None
    candidates += [Candidate(model=m) for m in models]
    if not candidates:
        raise UsageError("nothing to evaluate: give --model NAME (repeatable) or --candidates FILE")
    options = EvalOptions(
        metrics=_split(metrics), baseline=baseline, pattern=pattern, schema=schema,
        scorer=scorer, judge=judge, rubric=rubric, temperature=temperature,
        max_tokens=max_tokens, seed=seed, limit=limit, concurrency=concurrency,
        use_cache=not no_cache, connection=conn.settings, require_key=not dry_run)
    try:
        plan = plan_eval(test, candidates, options)
    except UsageError as e:  # the library names its parameters; the user typed flags
        raise UsageError(as_flags(str(e), _FLAGS)) from None
    _print_plan(plan, summary=not (dry_run and fmt == "text"))  # the dry run's text says it all
    if dry_run:
        dry = plan.dry_run()
        if fmt == "json":
            emit_json(dry.to_dict())
        else:
            _print_dry_run(dry)
        return
    _confirm(plan, yes, confirm_above)
    try:
        report = plan.run(_progress_printer())
    except KeyboardInterrupt:
        click.echo("ftprep: every answer received so far is cached: run the same command again "
                   "to resume", err=True)
        raise
    if output_dir:
        _write_outputs(Path(output_dir), report)
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        _print_report(report, show)
    if report.failed:
        click.echo(f"ftprep: {report.failed} request(s) failed after retries; the results say "
                   "which (exit 1)", err=True)
        click.get_current_context().exit(EXIT_FINDINGS)


# -- before sending ----------------------------------------------------------------------------
def _cost_words(estimate_usd: float | None, requests: int) -> str:
    if requests == 0:
        return "nothing (every answer is cached)"
    if estimate_usd is None:
        return "unknown (a model's price is not in the registry)"
    return f"at most {usd(estimate_usd)}"


def _print_plan(plan: Any, summary: bool = True) -> None:
    """The plan in one line on stderr (before asking or sending), and the examples skipped."""
    data = plan.data
    judge = f" + {plan.judge_requests} judge requests" if plan.judge_requests else ""
    if summary:
        click.echo(f"eval: {len(data.examples)} examples ({len(data.skipped)} skipped) × "
                   f"{len(plan.candidates)} candidates; {len(plan.jobs) - plan.cached} requests "
                   f"to send ({plan.cached} answers cached){judge}; cost "
                   f"{_cost_words(plan.estimate_usd, plan.requests)}", err=True)
    for skip in data.skipped[:5]:
        click.echo(f"  skipped {data.path}:{skip.line}: {skip.reason}", err=True)
    if len(data.skipped) > 5:
        click.echo(f"  ... and {len(data.skipped) - 5} more skipped", err=True)


def _print_dry_run(dry: Any) -> None:
    """`eval --dry-run` as text: the plan, then the first requests exactly (JSON bodies)."""
    names = [neutral(c.name) + (" (baseline)" if c.name == dry.baseline else "")
             for c in dry.candidates]
    click.echo("dry run: nothing sent")
    click.echo(f"examples:   {dry.examples} ({dry.skipped} skipped) × {len(dry.candidates)} "
               f"candidates = {dry.examples * len(dry.candidates)} answers")
    click.echo(f"candidates: {', '.join(names)}")
    judge = f"; judge {neutral(dry.judge)}" if dry.judge else ""
    click.echo(f"metrics:    {', '.join(dry.metrics)}{judge}")
    grades = f" + {dry.judge_requests} judge grades" if dry.judge else ""
    click.echo(f"requests:   {dry.requests} to send ({dry.answer_requests} answers{grades}); "
               f"{dry.cached} answers cached")
    click.echo(f"cost:       {_cost_words(dry.estimated_cost_usd_max, dry.requests)}")
    shown = [(f"request {i} of {dry.answer_requests + dry.cached}", r)
             for i, r in enumerate(dry.first_requests, start=1)]
    if dry.judge_request is not None:
        shown.append(("the first judge request (a placeholder for the answer)", dry.judge_request))
    for title, request in shown:
        click.echo(f"\n{title}, to {neutral(request['endpoint'])}:")
        body = json.dumps(request["body"], ensure_ascii=False, indent=2)
        click.echo(json_printable("\n".join("  " + line for line in body.splitlines())))


def _all_local(plan: Any) -> bool:
    """Every endpoint is on this machine (vLLM, Ollama...): no per-token bill to confirm."""
    return all(urlsplit(e.client.config.base_url).hostname in _LOCAL_HOSTS
               for e in plan.endpoints.values())


def _confirm(plan: Any, yes: bool, threshold: float) -> None:
    """Ask before spending more than `threshold` (or an unknown amount on a remote API);
    refuse when nobody can answer."""
    if yes or plan.requests == 0:
        return
    unknown = plan.estimate_usd is None and not _all_local(plan)
    if not unknown and (plan.estimate_usd or 0.0) <= threshold:
        return
    amount = "an unknown amount" if unknown else f"up to {usd(plan.estimate_usd)}"
    if not common.stdin_is_tty():
        raise UsageError(f"not sending {plan.requests} requests for {amount} without "
                         f"confirmation: no terminal to ask on (pass --yes, raise "
                         f"--confirm-above, or --dry-run to preview)")
    if not click.confirm(f"Send {plan.requests} requests for {amount}?", default=False, err=True):
        click.echo("nothing sent", err=True)
        click.get_current_context().exit(EXIT_FINDINGS)


def _progress_printer() -> Any:
    """A progress bar with ETA and running cost on a terminal; nothing otherwise (or with
    --quiet, which turns the CLI's progress session off)."""
    from rich.console import Console

    from ftprep import progress

    console = Console(stderr=True)
    if not console.is_terminal or not progress.active():
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[cost]}"), console=console,
                   transient=True)
    tasks: dict[str, Any] = {}

    def update(p: Any) -> None:
        if not tasks:
            bar.start()
        if p.phase not in tasks:
            tasks[p.phase] = bar.add_task(p.phase, total=p.total, cost="")
        cost = "" if p.cost_usd is None else f"spent {usd(p.cost_usd)}"
        bar.update(tasks[p.phase], completed=p.done, cost=cost)
        if p.done >= p.total and all(t.finished for t in bar.tasks):
            bar.stop()

    return update


# -- after -------------------------------------------------------------------------------------
def _write_outputs(directory: Path, report: Any) -> None:
    """results.jsonl, summary.json and report.html, committed together: all three are written
    beside their targets first, then renamed in one go."""
    from ftprep.io.jsonl import dumps_line
    from ftprep.report.eval_view import render_eval

    contents = {
        "results.jsonl": b"".join(dumps_line(r.to_dict()) for r in report.results),
        "summary.json": (json.dumps(report.summary_dict(), ensure_ascii=False, indent=2)
                         + "\n").encode("utf-8"),
        "report.html": render_eval(report).encode("utf-8"),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the directory: {e.strerror or e}",
                         path=str(directory)) from None
    with _staged(directory, contents) as staged:
        for name, tmp in staged.items():
            os.replace(tmp, directory / name)


@contextlib.contextmanager
def _staged(directory: Path, contents: dict[str, bytes]) -> Iterator[dict[str, str]]:
    staged: dict[str, str] = {}
    try:
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            staged[name] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
        yield staged
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror or e}", path=str(directory)) from None
    finally:
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_report(report: Any, show: int) -> None:
    from rich.table import Table

    from ftprep.cli.common import print_table

    for metric in report.metrics:
        table = Table(title=None, box=None, pad_edge=False)
        for header, justify in (("candidate", "left"), (metric, "right"), ("95% CI", "right"),
                                ("errors", "right")):
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        for m in report.models:
            ci = m.ci.get(metric)
            table.add_row(neutral(m.model), _fmt(m.scores.get(metric)),
                          "-" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]",
                          str(m.errors))
        click.echo(f"\n{metric}")
        print_table(table)
    click.echo("")
    for m in report.models:
        cost = "cost unknown" if m.cost_usd is None else f"cost {usd(m.cost_usd)}"
        click.echo(f"{neutral(m.model)}: latency p50 {_fmt0(m.latency_p50)} ms, p95 "
                   f"{_fmt0(m.latency_p95)} ms; {m.prompt_tokens:,} prompt + "
                   f"{m.completion_tokens:,} completion tokens; {cost}")
    if report.comparisons:
        click.echo("")
    for c in report.comparisons:
        figures = "no paired examples" if c.n == 0 else (
            f"Δ {c.delta:+.3f}, 95% CI [{c.low:+.3f}, {c.high:+.3f}], p = {c.p_value:.3g}, "
            f"n = {c.n}")
        click.echo(f"{neutral(c.model)} vs {neutral(c.baseline)} on {c.metric}: "
                   f"{c.verdict.upper().replace('_', ' ')} ({figures})")
        click.echo(f"  {neutral(c.reason)}")
    click.echo(f"\n{report.requests_sent} requests sent, {report.cached_replies} answers from "
               "the cache")
    if report.judge:
        judge = report.judge
        cost = "cost unknown" if judge["cost_usd"] is None else f"cost {usd(judge['cost_usd'])}"
        click.echo(f"judge {neutral(judge['model'])}: {judge['requests']} grades asked, "
                   f"{judge['errors']} failed, {judge['unreadable']} unreadable; {cost}")
    for problem in report.scoring_errors[:5]:
        click.echo(f"not scored: line {problem['line']}, {neutral(problem['candidate'])}, "
                   f"{problem['metric']}: {neutral(problem['error'])}")
    if len(report.scoring_errors) > 5:
        click.echo(f"... {len(report.scoring_errors) - 5} more not scored (summary.json lists all)")
    _print_disagreements(report, show)


def _fmt0(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _print_disagreements(report: Any, show: int) -> None:
    if show <= 0 or len(report.models) < 2:
        return
    by_line: dict[int, list[Any]] = {}
    for r in report.results:
        by_line.setdefault(r.line, []).append(r)
    lines = [line for line in report.disagreements() if _differ(by_line[line])][:show]
    if not lines:
        click.echo("\nthe candidates agree on every example")
        return
    click.echo(f"\nwhere the candidates disagree most ({len(lines)} shown; --show N for more, "
               "--output-dir for all):")
    from ftprep.eval.examples import message_text

    for line in lines:
        prompt = report.prompts.get(line, [])
        question: dict[str, Any] = next(
            (m for m in reversed(prompt) if m.get("role") == "user"), {})
        click.echo(f"\n  line {line}")
        click.echo(f"    prompt:    {_short(message_text(question))}")
        click.echo(f"    reference: {_short(message_text(report.references.get(line, {})))}")
        for r in by_line[line]:
            answer = r.error or message_text({"content": r.output,
                                                "tool_calls": list(r.tool_calls)})
            scores = " ".join(f"{k}={_fmt(v)}" for k, v in r.scores.items())
            click.echo(f"    {neutral(r.candidate)}: {_short(answer)}  [{scores}]")


def _differ(rows: list[Any]) -> bool:
    if len({r.error is None for r in rows}) > 1:
        return True
    keys = {k for r in rows for k in r.scores}
    return any(len({r.scores.get(k) for r in rows}) > 1 for k in keys)


def _short(text: str, width: int = 160) -> str:
    flat = neutral(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# -- try ---------------------------------------------------------------------------------------
@click.command("try")
@click.argument("model")
@click.argument("prompt", required=False)
@click.option("--system", default=None, help="System prompt (replaces the example's).")
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="Send the prompt of an example of this JSONL file (with --line).")
@click.option("--line", type=click.IntRange(1), default=None, help="Line of the example.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=None)
@click.option("--max-tokens", type=click.IntRange(1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--dry-run", is_flag=True, help="Show the request; send nothing.")
@format_option
@platform_options
def try_command(model: str, prompt: str | None, system: str | None, from_file: str | None,
                line: int | None, temperature: float | None, max_tokens: int | None,
                seed: int | None, dry_run: bool, fmt: str, conn: Connection) -> None:
    """Send one chat request to MODEL and stream the answer (PROMPT, or stdin).

    With --from FILE --line N, send that example's prompt (and tools) and show its reference
    beside the answer."""
    from ftprep.eval.chat import format_tool_calls, stream_chat, try_request
    from ftprep.eval.examples import example_at_line, message_text

    if (from_file is None) != (line is None):
        raise UsageError("--from FILE and --line N go together")
    example = example_at_line(from_file, line) if from_file and line else None
    if example is None and not prompt and not common.stdin_is_tty():
        prompt = sys.stdin.read().strip()
    body = try_request(model, prompt, system=system, example=example, temperature=temperature,
                       max_tokens=max_tokens, seed=seed)
    config = conn.config(require_key=not dry_run)
    if dry_run:
        emit_json({"dry_run": True, "provider": config.to_dict(), "request": {**body,
                                                                              "stream": True}})
        return
    text = fmt == "text"
    result = None
    for piece in stream_chat(conn.client, body):
        if isinstance(piece, str):
            if text:
                click.echo(neutral(piece, keep_newlines=True), nl=False)
        else:
            result = piece
    assert result is not None
    if text:
        calls = format_tool_calls(result.tool_calls)
        click.echo(("\n" + neutral(calls, keep_newlines=True)) if calls else "")
        if example is not None:
            click.echo(f"--- reference ({from_file}:{line}) ---")
            click.echo(neutral(message_text(example.reference_message), keep_newlines=True))
        return
    payload = {"request": body, "answer": result.to_dict()}
    if example is not None:
        payload["reference"] = example.reference_message
    emit_json(payload)


COMMANDS: list[click.Command] = [eval_command, try_command]
