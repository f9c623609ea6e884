"""A small builder for self-contained HTML pages, shared by every ftprep report.

Everything that comes from data is escaped: only `Html` values (built by these helpers) are
inserted as markup, any other value is text. A page carries its CSS (and optional script)
inline and a Content-Security-Policy that forbids loading anything, so it opens offline and
cannot call out even if some text slipped through.

    page = Page("Eval of test.jsonl")
    page.add(section("Scores", table(["model", "exact"], [["ft", "0.85"]])))
    page.add(section("Spread", bar_chart([("ft", 0.85), ("base", 0.6)], max_value=1)))
    Path("report.html").write_text(page.render(), encoding="utf-8")

Building blocks: `tag` (any element), `table`, `section`, `definition_list`, `bar_chart`
(horizontal bars, optionally with an interval per bar), `histogram` (counts per bin) and
`binned_histogram` (counts binned already, with marker lines such as a limit), `Page`.
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:")

BASE_CSS = """
:root { --fg: #1d232b; --muted: #5c6773; --line: #d9dee4; --bg: #fff; --soft: #f4f6f8;
        --good: #1b7f3b; --bad: #b42318; --warn: #9a6700; --bar: #3b6fb6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; padding: 24px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
         vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
pre, .text { white-space: pre-wrap; word-break: break-word; margin: 0;
             font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.good { color: var(--good); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; background: var(--soft);
         border: 1px solid var(--line); font-size: 12px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
dt { color: var(--muted); } dd { margin: 0; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
@media print { body { max-width: none; padding: 0; font-size: 12px; }
               section { break-inside: avoid-page; } .noprint { display: none; }
               a { color: inherit; text-decoration: none; } }
"""


class Html(str):
    """Markup that is already safe to insert (built by this module's helpers)."""


def esc(value: Any) -> Html:
    """`value` as safe HTML: Html passes through, anything else is escaped text."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Html:
    return Html("".join(esc(p) for p in parts))


def _attrs(attrs: dict[str, Any]) -> str:
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")  # class_ → class, data_x → data-x
        out.append(f" {name}" if value is True else f' {name}="{html.escape(str(value))}"')
    return "".join(out)


def tag(name: str, *children: Any, **attrs: Any) -> Html:
    """`<name attrs>children</name>`; children are escaped unless they are Html."""
    return Html(f"<{name}{_attrs(attrs)}>{join(children)}</{name}>")


def section(title: str, *blocks: Any, id: str | None = None, note: str | None = None) -> Html:
    head = [tag("h2", title)] + ([tag("p", note, class_="muted")] if note else [])
    return tag("section", *head, *blocks, id=id)


def definition_list(items: Sequence[tuple[Any, Any]]) -> Html:
    return tag("dl", *(join([tag("dt", k), tag("dd", v)]) for k, v in items))


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[int] = (), class_: str | None = None) -> Html:
    """A table; columns whose index is in `numeric` are right-aligned."""
    num = set(numeric)
    head = tag("tr", *(tag("th", h, class_="num" if i in num else None)
                       for i, h in enumerate(headers)))
    body = [tag("tr", *(tag("td", c, class_="num" if i in num else None)
                        for i, c in enumerate(row))) for row in rows]
    return tag("table", tag("thead", head), tag("tbody", *body), class_=class_)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def bar_chart(items: Sequence[tuple[str, float | None]], *, max_value: float | None = None,
              intervals: Sequence[tuple[float, float] | None] | None = None,
              width: int = 520, bar_height: int = 18, label_width: int = 180) -> Html:
    """Horizontal bars as inline SVG, one per (label, value); None values are left empty.
    `intervals` draws a whisker (e.g. a 95% CI) over each bar."""
    known = [v for _, v in items if v is not None and math.isfinite(v)]
    top = max_value if max_value is not None else max([*known, 0.0]) or 1.0
    plot = width - label_width - 60
    rows = []
    for i, (label, value) in enumerate(items):
        y = i * (bar_height + 8)
        parts = [tag("text", label[:28], x=0, y=y + bar_height - 4)]
        if value is not None and math.isfinite(value):
            w = max(0.0, min(1.0, value / top)) * plot
            parts.append(tag("rect", x=label_width, y=y, width=f"{w:.1f}", height=bar_height,
                             style="fill: var(--bar)", rx=2))
            parts.append(tag("text", _fmt(value), x=f"{label_width + w + 6:.1f}",
                             y=y + bar_height - 4))
        interval = intervals[i] if intervals and i < len(intervals) else None
        if interval is not None and all(math.isfinite(x) for x in interval):
            lo, hi = (label_width + max(0.0, min(1.0, x / top)) * plot for x in interval)
            mid = y + bar_height / 2
            parts.append(tag("line", x1=f"{lo:.1f}", x2=f"{hi:.1f}", y1=mid, y2=mid,
                             style="stroke: var(--fg); stroke-width: 2"))
        rows.append(tag("g", *parts))
    height = max(1, len(items)) * (bar_height + 8)
    return tag("svg", *rows, width=width, height=height,
               role="img", viewBox=f"0 0 {width} {height}")


def histogram(values: Sequence[float], *, bins: int = 10, low: float | None = None,
              high: float | None = None, width: int = 420, height: int = 120) -> Html:
    """Counts of `values` in `bins` equal bins between low and high, as inline SVG columns."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return tag("p", "no values", class_="muted")
    lo = min(finite) if low is None else low
    hi = max(finite) if high is None else high
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in finite:
        counts[min(bins - 1, max(0, int((v - lo) / span * bins)))] += 1
    return binned_histogram([lo + span * i / bins for i in range(bins + 1)], counts,
                            width=width, height=height)


def binned_histogram(edges: Sequence[float], counts: Sequence[int], *,
                     markers: Sequence[tuple[float, str]] = (), width: int = 420,
                     height: int = 120, label: str = "") -> Html:
    """Columns for counts already binned (`edges` has one more item than `counts`), with a
    vertical line per marker (value, label), e.g. a limit; a marker beyond the last edge is
    drawn at the right border with an arrow. Each column's title says its range and count."""
    if not counts:
        return tag("p", "no values", class_="muted")
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0
    plot = height - 30
    peak = max(counts) or 1
    col = width / len(counts)
    bars = []
    for i, c in enumerate(counts):
        h = c / peak * plot
        bars.append(tag("rect", tag("title", f"{_fmt(edges[i])} to under {_fmt(edges[i + 1])}: {c:,}"),
                        x=f"{i * col + 1:.1f}", y=f"{height - 16 - h:.1f}",
                        width=f"{max(col - 2, 1):.1f}", height=f"{h:.1f}",
                        style="fill: var(--bar)"))
    lines = []
    for value, text in markers:
        beyond = value > hi
        x = width - 1 if beyond else (value - lo) / span * width
        lines.append(tag("g", tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=8, y2=height - 16,
                                  style="stroke: var(--bad); stroke-width: 2; "
                                        "stroke-dasharray: 4 3"),
                         tag("text", f"{text}{' →' if beyond else ''}", x=f"{x - 4:.1f}", y=10,
                             text_anchor="end", style="fill: var(--bad)"),
                         class_="marker"))
    labels = [tag("text", _fmt(lo), x=0, y=height - 2),
              tag("text", _fmt(hi), x=width, y=height - 2, text_anchor="end")]
    return tag("svg", *bars, *lines, *labels, width=width, height=height, role="img",
               viewBox=f"0 0 {width} {height}", aria_label=label or None, class_="histogram")


class Page:
    """A whole document: title, blocks added in order, extra CSS and an optional script."""

    def __init__(self, title: str, *, subtitle: str | None = None, css: str = "",
                 script: str = "") -> None:
        self.title, self.subtitle, self.css, self.script = title, subtitle, css, script
        self.blocks: list[Html] = []

    def add(self, *blocks: Html) -> Page:
        self.blocks.extend(blocks)
        return self

    def render(self) -> str:
        head = (f'<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                f'content="{CSP}"><meta name="viewport" content="width=device-width">'
                f"<title>{esc(self.title)}</title><style>{BASE_CSS}{self.css}</style>")
        top = [tag("h1", self.title)] + ([tag("p", self.subtitle, class_="muted")]
                                         if self.subtitle else [])
        script = f"<script>{_safe_script(self.script)}</script>" if self.script else ""
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head>{head}</head><body>"
                f"{join(top)}{join(self.blocks)}{script}</body></html>\n")


def _safe_script(code: str) -> str:
    """Inline scripts are code from ftprep, never data; still, no `</script>` breakout."""
    return code.replace("</", "<\\/")
