"""The report in a real browser: headless Chromium, network off, over the DevTools protocol
(tests/browser.py). Skips, with the reason, where Chromium is not installed; CI installs it
(.ci/run)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import chromium, is_blank, open_page

FTPREP = str(Path(sys.executable).with_name("ftprep"))
SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (apt-get install chromium; "
                               ".ci/run installs it)")

CHECKS = {
    "histograms": "document.querySelectorAll('#tokens svg.histogram').length",
    "limit_lines": "document.querySelectorAll('#tokens svg.histogram .marker line').length",
    "limit_drawn": ("(() => { const l = document.querySelector('#tokens .marker line');"
                    " const r = l && l.getBoundingClientRect();"
                    " return !!r && r.height > 50 && r.x > 0; })()"),
    "limit_label": "document.querySelector('#tokens .marker text').textContent",
    "columns": "document.querySelectorAll('#tokens svg.histogram rect').length",
    "findings": "document.querySelectorAll('#findings .rule').length",
    "scripts": "document.scripts.length",
    "external": ("[...document.querySelectorAll('[src],link[href]')]"
                 ".map(e => e.getAttribute('src') || e.getAttribute('href'))"),
    "dead_links": ("[...document.querySelectorAll('a[href^=\"#\"]')].map(a => a.hash.slice(1))"
                   ".filter(id => !document.getElementById(id))"),
    "line_links": "document.querySelectorAll('#findings a[href^=\"#line-\"]').length",
    # click a finding's line number: the page jumps to that line's record, shown at the top
    "jump": ("(() => { const a = document.querySelector('#findings .rule a[href^=\"#line-\"]');"
             " a.click(); const t = document.getElementById(a.hash.slice(1));"
             " const seen = {href: a.getAttribute('href'), hash: location.hash,"
             " line: a.textContent, top: Math.round(t.getBoundingClientRect().top),"
             " heading: t.querySelector('h3').textContent, scrolled: window.scrollY > 0};"
             " window.scrollTo(0, 0); return seen; })()"),  # back to the top for the screenshot
}


def test_report_opens_offline_without_errors_and_draws_the_limit(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"  # a small limit, so that the line falls among the columns
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 150\n',
                      encoding="utf-8")
    page = tmp_path / "report.html"
    r = subprocess.run([FTPREP, "report", str(SAMPLES / "defects.jsonl"), "-o", str(page),
                        "--model", "gpt-4o-mini", "--models-file", str(models)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1 and page.exists(), r.stderr  # defects: findings, page written
    run = open_page(page, CHECKS)
    assert run.console_errors == []
    assert run.requests == [] and run.failed_requests == []
    v = run.values
    assert v["histograms"] == 1 and v["limit_lines"] == 1 and v["limit_drawn"] is True
    assert v["limit_label"] == "limit 150"
    assert v["columns"] >= 10
    assert v["findings"] >= 10 and v["external"] == []
    assert v["dead_links"] == [] and v["line_links"] >= 10
    jump = v["jump"]
    assert jump["hash"] == jump["href"] and jump["scrolled"] and abs(jump["top"]) <= 2, jump
    assert jump["heading"].startswith(f"line {jump['line']}")
    assert run.screenshot.startswith(b"\x89PNG") and not is_blank(run.screenshot)


def test_the_checks_catch_errors_requests_and_blank_pages(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.com/x.png">'
                    '<script>console.error("boom"); notDefined();</script></body></html>',
                    encoding="utf-8")
    run = open_page(page, {})
    assert any("boom" in e for e in run.console_errors)
    assert any("notDefined" in e or "Uncaught" in e for e in run.console_errors)
    assert run.requests == ["http://example.com/x.png"] and run.failed_requests
    assert is_blank(run.screenshot)
