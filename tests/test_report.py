"""`ftprep report`: the data behind the page (`report_data`) and the page itself, on real
files and through the installed `ftprep`. The browser test is tests/test_report_browser.py."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

from ftprep.formats import UNKNOWN, detect_format
from ftprep.io.jsonl import parse_line
from ftprep.report.dataset import histogram, report_data
from ftprep.report.render import render_report
from ftprep.validate import validate_file
from tests.fake_openai import FakeOpenAI

FTPREP = str(Path(sys.executable).with_name("ftprep"))
SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
DEFECTS = SAMPLES / "defects.jsonl"
OPENAI_KEY = "sk-proj-Q7vX2mN9pL4kJ8hG3fD6sA1zR5tY0uW2eB7cV9nM4xK8jH3gF6dS1aP5oI2uY7t"


def _chat(user: str, assistant: str, system: str | None = None, **extra: object) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return json.dumps({"messages": messages, **extra})


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _text(page: str) -> str:
    """The page's visible text, tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_report_of_defects_names_every_finding_rule_and_line() -> None:
    page = render_report(report_data(DEFECTS))
    text = _text(page)
    findings = validate_file(DEFECTS).findings
    assert len(findings) >= 10
    for f in findings:  # every rule, with its line in that rule's detail table
        block = page[page.index(f'id="{f.code}"'):]
        block = block[:block.index("</table>")]
        assert re.search(rf'<td class="num">(<a href="#line-{f.line}">)?{f.line}(</a>)?</td>',
                         block), (f.code, f.line)
        assert f.code in text
    assert "FT109 duplicate-example" in text  # in its own Duplicates section
    duplicates = page[page.index('id="duplicates"'):page.index('id="sensitive"')]
    assert "FT109" in duplicates and "FT301" not in duplicates


def _anchors(page: str) -> tuple[list[str], set[str]]:
    """(every in-page link's target, every id on the page)."""
    return re.findall(r'href="#([^"]+)"', page), set(re.findall(r' id="([^"]+)"', page))


def test_finding_lines_link_to_the_embedded_record_and_no_link_is_dead() -> None:
    report = report_data(DEFECTS, models=["gpt-4o-mini"])
    page = render_report(report)
    targets, ids = _anchors(page)
    assert targets and not set(targets) - ids  # no dead link
    raw = DEFECTS.read_bytes().split(b"\n")
    examples = {i for i, b in enumerate(raw, 1)  # the lines that hold an example
                if (jl := parse_line(b, i)).ok and detect_format(jl.value) != UNKNOWN}
    for rule in report.rules:
        for f in rule.first:
            if f["line"] in examples:
                assert f'<a href="#line-{f["line"]}">{f["line"]}</a>' in page, (rule.code, f)
    assert set(report.to_dict()["linked"][0]) == {"line", "redacted", "record"}
    [one] = [r for r in report.linked if r["line"] == 2]  # FT301: a message with role "human"
    block = page[page.index('id="line-2"'):]
    assert "human" in _text(block[:block.index('class="chat"', 10)])
    assert one["record"]["messages"][1]["role"] == "human"


def test_linked_records_are_capped_cut_and_masked(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ftprep.report import dataset

    models = _write(tmp_path / "models.toml", [
        '[models."gpt-4o-mini-2024-07-18"]', "max_example_tokens = 40"])
    lines = [json.dumps({"messages": [{"role": "human", "content": f"{i} " + "x" * 20_000},
                                      {"role": "assistant", "content": "ok"}]})
             for i in range(100)]  # every line: an FT301 finding, over the limit
    lines[0] = _chat(f"my key is {OPENAI_KEY} " + "word " * 80, "Noted.")
    path = _write(tmp_path / "d.jsonl", lines)
    report = report_data(path, models=["gpt-4o-mini"], models_file=models)
    assert report.tokens[0].over_limit == 100
    page = render_report(report)
    targets, ids = _anchors(page)
    assert not set(targets) - ids
    linked = {r["line"]: r for r in report.linked}
    assert {f"line-{n}" for n in linked} == {t for t in targets if t.startswith("line-")}
    assert len(linked) == dataset.LINKED + 1  # the 30 lines listed, and line 1 (FT901 too)
    assert linked[1]["redacted"] and OPENAI_KEY not in page and OPENAI_KEY[:20] not in page
    text = json.dumps(linked[2]["record"])
    assert "20,002 chars)" in text and len(text) < dataset.EMBED_CHARS + 200
    monkeypatch.setattr(dataset, "EMBED_MAX", 4)
    capped = report_data(path, models=["gpt-4o-mini"], models_file=models)
    assert [r["line"] for r in capped.linked] == [1, 2, 3, 4]
    targets, ids = _anchors(render_report(capped))
    assert not set(targets) - ids and "line-5" not in targets  # not embedded: not linked


def test_the_report_counts_every_example_as_count_does(tmp_path: Path) -> None:
    from ftprep.count import count_tokens
    from ftprep.report.profile import ProfileObserver
    from ftprep.validate import validate_file

    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    lines = [_chat(f"question {i}", f"answer {i}", system="Be brief.") for i in range(5)]
    lines += [_chat("with tools", "ok", tools=tools),  # not plain: count's general path
              json.dumps({"messages": [{"role": "user", "content": [{"type": "text",
                                                                     "text": "parts"}]},
                                       {"role": "assistant", "content": "ok", "weight": 0}]}),
              json.dumps({"input": {"messages": [{"role": "user", "content": "q"}]},
                          "preferred_output": [{"role": "assistant", "content": "a"}],
                          "non_preferred_output": [{"role": "assistant", "content": "b"}]}),
              json.dumps({"prompt": "p", "completion": "c"})]
    path = _write(tmp_path / "d.jsonl", lines)
    expected = count_tokens(path, "o200k_base", workers=1)
    for workers in (1, 2):
        observer = ProfileObserver(path, ["o200k_base"])
        validate_file(path, workers=workers, observer=observer)
        counted = observer.profile.counts["o200k_base"]
        for name in ("lines", "tokens", "trainable", "messages", "answer_start"):
            assert getattr(counted, name) == getattr(expected, name), (workers, name)


def test_token_histogram_bins_every_example_and_reaches_a_near_limit() -> None:
    h = histogram([0, 5, 9, 10, 99], bins=10, limit=150)
    assert sum(h["counts"]) == 5 and len(h["edges"]) == len(h["counts"]) + 1
    assert h["edges"][-1] >= 150  # the limit is inside the range: its line can be drawn
    far = histogram([0, 5, 99], bins=10, limit=65_536)
    assert far["edges"][-1] < 1000  # a limit far away does not squash the columns


def test_histogram_bins_the_same_in_python_and_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    import ftprep.count

    values = array("I", [(i * 7919) % 5003 for i in range(2_000)] + [0, 9_000])
    by_python = histogram(values, limit=8_000)
    monkeypatch.setattr(ftprep.count, "NUMPY_SORT_FROM", 1)
    by_numpy = histogram(values, limit=8_000)
    assert by_python == by_numpy and sum(by_python["counts"]) == len(values)
    assert len([c for c in by_python["counts"] if c]) > 10 and by_python["counts"][-1] == 1


def test_over_limit_examples_are_listed_by_line(tmp_path: Path) -> None:
    models = _write(tmp_path / "models.toml", [
        '[models."gpt-4o-mini-2024-07-18"]', "max_example_tokens = 40"])
    long = "word " * 60
    data = _write(tmp_path / "d.jsonl", [_chat("hi", "hello")] * 3 + [_chat(long, "ok")]
                  + [_chat("q", "a")] * 8)
    report = report_data(data, models=["gpt-4o-mini"], models_file=models)
    tokens = report.tokens[0]
    assert (tokens.limit, tokens.over_limit, tokens.over_limit_lines) == (40, 1, [4])
    assert tokens.prompt_tokens + tokens.trainable_tokens == tokens.total_tokens
    page = render_report(report)
    assert 'class="marker"' in page and "limit 40" in page
    assert "1 examples over the limit" in _text(page)


def test_conversation_shape_system_prompts_and_tools(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    call = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."}], "tools": tools}
    lines = [_chat(f"q{i}", "a" * i, system="Be brief.") for i in range(6)]
    lines += [_chat("x", "y", system="Be long."), json.dumps(call), _chat("z", "w")]
    report = report_data(_write(tmp_path / "d.jsonl", lines))
    shape = report.shape
    assert shape["system_prompts"]["examples_with"] == 7
    assert shape["system_prompts"]["distinct"] == 2
    assert shape["system_prompts"]["top"][0] == {"text": "Be brief.", "first_line": 1,
                                                  "examples": 6, "share": round(6 / 9, 4)}
    assert shape["tools"]["examples_with_tools"] == 1
    assert shape["tools"]["functions"] == {"get_weather": 1}
    assert shape["roles"]["assistant"] == 10 and shape["roles"]["tool"] == 1
    assert shape["messages"]["max"] == 4
    assert sum(shape["answer_chars"]["histogram"]["counts"]) == 9


def test_a_popular_system_prompt_past_the_kept_texts_is_counted_not_a_crash(
        tmp_path: Path) -> None:
    from ftprep.report.profile import PROMPTS_KEPT

    distinct = PROMPTS_KEPT * 50 + 10  # more distinct prompts than texts are kept
    lines = [_chat("q", "a", system=f"prompt {i}") for i in range(distinct)]
    lines += [_chat("q", "a", system="popular")] * 5
    top = report_data(_write(tmp_path / "d.jsonl", lines)).shape["system_prompts"]["top"]
    assert top[0]["examples"] == 5 and top[0]["text"].startswith("(text not kept")
    assert top[0]["first_line"] is None and top[1] == {
        "text": "prompt 0", "first_line": 1, "examples": 1, "share": round(1 / (distinct + 5), 4)}


def test_malformed_tool_calls_are_reported_not_a_crash(tmp_path: Path) -> None:
    bad = {"messages": [{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "x", "tool_calls": 5}]}
    odd = {"messages": [{"role": "user", "content": "hi"},
                        {"role": "assistant", "tool_calls": ["call", {"function": "f"}]}]}
    report = report_data(_write(tmp_path / "d.jsonl", [json.dumps(bad), json.dumps(odd)]))
    assert report.shape["tools"]["calls"]["max"] == 2  # odd's two malformed calls
    assert report.shape["tools"]["functions"] == {"?": 2}
    assert not report.validation["valid"]


def test_samples_are_deterministic_and_never_show_a_secret(tmp_path: Path) -> None:
    lines = [_chat(f"question {i}", f"answer {i}") for i in range(30)]
    lines[4] = _chat(f"my key is {OPENAI_KEY}", "Noted.")
    path = _write(tmp_path / "d.jsonl", lines)
    first, second = report_data(path), report_data(path)
    assert [s["line"] for s in first.samples] == [s["line"] for s in second.samples]
    assert len(first.samples) == 3
    page = render_report(first)
    dumped = json.dumps(first.to_dict())
    assert OPENAI_KEY not in page and OPENAI_KEY not in dumped
    assert OPENAI_KEY[:20] not in page
    assert "FT901" in page  # the finding is there, masked
    assert render_report(second) == page  # byte-identical


def test_split_section_from_the_manifest(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [_chat(f"q{i}", f"a{i}") for i in range(20)])
    out = tmp_path / "split"
    r = subprocess.run([FTPREP, "split", str(data), "--test", "5", "--seed", "1", "-o", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    report = report_data(data, split_dir=out)
    assert report.split is not None and report.split["counts"]["test"] == 5
    text = _text(render_report(report))
    assert "Split" in text and "leakage" in text


def test_cli_writes_the_page_and_prints_the_data_as_json(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = subprocess.run([FTPREP, "report", str(DEFECTS), "-o", str(out), "--model", "gpt-4o-mini",
                        "--format", "json"], capture_output=True, text=True, check=False)
    assert r.returncode == 1, r.stderr  # the data has errors, as with validate
    data = json.loads(r.stdout)
    assert {"validation", "findings", "tokens", "shape", "cost", "samples"} <= set(data)
    assert data["tokens"][0]["model"] == "gpt-4o-mini-2024-07-18"
    assert data["cost"][0]["lifecycle"] in {"available", "closing", "closed", "shutdown"}
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert r.stderr == ""


def test_cli_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    r = subprocess.run([FTPREP, "report", str(DEFECTS)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 2 and "-o/--output" in r.stderr and len(r.stderr.splitlines()) == 1
    r = subprocess.run([FTPREP, "report", str(DEFECTS), "-o", str(tmp_path / "r.html"),
                        "--split", str(tmp_path)], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "split.json" in r.stderr


@pytest.mark.parametrize("name", ["chat_clean.jsonl", "leaky.jsonl"])
def test_clean_samples_report_exit_zero_or_findings(name: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = subprocess.run([FTPREP, "report", str(SAMPLES / name), "-o", str(out)],
                       capture_output=True, text=True, check=False)
    valid = validate_file(SAMPLES / name).ok
    assert r.returncode == (0 if valid else 1), r.stderr
    assert f"wrote {out}" in r.stdout and out.stat().st_size > 1000


def test_eval_section_is_the_eval_views_own_rendering(platform_env: FakeOpenAI,
                                                      tmp_path: Path) -> None:
    from ftprep.eval.saved import load_eval_dir
    from ftprep.report.eval_view import eval_sections
    from ftprep.report.html import join
    from tests.fake_openai import reference_reply

    refs = {f"question {i}": f"answer {i}" for i in range(8)}
    test = _write(tmp_path / "t.jsonl", [_chat(q, a) for q, a in refs.items()])
    platform_env.add_chat_model("a", reference_reply(refs, {f"question {i}" for i in range(8)}))
    platform_env.add_chat_model("b", reference_reply(refs, {f"question {i}" for i in range(4)}))
    out = tmp_path / "eval"
    r = subprocess.run([FTPREP, "eval", str(test), "--model", "a", "--model", "b",
                        "--metric", "exact", "--output-dir", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    report = report_data(test, eval_dir=out)
    page = render_report(report)
    assert str(join(eval_sections(report.eval))) in page  # one renderer for both
    own = (out / "report.html").read_text(encoding="utf-8")  # the eval's own page
    examples = own[own.index("<h2>Examples</h2>"):own.index("</section>", own.index("<h2>Examples"))]
    assert examples in page  # side by side with the prompts and references, as there
    assert "question 5" in examples and "answer 5" in examples
    assert "Prompts and references read from this file" in page
    other = _write(tmp_path / "other.jsonl", [_chat(q, a) for q, a in refs.items()] * 2)
    elsewhere = render_report(report_data(other, eval_dir=out))  # not the eval's test file
    assert "Prompts not shown: the eval ran on 8 records, this file holds 16" in elsewhere
    assert "question 5" not in elsewhere[elsewhere.index('id="eval"'):elsewhere.index('id="samples"')]
    assert len(load_eval_dir(out).results) == 16
    changed = [_chat(q, a) for q, a in refs.items()]
    changed[4] = json.dumps({"messages": [{"role": "user", "content": "question 4"}]})
    same_size = render_report(report_data(_write(tmp_path / "c.jsonl", changed), eval_dir=out))
    assert "Prompts not shown: line 5 of this file is not an example" in same_size
    assert 'id="metric"' in page and page.count("<script>") == 1  # its filter script, inline
    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert report.to_dict()["eval"]["models"] == saved["models"]
    assert report.to_dict()["eval"]["comparisons"] == saved["comparisons"]
    first = page.index('class="ex"')
    assert "line 5" in page[first:first + 400]  # disagreements first, as in the eval's page


def test_open_model_counts_and_records_its_template_refuses(chatml_model_dir: Path,
                                                            tmp_path: Path) -> None:
    late_system = json.dumps({"messages": [{"role": "user", "content": "hi"},
                                           {"role": "system", "content": "late"},
                                           {"role": "assistant", "content": "hello"}]})
    path = _write(tmp_path / "d.jsonl", [_chat("What is the weather?", "Sunny.")] * 3
                  + [late_system] + [_chat("question", "answer")] * 8)
    report = report_data(path, tokenizer=chatml_model_dir)
    [tokens] = report.tokens  # no OpenAI model unless asked for
    assert tokens.tokenizer == "local" and tokens.examples == 11 and tokens.refused_lines == [4]
    assert report.cost == []
    text = _text(render_report(report))
    assert "Not counted (the chat template refused them): lines 4" in " ".join(text.split())


def test_near_duplicates_are_opt_in_and_shown_under_duplicates(tmp_path: Path) -> None:
    pytest.importorskip("datasketch", reason="the dedup extra (datasketch) is not installed")
    base = ("Our refund policy allows returns within thirty days of purchase when the item is "
            "unused and in its original packaging with the receipt")
    lines = [_chat(f"unrelated question number {i} about topic {i * 7}", f"reply {i}")
             for i in range(10)]
    lines += [_chat("What is the refund policy?", base),
              _chat("What is the refund policy?", base + " attached")]
    path = _write(tmp_path / "d.jsonl", lines)
    plain = report_data(path)
    assert all(r.code != "FT921" for r in plain.rules)
    assert "near-duplicates (FT921) were not" in _text(render_report(plain))
    near = report_data(path, near_dups=True)
    [rule] = [r for r in near.group("duplicates") if r.code == "FT921"]
    assert rule.lines == [12]
    page = render_report(near)
    section = page[page.index('id="duplicates"'):page.index('id="sensitive"')]
    assert "FT921 near-duplicate" in _text(section)


def test_only_secrets_and_personal_data_are_filed_as_sensitive() -> None:
    # FT941 (an Alpaca file) is about the file's format: a finding like any other, its line
    # linked to the record, which holds nothing to redact
    data = report_data(SAMPLES / "support.jsonl", models=["gpt-4o-mini"])
    assert [r.code for r in data.group("other")] == ["FT941"] and not data.group("sensitive")
    assert [(r["line"], r["redacted"]) for r in data.linked] == [(1, False)]
    leaky = report_data(SAMPLES / "leaky.jsonl", models=["gpt-4o-mini"])
    assert leaky.group("sensitive") and all(r.code in {"FT901", "FT902", "FT903", "FT911", "FT912",
                                                      "FT913", "FT914"} for r in leaky.group("sensitive"))
