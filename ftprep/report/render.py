"""report.html for `ftprep report`: the `ReportData` of a file as one self-contained page
(inline CSS and SVG, nothing fetched when it opens), built with the shared `html` helpers."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftprep import __version__
from ftprep.report.dataset import LINKED, ReportData, RuleFindings
from ftprep.report.html import (
    Html,
    Page,
    bar_chart,
    binned_histogram,
    definition_list,
    esc,
    join,
    section,
    table,
    tag,
)

CSS = """
nav { margin: 8px 0 4px; } nav a { margin-right: 12px; }
.chat { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.msg { margin: 6px 0; padding: 6px 8px; border-radius: 4px; background: var(--soft); }
.msg.assistant { background: #eaf1fb; } .msg.system, .msg.developer { background: #f6f1e6; }
.msg .role { color: var(--muted); font-size: 12px; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 28px; }
.rule { border-top: 1px solid var(--line); padding-top: 4px; }
.lines { word-break: break-word; }
"""


def write_report(data: ReportData, path: str | Path) -> int:
    """Write `data`'s report.html atomically; returns its size in bytes."""
    from ftprep.io.writer import atomic_writer

    page = render_report(data).encode("utf-8")
    with atomic_writer(path) as f:
        f.write(page)
    return len(page)


def render_report(data: ReportData, *, title: str | None = None) -> str:
    """The whole report.html for `data`, as a string."""
    name = Path(data.path).name
    css, script, evaluation = CSS, "", []
    if data.eval is not None:  # imported only then: the eval's modules cost ~20 ms to load
        from ftprep.report import eval_view  # one renderer for the eval, here and on its own

        css, script = CSS + eval_view.CSS, eval_view.SCRIPT
        evaluation = [("eval", "Evaluation", join([tag("p", data.eval_prompts, class_="muted"),
                                                   *eval_view.eval_sections(data.eval)]))]
    page = Page(title or f"ftprep report: {name}", subtitle=_subtitle(data), css=css,
                script=script)
    blocks = [
        ("overview", "Overview", _overview(data)),
        ("tokens", "Tokens per example", _tokens(data)),
        ("conversations", "Conversations", _conversations(data)),
        ("findings", "Validation findings", _findings(data.group("other"), data)),
        ("duplicates", "Duplicates", join([_findings(data.group("duplicates"), data, empty=(
            "No duplicates found.")), _near_dup_note(data)])),
        ("sensitive", "Secrets and personal data", _findings(data.group("sensitive"), data, empty=(
            "No secrets or personal data found by the FT9xx rules that ran."))),
        ("cost", "Cost", _cost(data)),
        *([("split", "Split", _split(data.split))] if data.split is not None else []),
        *evaluation,
        ("samples", "Example records", _samples(data)),
        *([("linked", "Linked lines", _linked(data))] if data.linked else []),
    ]
    nav = tag("nav", *(tag("a", label, href=f"#{key}") for key, label, _ in blocks),
              class_="noprint")
    page.add(nav, *(section(label, body, id=key) for key, label, body in blocks))
    return page.render()


def _subtitle(data: ReportData) -> str:
    size = "" if data.size_bytes is None else (
        f"{data.size_bytes / 1e6:,.1f} MB" if data.size_bytes >= 1e6 else
        f"{data.size_bytes / 1e3:,.1f} KB")
    return f"{data.path} · {size} · made by ftprep {__version__}"


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _lines(data: ReportData, lines: Sequence[int], total: int) -> Html:
    linked = data.linked_lines
    parts: list[Any] = []
    for n in lines[:LINKED]:
        parts += [", ", _line(n, linked)]
    shown = join(parts[1:])
    more = total - min(len(lines), LINKED)
    return tag("span", shown, f" … and {more:,} more" if more > 0 else "", class_="lines")


def _line(n: Any, linked: set[int]) -> Html:
    """A line number, a link to its record when the page holds it (see `_linked`)."""
    return tag("a", n, href=f"#line-{n}") if n in linked else esc(n)


def _verdict(data: ReportData) -> Html:
    v = data.validation
    if v["valid"]:
        return tag("span", f"valid ({v['warnings']} warnings)", class_="good")
    return tag("span", f"invalid: {v['errors']:,} errors, {v['warnings']:,} warnings",
               class_="bad")


def _overview(data: ReportData) -> Html:
    messages = data.shape["messages"]
    items: list[tuple[Any, Any]] = [
        ("format", data.format + (f" ({', '.join(f'{k}: {v:,}' for k, v in data.formats.items())})"
                                  if len(data.formats) > 1 else "")),
        ("lines", _num(data.lines)),
        ("examples", _num(data.examples)),
        ("messages per example", f"mean {messages['mean']}, max {messages['max']}"),
        *((f"tokens ({t.model})", f"{t.total_tokens:,} ({t.trainable_tokens:,} trainable)")
          for t in data.tokens),
        ("validation", _verdict(data)),
    ]
    return definition_list(items)


def _tokens(data: ReportData) -> Html:
    if not data.tokens:
        return tag("p", "No model or tokenizer given.", class_="muted")
    parts = []
    drawn: dict[tuple[str, int | None], str] = {}  # models sharing counts and limit: one chart
    for t in data.tokens:
        same = drawn.setdefault((t.tokenizer, t.limit), t.model)
        if same != t.model:
            parts.append(tag("div", tag("h3", t.model, " ", tag(
                "span", f"{t.tokenizer} · same tokens and limit as {same}", class_="muted")),
                class_="model", data_model=t.model))
            continue
        h = t.histogram
        markers = [(t.limit, f"limit {t.limit:,}")] if t.limit is not None else []
        limit = f"limit {t.limit:,} tokens per example" if t.limit is not None else "no limit known"
        over = (tag("p", tag("strong", f"{t.over_limit:,} examples over the limit"),
                    " (cut when training), lines: ", _lines(data, t.over_limit_lines, t.over_limit),
                    class_="bad")
                if t.over_limit else tag("p", "No example is over the limit.", class_="good"))
        cut = (tag("p", f"{t.answer_cut:,} examples lose their whole final answer, lines: ",
                   _lines(data, t.answer_cut_lines, t.answer_cut), class_="bad")
               if t.answer_cut else "")
        refused = (tag("p", "Not counted (the chat template refused them): lines ",
                       _lines(data, t.refused_lines, len(t.refused_lines)), class_="warn")
                   if t.refused_lines else "")
        stats = t.per_example
        parts.append(tag(
            "div",
            tag("h3", t.model, " ", tag("span", f"{t.tokenizer} · {limit}", class_="muted")),
            binned_histogram(h["edges"], h["counts"], markers=markers, width=640, height=160,
                             label=f"tokens per example, {t.model}"),
            tag("p", f"tokens per example: min {stats['min']:,}, median {stats['median']:,}, "
                     f"p95 {stats['p95']:,}, max {stats['max']:,}"
                     + (" (estimates: some examples hold images or tools)" if t.estimated else ""),
                class_="muted"),
            over, cut, refused,
            bar_chart([("trainable (assistant)", float(t.trainable_tokens)),
                       ("prompt (not trained on)", float(t.prompt_tokens))]),
            class_="model", data_model=t.model,
        ))
    return join(parts)


def _distribution(title: str, dist: dict[str, Any]) -> Html:
    h = dist["histogram"]
    return tag("div", tag("h3", title),
               binned_histogram(h["edges"], h["counts"], width=300, height=110, label=title),
               tag("p", f"min {dist['min']:,} · median {dist['median']:,} · max {dist['max']:,}",
                   class_="muted"))


def _conversations(data: ReportData) -> Html:
    shape = data.shape
    roles = table(["role", "messages"], [[r, f"{n:,}"] for r, n in shape["roles"].items()],
                  numeric=[1])
    sp = shape["system_prompts"]
    linked = data.linked_lines
    prompts = table(
        ["system prompt", "examples", "share", "first line"],
        [[tag("div", p["text"], class_="text"), f"{p['examples']:,}", f"{p['share']:.1%}",
          _line(p["first_line"], linked)] for p in sp["top"]], numeric=[1, 2, 3])
    tools = shape["tools"]
    functions = table(["function", "calls"], [[f, f"{n:,}"] for f, n in tools["functions"].items()],
                      numeric=[1])
    return join([
        tag("div", _distribution("Messages per example", shape["messages"]),
            _distribution("User turns per example", shape["user_turns"]),
            _distribution("Final answer length (characters)", shape["answer_chars"]),
            class_="charts"),
        tag("h3", "Roles"), roles,
        tag("h3", "System prompts"),
        tag("p", f"{sp['examples_with']:,} examples ({sp['share']:.1%}) have a system prompt; "
                 f"{sp['distinct']:,} distinct."),
        prompts if sp["top"] else "",
        tag("h3", "Tool use"),
        tag("p", f"{tools['examples_with_tools']:,} examples define tools; "
                 f"{tools['examples_with_calls']:,} call one "
                 f"(max {tools['calls']['max']:,} calls in an example); "
                 f"{tools['distinct_functions']:,} distinct functions called."),
        functions if tools["functions"] else "",
    ])


def _findings(rules: list[RuleFindings], data: ReportData, empty: str | None = None) -> Html:
    if not rules:
        return tag("p", empty or "No findings.", class_="good")
    linked = data.linked_lines
    summary = table(
        ["rule", "severity", "findings", "lines"],
        [[tag("a", f"{r.code} {r.name}", href=f"#{r.code}"),
          tag("span", r.severity, class_="bad" if r.severity == "error" else "warn"),
          f"{r.count:,}", _lines(data, r.lines, r.count)] for r in rules], numeric=[2])
    details = [tag(
        "div",
        tag("h3", f"{r.code} {r.name}", " ", tag("span", r.severity, class_="badge")),
        tag("p", r.summary, " ", tag("span", r.why, class_="muted")),
        tag("p", tag("strong", "Fix: "), r.fix),
        table(["line", "path", "message"],
              [[_line(f["line"], linked), f["path"], f["message"]] for f in r.first], numeric=[0]),
        tag("p", f"… {r.count - len(r.first):,} more", class_="muted")
        if r.count > len(r.first) else "",
        _rule_example(r),
        class_="rule", id=r.code,
    ) for r in rules]
    return join([summary, *details])


def _near_dup_note(data: ReportData) -> Html:
    if data.validation.get("near_duplicates_checked"):
        return tag("p", "Exact duplicates (FT109) and near-duplicates (FT921) checked.",
                   class_="muted")
    return tag("p", "Exact duplicates (FT109) checked; near-duplicates (FT921) were not "
                    "(ftprep report --near-dups, with the dedup extra).", class_="muted")


def _rule_example(rule: RuleFindings) -> Html:
    if not rule.example:
        return Html("")
    return tag("div", tag("p", "Example that triggers it, and the fixed version:", class_="muted"),
               tag("pre", rule.example["bad"]), tag("pre", rule.example["good"], class_="good"))


def _cost(data: ReportData) -> Html:
    if not data.cost:
        return tag("p", "No OpenAI model given (--model).", class_="muted")
    rows = [[c["model"], c["epochs"], f"{c['billed_tokens']:,}", _usd(c["cost_usd"]),
             f"${c['price_per_1m']:g}",
             tag("span", c["lifecycle"], class_="good" if c["lifecycle"] == "available" else "warn",
                 title=c["lifecycle_message"])] for c in data.cost]
    notes = sorted({w for c in data.cost for w in c["warnings"]})
    return join([
        table(["model", "epochs", "billed tokens", "cost", "per 1M", "lifecycle"], rows,
              numeric=[1, 2, 3, 4]),
        *(tag("p", n, class_="warn") for n in notes),
    ])


def _usd(amount: float) -> str:
    from ftprep.cli.common import usd

    return usd(amount)


def _split(manifest: dict[str, Any] | None) -> Html:
    assert manifest is not None
    counts = manifest.get("counts", {})
    leakage = manifest.get("leakage", {})
    items: list[tuple[Any, Any]] = [
        ("train", _num(counts.get("train"))), ("test", _num(counts.get("test"))),
        ("exact duplicates", _num(counts.get("exact_duplicates"))),
        ("reconciled", str(counts.get("reconciled"))),
        ("leakage", tag("span", "none" if leakage.get("ok") else
                        f"{leakage.get('duplicated_examples')} shared examples, "
                        f"{leakage.get('shared_groups')} shared groups",
                        class_="good" if leakage.get("ok") else "bad")),
        ("seed", _num(manifest.get("options", {}).get("seed"))),
    ]
    groups = manifest.get("groups")
    if groups:
        items.append(("groups", f"{groups.get('count')} (missing key: {groups.get('missing_key')})"))
    blocks = [definition_list(items)]
    strata = (manifest.get("strata") or {}).get("classes")
    if strata:
        keys = list(strata[0])
        blocks.append(table(keys, [[s.get(k) for k in keys] for s in strata]))
    blocks += [tag("p", w, class_="warn") for w in manifest.get("warnings", [])]
    return join(blocks)


def _samples(data: ReportData) -> Html:
    if not data.samples:
        return tag("p", "No example could be read.", class_="muted")
    note = tag("p", "Chosen by a digest of each line's bytes (the same file shows the same "
                    "examples); secrets and personal data are replaced by placeholders.",
               class_="muted")
    return join([note, *(_chat(s) for s in data.samples)])


def _linked(data: ReportData) -> Html:
    note = tag("p", f"The records the line numbers above link to ({len(data.linked):,}; long "
                    "texts cut), secrets and personal data replaced by placeholders.",
               class_="muted")
    return join([note, *(_chat(r, id=f"line-{r['line']}") for r in data.linked)])


def _chat(sample: dict[str, Any], *, id: str | None = None) -> Html:
    record = sample["record"]
    if "messages" in record or "input" in record:
        source = record.get("input", record)
        messages = [*_list(source.get("messages")), *_list(record.get("preferred_output"))]
    else:
        messages = [{"role": "prompt", "content": record.get("prompt")},
                    {"role": "completion", "content": record.get("completion")}]
    tools = record.get("tools") or (record.get("input") or {}).get("tools") or []
    head = tag("h3", f"line {sample['line']}",
               tag("span", " (redacted)", class_="warn") if sample.get("redacted") else "")
    tool_note = (tag("p", "tools: " + ", ".join(_tool_names(tools)), class_="muted")
                 if tools else "")
    return tag("div", head, tool_note, *(_message(m) for m in messages), class_="chat", id=id)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tool_names(tools: Any) -> list[str]:
    names = []
    for t in _list(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        names.append(str(fn.get("name")) if isinstance(fn, dict) else "?")
    return names


def _message(m: Any) -> Html:
    if not isinstance(m, dict):
        return tag("div", tag("pre", json.dumps(m, ensure_ascii=False)), class_="msg")
    role = str(m.get("role", "?"))
    content = m.get("content")
    text = content if isinstance(content, str) else (
        "" if content is None else json.dumps(content, ensure_ascii=False, indent=1))
    calls = [tag("pre", f"→ {c.get('function', {}).get('name', '?')}"
                        f"({c.get('function', {}).get('arguments', '')})")
             for c in _list(m.get("tool_calls")) if isinstance(c, dict)
             and isinstance(c.get("function"), dict)]
    return tag("div", tag("div", role + (f" · weight {m['weight']}" if "weight" in m else ""),
                          class_="role"),
               tag("div", text, class_="text"), *calls, class_=f"msg {role}")
