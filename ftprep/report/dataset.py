"""The data behind `ftprep report`: everything the HTML page shows, as one `ReportData`
(`to_dict()` is what `ftprep report --format json` prints, so notebooks can plot it).

One pass over the file: `validate_file` (every finding, with the rule's explanation) with the
report's `ProfileObserver` riding along (token counts for every model asked for, whatever their
number, the conversations' shape, the sample records); then one quick read that stops at the
last line the page links to, for the records of lines the findings name. Lists are capped
(the counts never are), distributions are binned and the linked records are cut (EMBED_*), so
the data stays small however large the file.
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep import progress
from ftprep.errors import InputError, UsageError
from ftprep.io.jsonl import raw_lines_at
from ftprep.report.profile import Keep, Profile, ProfileObserver

LINES_SHOWN = 100  # lines listed per rule / over the limit (the counts are complete)
FINDINGS_SHOWN = 5  # findings quoted per rule
BINS = 30  # histogram columns
TOP = 10  # system prompts, functions listed
STRING_CHARS = 2_000  # characters of a sample record's string kept
LINKED = 30  # line numbers written out (and linked) per list before "… and N more"
EMBED_MAX = 100  # records embedded for the line links (the rest stay plain numbers)
EMBED_CHARS = 4_000  # characters of strings kept per embedded record (eval prompts: twice)
EMBED_ITEMS = 50  # items kept per list or object of an embedded record
DEFAULT_MODEL = "gpt-4.1-mini"
DUPLICATE_NAMES = ("duplicate-example", "near-duplicate")  # rule names shown under Duplicates
EVAL_EXAMPLES = 50  # eval examples shown side by side (most disagreement first)
NEAR_DUP_CODE = "FT921"  # secrets and personal data (messages are masked by the rules)


def histogram(values: Any, *, bins: int = BINS, limit: int | None = None) -> dict[str, Any]:
    """Counts of `values` in `bins` equal integer-width bins from 0; the range reaches the
    limit when the limit is within twice the largest value (so its line can be drawn)."""
    top = max(values, default=0)
    if limit is not None and limit <= 2 * max(top, 1):
        top = max(top, limit)
    bins = max(1, min(bins, top + 1))  # small integer ranges: one column per value
    width = max(1, math.ceil((top + 1) / bins))
    edges = [i * width for i in range(bins + 1)]
    return {"edges": edges, "counts": _bin_counts(values, width, bins)}


def _bin_counts(values: Any, width: int, bins: int) -> list[int]:
    """How many `values` fall in each bin (the last takes everything beyond it). Python below
    NUMPY_FROM values, where importing numpy (~0.1 s) would cost more than the loop."""
    from ftprep.count import NUMPY_SORT_FROM as NUMPY_FROM

    if len(values) < NUMPY_FROM:
        counts = [0] * bins
        last = bins - 1
        for column, n in Counter(map(width.__rfloordiv__, values)).items():  # C loops
            counts[min(column, last)] += n
        return counts
    import numpy as np

    data = np.asarray(values, dtype=np.int64)
    return [int(c) for c in np.bincount(np.minimum(data // width, bins - 1), minlength=bins)]


def _stats(values: Any) -> dict[str, float]:
    from ftprep.count import stats

    return stats(values)


@dataclass
class ModelTokens:
    """One model's token counts over the file (or an open model's, with `tokenizer`)."""

    model: str
    tokenizer: str
    limit: int | None
    examples: int
    total_tokens: int
    trainable_tokens: int
    billed_tokens: int
    over_limit: int
    over_limit_lines: list[int]
    answer_cut: int
    answer_cut_lines: list[int]
    per_example: dict[str, float]
    histogram: dict[str, Any]
    estimated: bool
    refused_lines: list[int] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return self.total_tokens - self.trainable_tokens

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "prompt_tokens": self.prompt_tokens}


@dataclass
class RuleFindings:
    """The findings of one rule: how many, where, and the rule's own explanation."""

    code: str
    name: str
    severity: str
    summary: str
    why: str
    fix: str
    count: int
    lines: list[int]
    first: list[dict[str, Any]]
    example: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReportData:
    """Everything `ftprep report` shows."""

    path: str
    size_bytes: int | None
    format: str
    lines: int
    examples: int
    formats: dict[str, int]
    validation: dict[str, Any]
    rules: list[RuleFindings]
    tokens: list[ModelTokens]
    shape: dict[str, Any]
    cost: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    split: dict[str, Any] | None = None
    eval: Any = None  # ftprep.eval.results.EvalReport, rendered by the eval's own view
    linked: list[dict[str, Any]] = field(default_factory=list)  # records the line links open
    eval_prompts: str = ""  # where the eval's prompts came from, or why they are not shown

    @property
    def linked_lines(self) -> set[int]:
        return {r["line"] for r in self.linked}

    def group(self, kind: str) -> list[RuleFindings]:
        """The rules of one section: "duplicates", "sensitive" or "other"."""
        return [r for r in self.rules if _group(r) == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "size_bytes": self.size_bytes, "format": self.format,
            "lines": self.lines, "examples": self.examples, "formats": self.formats,
            "validation": self.validation,
            "findings": [r.to_dict() for r in self.rules],
            "tokens": [t.to_dict() for t in self.tokens],
            "shape": self.shape, "cost": self.cost, "samples": self.samples,
            "split": self.split,
            "eval": None if self.eval is None else self.eval.summary_dict(),
            "linked": self.linked,
        }


def _group(rule: RuleFindings) -> str:
    if rule.name in DUPLICATE_NAMES or rule.name.startswith("near-dup"):
        return "duplicates"
    return "sensitive" if rule.code in _sensitive_codes() else "other"


@functools.cache  # asked once per finding
def _sensitive_codes() -> frozenset[str]:
    """The secrets and personal-data rules (not every FT9xx: FT941 is about the file's format)."""
    from ftprep.rules.privacy import CODES

    return frozenset(CODES.values())


def report_data(
    path: str | Path, *, models: Sequence[str] = (), tokenizer: str | Path | None = None,
    split_dir: str | Path | None = None, eval_dir: str | Path | None = None,
    models_file: str | Path | None = None, epochs: int | str | None = "auto",
    workers: int | None = None, today: dt.date | None = None, near_dups: bool = False,
) -> ReportData:
    """Gather the report of `path`: validation, tokens and cost for each of `models` (default
    gpt-4.1-mini when no `tokenizer` is given), an open model's counts with `tokenizer`, the
    conversations' shape, sample records, and optionally a split's manifest and an eval.
    `near_dups` adds validate's opt-in near-duplicate rule (FT921: MinHash, the `dedup` extra;
    about 4x the whole report's CPU on the bench's chat file, so it is opt-in)."""
    from ftprep.models import get_model
    from ftprep.validate import validate_file

    if str(path) == "-":
        raise UsageError("path='-': the report reads the file twice; give a file")
    names = list(models) or ([] if tokenizer is not None else [DEFAULT_MODEL])
    infos = [get_model(m, models_file=models_file) for m in dict.fromkeys(names)]
    split = _read_split(split_dir) if split_dir is not None else None
    evaluation = _read_eval(eval_dir) if eval_dir is not None else None
    local = _local_tokenizer(tokenizer)
    tokenizers = [*dict.fromkeys(i.encoding for i in infos), *([local[0]] if local else [])]
    observer = ProfileObserver(path, tokenizers, _kept_whole(infos, local, evaluation))
    progress.stage("validating and counting")
    validation = validate_file(path, models_file=models_file, workers=workers, observer=observer,
                               extend_select=[NEAR_DUP_CODE] if near_dups else None)
    profile = observer.profile
    rules = _rules(validation.findings)
    named = _first_of_each([[f["line"] for f in rule.first] + rule.lines[:LINKED]
                            for rule in rules])[:EMBED_MAX]
    tokens = [_model_tokens(profile, i.encoding, i.id, i.max_example_tokens) for i in infos]
    if local:
        tokens.append(_model_tokens(profile, local[0], local[1], local[2]))
    from ftprep.findings import Severity

    sensitive_lines = {f.line for f in validation.findings
                       if f.code in _sensitive_codes() and f.severity is Severity.ERROR}
    kept = {line: record for records in profile.kept.values() for line, record in records}
    progress.stage("linking")
    kept.update(_records_at(path, [line for line in named if line not in kept]))
    eval_note = (_eval_prompts(evaluation, kept, validation.examples)
                 if evaluation is not None else "")
    linked = _first_of_each([*([*t.over_limit_lines[:LINKED], *t.answer_cut_lines[:LINKED],
                                *t.refused_lines[:LINKED]] for t in tokens), named])
    return ReportData(
        path=str(path), size_bytes=_size(path), format=validation.format,
        lines=validation.lines, examples=profile.examples, formats=dict(profile.formats),
        validation={"valid": validation.ok, "errors": validation.errors,
                    "warnings": validation.warnings, "findings": len(validation.findings),
                    "target": validation.target, "near_duplicates_checked": near_dups},
        rules=rules,
        tokens=tokens, shape=_shape(profile), cost=_cost(profile, infos, epochs, today),
        samples=_samples(profile, sensitive_lines), split=split, eval=evaluation,
        linked=_linked(linked, kept, sensitive_lines), eval_prompts=eval_note,
    )


def _kept_whole(infos: list[Any], local: tuple[str, str, int | None] | None,
                evaluation: Any) -> Keep:
    """What the pass keeps whole: the records of the eval's lines, and per tokenizer the first
    examples over each model's limit (the page links to them)."""
    limits: dict[str, set[int]] = {}
    for encoding, limit in [*((i.encoding, i.max_example_tokens) for i in infos),
                            *([(local[0], local[2])] if local else [])]:
        if limit is not None:
            limits.setdefault(encoding, set()).add(limit)
    eval_lines = frozenset(r.line for r in evaluation.results) if evaluation is not None else frozenset()
    return Keep(eval_lines, {t: tuple(sorted(v)) for t, v in limits.items()}, LINKED)


def _records_at(path: str | Path, lines: list[int]) -> dict[int, Any]:
    """The JSON objects on `lines` of the file, read as validation reads a line (a line
    holding none is left out: bad JSON, blank, an array)."""
    from ftprep.io.jsonl import as_record_line, parse_line

    parsed = (as_record_line(parse_line(raw, line))
              for line, raw in raw_lines_at(path, lines).items())
    return {jl.line: jl.value for jl in parsed if jl.error is None}


def _first_of_each(lists: Sequence[Sequence[int]]) -> list[int]:
    """The lines of `lists` taken in turns (each list's first, then each one's second…),
    without repeats: capped, every list still gets its first lines in."""
    out: dict[int, None] = {}
    for row in itertools.zip_longest(*lists):
        out.update((line, None) for line in row if line is not None)
    return list(out)


def _linked(lines: list[int], kept: dict[int, Any], sensitive_lines: set[int]) -> list[dict[str, Any]]:
    """The records the page's line numbers link to (EMBED_MAX at most, in page order), with
    secrets and personal data replaced by placeholders and each record cut (EMBED_*)."""
    from ftprep.quality.redact import Redactor

    redactor = Redactor()
    out = []
    for line in lines:
        if line not in kept:
            continue  # a line validation named that holds no example (bad JSON, blank)
        record = redactor.record(kept[line])
        out.append({"line": line, "redacted": line in sensitive_lines or bool(redactor.counts),
                    "record": clip(record, EMBED_CHARS)})
        redactor.counts.clear()
        if len(out) == EMBED_MAX:
            break
    return sorted(out, key=lambda r: r["line"])


def clip(value: Any, budget: int) -> Any:
    """A copy of `value` that holds about `budget` characters at most: strings are cut (with a
    note of their length), lists and objects keep EMBED_ITEMS items and stop when the budget
    is spent (with a note of how many were left out); keys and other values count too."""
    left = [budget]

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            keep = max(0, min(len(v), STRING_CHARS, left[0]))
            left[0] -= keep + 1
            return v if keep == len(v) else f"{v[:keep]}… ({len(v):,} chars)"
        if isinstance(v, dict):
            out: dict[str, Any] = {}
            for k, x in v.items():
                if len(out) == EMBED_ITEMS or left[0] <= 0:
                    out["…"] = f"{len(v) - len(out):,} more keys"
                    break
                left[0] -= len(k)
                out[k] = walk(x)
            return out
        if isinstance(v, list):
            items: list[Any] = []
            for x in v:
                if len(items) == EMBED_ITEMS or left[0] <= 0:
                    items.append(f"… {len(v) - len(items):,} more items")
                    break
                items.append(walk(x))
            return items
        left[0] -= 1
        return v

    return walk(value)


def _eval_prompts(evaluation: Any, kept: dict[int, Any], examples: int) -> str:
    """Fill the eval's prompts and references from the report's file, when it is the file
    the eval ran on (same number of records, an example on every line shown); else say why
    they are not shown. Secrets are masked, texts cut as the linked records are."""
    from ftprep.eval.examples import example_from_record
    from ftprep.quality.redact import Redactor

    lines = sorted({r.line for r in evaluation.results})
    ran_on = evaluation.examples + evaluation.skipped
    found = {line: example_from_record(Redactor().record(kept[line]), line)
             for line in lines if line in kept}
    if ran_on != examples:
        return (f"Prompts not shown: the eval ran on {ran_on:,} records, this file holds "
                f"{examples:,} (they are shown when FILE is the file the eval ran on, whole: "
                "no --limit).")
    missing = [line for line in lines if isinstance(found.get(line), (str, type(None)))]
    if missing:
        return (f"Prompts not shown: line {missing[0]} of this file is not an example, so this "
                "is not the file the eval ran on.")
    for line, example in found.items():
        assert not isinstance(example, str)
        evaluation.prompts[line] = clip(list(example.prompt), 2 * EMBED_CHARS)
        evaluation.references[line] = clip(example.reference_message, EMBED_CHARS)
    return "Prompts and references read from this file (the eval's test file)."


def _size(path: str | Path) -> int | None:
    from ftprep.parallel import file_size

    return file_size(path)


def _local_tokenizer(tokenizer: str | Path | None) -> tuple[str, str, int | None] | None:
    """("local:FOLDER", label, model_max_length) of an open model's files."""
    if tokenizer is None:
        return None
    from ftprep.count import LOCAL_PREFIX
    from ftprep.tokens.template import get_template_counter

    local = get_template_counter(tokenizer).local
    return f"{LOCAL_PREFIX}{local.folder}", local.label, local.model_max_length


def _model_tokens(profile: Profile, tokenizer: str, model: str, limit: int | None) -> ModelTokens:
    from ftprep.count import report_for

    counts = profile.counts[tokenizer]
    report = report_for(counts, model, limit)
    shown = tokenizer.split(":", 1)[0] if tokenizer.startswith("local:") else tokenizer
    return ModelTokens(
        model=model, tokenizer=shown, limit=limit, examples=report.examples,
        total_tokens=report.total_tokens, trainable_tokens=report.trainable_tokens,
        billed_tokens=report.billed_tokens, over_limit=report.over_limit,
        over_limit_lines=report.over_limit_lines[:LINES_SHOWN], answer_cut=report.answer_cut,
        answer_cut_lines=report.answer_cut_lines[:LINES_SHOWN],
        per_example=report.tokens_per_example,
        histogram=histogram(counts.tokens, limit=limit), estimated=report.estimated,
        refused_lines=profile.refused[tokenizer][:LINES_SHOWN],
    )


def _rules(findings: list[Any]) -> list[RuleFindings]:
    from ftprep.quality.redact import Redactor
    from ftprep.rules import load_rules
    from ftprep.rules.examples import load_examples

    redactor = Redactor()
    rules = load_rules()
    examples = load_examples()
    by_code: dict[str, list[Any]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    out = []
    for code, found in sorted(by_code.items()):
        rule = rules[code]
        known = examples.get(code)
        example = known.examples[0] if known and known.examples else None
        out.append(RuleFindings(
            code=code, name=rule.name, severity=found[0].severity.value,
            summary=rule.summary, why=rule.why, fix=rule.fix, count=len(found),
            lines=sorted({f.line for f in found})[:LINES_SHOWN],
            first=[{"line": f.line, "path": f.path, "message": f.message}
                   for f in found[:FINDINGS_SHOWN]],
            # FT9xx examples hold (fake) secrets: shown redacted like everything else
            example=None if example is None else {"bad": redactor.text(example.bad),
                                                  "good": redactor.text(example.good)},
        ))
    return out


def _distribution(values: Any) -> dict[str, Any]:
    return {**_stats(values), "histogram": histogram(values)}


def _shape(profile: Profile) -> dict[str, Any]:
    from ftprep.quality.redact import Redactor

    n = profile.examples
    redactor = Redactor()
    unkept = (0, "(text not kept: first seen after many other distinct system prompts)")
    texts = profile.prompt_text
    top = sorted(profile.prompts.items(),
                 key=lambda item: (-item[1], texts.get(item[0], unkept)[0] or math.inf))[:TOP]
    prompts = [{"text": redactor.text(texts.get(d, unkept)[1]),
                "first_line": texts.get(d, unkept)[0] or None, "examples": k, "share": _share(k, n)}
               for d, k in top]
    calls = profile.shape.tool_calls
    return {
        "messages": _distribution(profile.shape.messages),
        "user_turns": _distribution(profile.shape.user_turns),
        "answer_chars": _distribution(profile.shape.answer_chars),
        "roles": dict(profile.roles.most_common()),
        "system_prompts": {"examples_with": profile.with_system,
                           "share": _share(profile.with_system, n),
                           "distinct": len(profile.prompts), "top": prompts},
        "tools": {"examples_with_tools": profile.with_tools,
                  "examples_with_calls": sum(1 for c in calls if c),
                  "calls": _distribution(calls),
                  "functions": dict(Counter(profile.functions).most_common(TOP)),
                  "distinct_functions": len(profile.functions)},
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _cost(profile: Profile, infos: list[Any], epochs: int | str | None,
          today: dt.date | None) -> list[dict[str, Any]]:
    from ftprep.estimate import estimate_counts
    from ftprep.models import lifecycle_status

    rows = []
    for info in infos:
        est = estimate_counts(profile.counts[info.encoding], info, epochs=epochs, today=today)
        status = lifecycle_status(info, today)
        rows.append({"model": est.model, "epochs": est.epochs, "billed_tokens": est.billed_tokens,
                     "cost_usd": est.cost_usd, "price_per_1m": est.price_per_1m,
                     "lifecycle": est.lifecycle, "lifecycle_message": status.message,
                     "warnings": est.warnings})
    return rows


def _samples(profile: Profile, sensitive_lines: set[int]) -> list[dict[str, Any]]:
    """The sample records (chosen by a digest of their bytes), secrets and personal data
    replaced by typed placeholders, long strings cut."""
    from ftprep.quality.redact import Redactor
    from ftprep.quality.walk import map_strings

    redactor = Redactor()
    out = []
    for _, line, record in profile.samples:
        clean = redactor.record(record)
        out.append({"line": line, "redacted": line in sensitive_lines or bool(redactor.counts),
                    "record": map_strings(clean, _cut)})
        redactor.counts.clear()
    return out


def _cut(text: str) -> str:
    return text if len(text) <= STRING_CHARS else f"{text[:STRING_CHARS]}… ({len(text):,} chars)"


def _read_split(split_dir: str | Path) -> dict[str, Any]:
    manifest = Path(split_dir) / "split.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no split.json here (the folder `ftprep split -o` wrote)",
                         path=str(split_dir)) from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the split manifest: {e}", path=str(manifest)) from None
    if not isinstance(data, dict):
        raise InputError("the split manifest is not a JSON object", path=str(manifest))
    return data


def _read_eval(eval_dir: str | Path) -> Any:
    """The eval `ftprep eval -o DIR` saved, with the results of the examples where the
    candidates disagree most (EVAL_EXAMPLES)."""
    from ftprep.eval.saved import load_eval_dir

    return load_eval_dir(eval_dir, max_examples=EVAL_EXAMPLES)
