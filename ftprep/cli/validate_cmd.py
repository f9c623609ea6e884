"""CLI: `ftprep validate` and `ftprep rules`."""
from __future__ import annotations

import itertools
import json
import tempfile
import textwrap
from collections import defaultdict
from typing import Any

import click

from ftprep.cli.common import emit_json, format_option, quiet_option, split_codes
from ftprep.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ftprep.findings import Finding
from ftprep.formats import FORMATS
from ftprep.rules import Rule, load_rules
from ftprep.rules.examples import RuleExample, load_examples
from ftprep.text import json_printable, printable
from ftprep.validate import ValidationReport, validate_file

SHOWN_PER_CODE = 5
_COLORS = {"error": "red", "warning": "yellow"}


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "-m", help="Also check token limits for this model (e.g. gpt-4.1-mini).")
@click.option("--models-file", type=click.Path(dir_okay=False), envvar="FTPREP_MODELS_FILE",
              help="A models.toml that overrides the built-in registry.")
@click.option("--target", default="openai", show_default=True,
              help="Check what this platform or trainer accepts (see `ftprep targets`).")
@click.option("--targets-file", type=click.Path(dir_okay=False), envvar="FTPREP_TARGETS_FILE",
              help="A targets.toml that overrides the built-in target facts.")
@click.option("--select", multiple=True, help="Only these rule codes or prefixes (FT3,FT501).")
@click.option("--ignore", multiple=True, help="Skip these rule codes or prefixes.")
@click.option("--extend-select", multiple=True,
              help="Add these codes or prefixes to the default rules (opt-in rules, e.g. FT91).")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Report near-duplicate examples (FT921, opt-in) at this MinHash Jaccard "
              "similarity or more (0.8 when FT921 is selected without it).")
@click.option("--max-findings", type=click.IntRange(1), default=SHOWN_PER_CODE, show_default=True,
              help="Findings listed per rule in the text report (all are counted; "
              "--format json lists every one, streamed).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes (default: all cores for files over 4 MB, else 1); "
              "the report is the same whatever the number.")
@quiet_option
@format_option
def validate(file: str, model: str | None, models_file: str | None, target: str,
             targets_file: str | None, select: tuple[str, ...], ignore: tuple[str, ...],
             extend_select: tuple[str, ...], near_dup_threshold: float | None,
             max_findings: int, strict: bool, workers: int | None, fmt: str) -> None:
    """Check FILE (JSONL) against the format's schema and every rule; report all findings."""
    options = dict(model=model, select=split_codes(select), ignore=split_codes(ignore),
                   extend_select=split_codes(extend_select), strict=strict,
                   models_file=models_file, workers=workers, target=target,
                   targets_file=targets_file, near_dup_threshold=near_dup_threshold)
    if fmt == "json":
        report = _emit_streamed_json(file, options)
    else:
        report = validate_file(file, max_per_code=max_findings, **options)  # type: ignore[arg-type]
        _print_report(report, max_findings)
    raise SystemExit(EXIT_OK if report.ok else EXIT_FINDINGS)


_ISSUES_MARK = "@@ftprep-streamed-issues@@"


def _emit_streamed_json(file: str, options: dict[str, Any]) -> ValidationReport:
    """The same document as `emit_json(report.to_dict())`, without holding the findings: each
    one goes to a temporary file (on disk) as it is found, and is copied into `issues`."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        def spill(finding: Finding) -> None:
            spool.write(json.dumps(finding.to_dict(), ensure_ascii=False) + "\n")

        report = validate_file(file, on_finding=spill, **options)
        data = report.to_dict()
        whole_file = data["issues"]  # line 0: few, kept; they sort first
        data["issues"] = _ISSUES_MARK
        head, tail = json.dumps(data, ensure_ascii=False, indent=2).split(f'"{_ISSUES_MARK}"')
        spool.seek(0)
        items = itertools.chain(whole_file, (json.loads(line) for line in spool))
        def out(text: str) -> None:
            click.echo(text, nl=False)

        out(json_printable(head))
        first = next(items, None)
        if first is None:
            out("[]")
        else:
            out("[\n")
            for i, item in enumerate(itertools.chain([first], items)):
                text = textwrap.indent(json.dumps(item, ensure_ascii=False, indent=2), "    ")
                out(("" if i == 0 else ",\n") + json_printable(text))
            out("\n  ]")
        out(json_printable(tail) + "\n")
    return report


def _print_report(report: ValidationReport, shown: int = SHOWN_PER_CODE) -> None:
    rules = load_rules()
    by_code: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_code[f.code].append(f)
    counts = report.counts()  # exact, though the report keeps `shown` findings per code
    for code, items in sorted(by_code.items(), key=lambda kv: (kv[1][0].severity != "error", kv[0])):
        rule = rules[code]
        sev = click.style(rule.severity.value, fg=_COLORS[rule.severity.value])
        total = counts.get(code, len(items))
        click.echo(f"{click.style(code, bold=True)} {rule.name} ({sev}) ×{total}")
        for f in items[:shown]:
            where = f"line {f.line}" if f.line else "file"
            text = f"{f.path + ': ' if f.path else ''}{f.message}"
            click.echo(f"  {where:>10}  {printable(text)}")  # messages quote the data
        if total > shown:
            click.echo(f"  {'':>10}  … and {total - shown} more (--format json lists all)")
    if report.suppressed:
        if report.format in FORMATS:
            click.echo(f"({report.suppressed} line errors not listed: the file is not JSONL)")
        else:
            click.echo(f"({report.suppressed} lines not checked: {report.format} data is not "
                       "checked line by line)")
    verdict = click.style("valid", fg="green") if report.ok else click.style("invalid", fg="red")
    model = f", model {report.model}" if report.model else ""
    if report.target != "openai":
        model += f", target {report.target}"
    for note in report.target_notes:
        click.echo(f"note ({report.target}): {note}")
    click.echo(f"{report.path}: {verdict} — {report.format}, {report.examples} examples{model}, "
               f"{report.errors} errors, {report.warnings} warnings")


@click.command()
@click.argument("code", required=False)
@format_option
def rules(code: str | None, fmt: str) -> None:
    """List every validation rule, or explain one with an example (ftprep rules FT301);
    a prefix lists its family (ftprep rules FT7)."""
    registry = load_rules()
    if code:
        rule = registry.get(code.upper()) or next((r for r in registry.values() if r.name == code), None)
        if rule is None:
            family = {c: r for c, r in registry.items() if c.startswith(code.upper())}
            if not family:
                raise UsageError(f"no rule {code!r} (see `ftprep rules`)")
            _list_rules(family, fmt)
            return
        found = load_examples().get(rule.code)
        examples = found.examples if found else ()
        if fmt == "json":
            emit_json({**rule.to_dict(), "examples": [e.to_dict() for e in examples]})
        else:
            opt_in = "" if rule.default else ", opt-in: --extend-select " + rule.code
            click.echo(f"{rule.code} {rule.name} ({rule.severity.value}{opt_in})\n\n{rule.summary}\n\n"
                       f"Why: {rule.why}\n\nFix: {rule.fix}")
            if examples:
                _print_example(examples[0])
        return
    _list_rules(registry, fmt)


def _list_rules(registry: dict[str, Rule], fmt: str) -> None:
    if fmt == "json":
        emit_json([r.to_dict() for r in registry.values()])
        return
    width = max((len(r.name) for r in registry.values()), default=0)
    for r in registry.values():
        opt_in = "" if r.default else " (opt-in)"
        click.echo(f"{r.code}  {r.name:<{width}} {r.severity.value:<8} {r.summary}{opt_in}")


def _print_example(example: RuleExample) -> None:
    where = f"line {example.line}" if example.line else "the file"
    where += f", {example.path}" if example.path else ""
    flags = f" with {' '.join(example.options())}" if example.options() else ""
    click.echo(f"\nExample ({example.code} at {where}{flags}):")
    _print_text(example.bad, example.bad_encoding)
    click.echo("\nFixed:")
    _print_text(example.good, example.good_encoding)
    for name, toml in (("M", example.models), ("T", example.targets)):
        if toml:
            click.echo(f"\n{name}:")
            _print_text(toml.rstrip("\n"), "utf-8")


def _print_text(text: str, encoding: str) -> None:
    for line in text.split("\n"):
        click.echo(f"    {line}")
    if encoding != "utf-8":
        click.echo(f"    (saved as {encoding})")


COMMANDS: list[click.Command] = [validate, rules]
