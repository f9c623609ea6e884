"""`ftprep eval` end to end against the local OpenAI-compatible server (real openai SDK over
loopback): exact scores, verdicts, the cache (counted at the server), resuming a killed run,
retries that never re-send a received answer, cost, outputs and the JSON shape."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.eval import Candidate, EvalOptions, evaluate, plan_eval
from ftprep.eval.cache import CACHE_FILE, ResponseCache
from tests.conftest import FAKE_KEY
from tests.fake_openai import FakeOpenAI, Fault, last_user_text, reference_reply, tool_call_reply

SYSTEM = "Answer in two words."


def write_split(path: Path, n: int) -> dict[str, str]:
    """n chat examples `question i` → `answer i` (with a system prompt); the references."""
    refs = {f"question {i}": f"answer {i}" for i in range(n)}
    with open(path, "w", encoding="utf-8") as f:
        for q, a in refs.items():
            f.write(json.dumps({"messages": [{"role": "system", "content": SYSTEM},
                                             {"role": "user", "content": q},
                                             {"role": "assistant", "content": a}]}) + "\n")
    return refs


def knows(k: int) -> set[str]:
    return {f"question {i}" for i in range(k)}


@pytest.fixture
def split200(platform_env: FakeOpenAI, tmp_path: Path) -> Path:
    refs = write_split(tmp_path / "test.jsonl", 200)
    platform_env.add_chat_model("weak", reference_reply(refs, knows(120)))
    platform_env.add_chat_model("strong", reference_reply(refs, knows(170)))
    return tmp_path / "test.jsonl"


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- acceptance ------------------------------------------------------------------------------
def test_two_candidates_on_200_examples_exact_scores_and_better_verdict(
        platform_env: FakeOpenAI, split200: Path) -> None:
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                             "--metric", "exact", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["examples", "skipped", "metrics", "models", "comparisons"]
    assert (data["examples"], data["skipped"], data["metrics"]) == (200, 0, ["exact"])
    weak, strong = data["models"]
    assert list(weak) == ["model", "label", "scores", "ci", "errors", "latency_ms", "usage",
                          "cost_usd"]
    assert (weak["model"], weak["scores"]["exact"]) == ("weak", 0.6)
    assert (strong["model"], strong["scores"]["exact"]) == ("strong", 0.85)
    assert weak["ci"]["exact"][0] < 0.6 < weak["ci"]["exact"][1]
    assert weak["errors"] == strong["errors"] == 0
    assert weak["cost_usd"] is None  # not a registry model: no price, no guess
    assert set(weak["latency_ms"]) == {"p50", "p95"}
    [comparison] = data["comparisons"]
    assert list(comparison) == ["model", "baseline", "metric", "n", "delta", "ci", "p_value",
                                "verdict"]
    assert (comparison["model"], comparison["baseline"], comparison["n"]) == ("strong", "weak", 200)
    assert comparison["delta"] == pytest.approx(0.25)
    low, high = comparison["ci"]
    assert 0 < low < 0.25 < high  # the CI holds the true difference, and excludes 0
    assert comparison["verdict"] == "better"
    assert comparison["p_value"] < 1e-6  # 50 discordant pairs, all one way
    assert len(platform_env.chat_calls()) == 400
    # the baseline can be any candidate: then the weaker one is worse
    code, out, _ = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                           "--metric", "exact", "--baseline", "strong", "--format", "json")
    assert json.loads(out)["comparisons"][0]["verdict"] == "worse"
    assert len(platform_env.chat_calls()) == 400  # all from the cache


def test_twelve_examples_with_one_difference_is_insufficient_evidence(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    refs = write_split(tmp_path / "small.jsonl", 12)
    platform_env.add_chat_model("a", reference_reply(refs, knows(6)))
    platform_env.add_chat_model("b", reference_reply(refs, knows(7)))
    report = evaluate(tmp_path / "small.jsonl", ["a", "b"], ["exact"])
    [c] = report.comparisons
    assert (c.n, round(c.delta, 6), c.verdict) == (12, round(1 / 12, 6), "insufficient_evidence")
    assert "only 12 paired examples" in c.reason and "exact" in c.reason


def test_rerun_sends_no_request_and_no_cache_sends_again(
        platform_env: FakeOpenAI, split200: Path) -> None:
    first = evaluate(split200, ["weak", "strong"], ["exact"], limit=50)
    assert (first.requests_sent, first.cached_replies) == (100, 0)
    second = evaluate(split200, ["weak", "strong"], ["exact"], limit=50)
    assert len(platform_env.chat_calls()) == 100  # counted at the server
    assert (second.requests_sent, second.cached_replies) == (0, 100)
    assert second.to_dict()["models"][1]["scores"] == first.to_dict()["models"][1]["scores"]
    evaluate(split200, ["weak"], ["exact"], limit=50, use_cache=False)
    assert len(platform_env.chat_calls()) == 150
    # anything that changes the request body is a different entry
    evaluate(split200, ["weak"], ["exact"], limit=50, temperature=0.5)
    assert len(platform_env.chat_calls()) == 200


def test_killed_run_resumes_sending_only_the_missing_half(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    """A real `ftprep eval` process gets SIGINT from the server while it serves request 50 of
    100; the restarted run sends exactly the prompts the first one did not get answered."""
    refs = write_split(tmp_path / "test.jsonl", 100)
    platform_env.add_chat_model("m", reference_reply(refs, knows(100)))
    command = [str(Path(sys.executable).parent / "ftprep"), "eval", str(tmp_path / "test.jsonl"),
               "--model", "m", "--concurrency", "1", "--metric", "exact", "--format", "json"]
    proc = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def interrupt(body: dict, count: int) -> None:
        if count == 50:
            proc.send_signal(signal.SIGINT)

    platform_env.on_chat = interrupt
    _, err = proc.communicate(timeout=120)
    platform_env.on_chat = None
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    first = len(platform_env.chat_calls())
    cached = len(ResponseCache(Path(os.environ["FTPREP_STATE_DIR"]) / CACHE_FILE))
    assert 50 <= first < 100 and cached == first  # every answer received was kept
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["models"][0]["scores"]["exact"] == 1.0
    asked = collections.Counter(last_user_text(b) for b in platform_env.chat_calls())
    assert len(platform_env.chat_calls()) == 100 and set(asked.values()) == {1}


# -- retries and money -----------------------------------------------------------------------
def test_429_with_retry_after_slows_down_instead_of_failing(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    refs = write_split(tmp_path / "t.jsonl", 10)
    # more refusals in a row than --max-retries (2 here): refusals have their own budget
    platform_env.add_chat_model("busy", reference_reply(refs, knows(10)), refusals=8,
                                retry_after="0")
    plan = plan_eval(tmp_path / "t.jsonl", ["busy"], EvalOptions(metrics=("exact",),
                                                                 concurrency=4))
    report = plan.run()
    assert report.models[0].errors == 0 and report.models[0].scores["exact"] == 1.0
    assert len(platform_env.chat_calls("busy")) == 18  # 10 answers + 8 refusals, counted
    assert plan.sender is not None and plan.sender.throttle.refusals == 8
    assert plan.sender.throttle.allowed >= 1


def test_503_with_retry_after_as_an_http_date_is_waited_out(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    # Retry-After as an HTTP date (RFC 9110): a 503 that says when to come back is a refusal
    # (own budget), not a failure limited by --max-retries (0 here).
    refs = write_split(tmp_path / "t.jsonl", 2)
    platform_env.add_chat_model("busy", reference_reply(refs, knows(2)))
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    platform_env.faults.append(Fault("POST", "/chat/completions", status=503, times=3,
                                     headers={"retry-after": past}))
    plan = plan_eval(tmp_path / "t.jsonl", ["busy"], EvalOptions(
        metrics=("exact",), concurrency=1, connection={"max_retries": 0}))
    report = plan.run()
    assert report.models[0].errors == 0 and report.models[0].scores["exact"] == 1.0
    assert plan.sender is not None and plan.sender.throttle.refusals == 3


@pytest.mark.filterwarnings("error")  # and no library warning dumps the server's values
def test_a_malformed_answer_is_that_examples_error_not_a_crash(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    # The server answers, but its message is malformed (content a number, a tool call whose
    # function is a string): the example is not scored and says why; the run does not crash.
    write_split(tmp_path / "t.jsonl", 2)
    platform_env.add_chat_model("odd", lambda body: {"content": 5} if last_user_text(body)
                                == "question 0" else {"tool_calls": [{"function": "x"}]})
    platform_env.add_chat_model("fine", lambda body: {"content": "answer 0"})
    code, out, err = run_cli("eval", str(tmp_path / "t.jsonl"), "--model", "fine", "--model",
                             "odd", "--metric", "exact", "--format", "json", "--output-dir",
                             str(tmp_path / "out"))
    assert "internal error" not in err and code == 1, err
    assert [m["errors"] for m in json.loads(out)["models"]] == [0, 2]
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["candidate"] == "odd"]
    assert [r["scores"] for r in rows] == [{"exact": None}] * 2
    assert all("malformed" in r["error"] for r in rows), rows
    assert len(platform_env.chat_calls("odd")) == 2


def test_a_completion_of_the_wrong_shape_is_that_examples_error(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    write_split(tmp_path / "t.jsonl", 1)
    platform_env.add_chat_model("odd", lambda body: {"content": "x"})
    shapeless = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "odd",
                            "choices": [{"index": 0, "message": "x", "finish_reason": "stop"}]})
    platform_env.faults.append(Fault("POST", "/chat/completions", kind="body", status=200,
                                     body=shapeless.encode()))
    code, _, err = run_cli("eval", str(tmp_path / "t.jsonl"), "--model", "odd", "--metric",
                           "exact", "--output-dir", str(tmp_path / "out"))
    assert "internal error" not in err and code == 1, err
    [row] = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert "unexpected shape" in row["error"] and len(platform_env.chat_calls()) == 1


def test_server_errors_are_retried_then_reported_never_cached(
        platform_env: FakeOpenAI, split200: Path, tmp_path: Path) -> None:
    platform_env.faults.append(Fault("POST", "/chat/completions", status=500, times=3 * 5))
    out_dir = tmp_path / "out"
    code, _, err = run_cli("eval", str(split200), "--model", "weak", "--limit", "5",
                           "--concurrency", "1", "--metric", "exact", "--output-dir",
                           str(out_dir))
    assert code == 1, err  # failed requests: results still written, exit 1
    assert "5 request(s) failed" in err
    lines = [json.loads(x) for x in (out_dir / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and all("server error (500)" in x["error"] for x in lines)
    assert all(x["scores"] == {"exact": None} for x in lines)
    assert len(platform_env.chat_calls()) == 15  # 1 try + 2 retries (FTPREP_MAX_RETRIES=2) each
    code, _, _ = run_cli("eval", str(split200), "--model", "weak", "--limit", "5",
                         "--metric", "exact")
    assert code == 0 and len(platform_env.chat_calls()) == 20  # errors were not cached


def test_a_received_answer_is_never_requested_again(
        platform_env: FakeOpenAI, split200: Path) -> None:
    """The server does the (billable) work, then the connection drops before the answer
    arrives: that request is an error, not a retry."""
    platform_env.faults.append(Fault("POST", "/chat/completions", kind="drop", times=1))
    report = evaluate(split200, ["weak"], ["exact"], limit=3, concurrency=1)
    assert [r.error is not None for r in report.results] == [True, False, False]
    assert len(platform_env.chat_calls()) == 3


def test_fine_tuned_model_is_priced_by_its_base_model_ft_prices(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    refs = write_split(tmp_path / "t.jsonl", 20)
    ft = "ft:gpt-4.1-mini-2025-04-14:acme::abc123"
    platform_env.add_chat_model(ft, reference_reply(refs, knows(20)))
    platform_env.add_chat_model("gpt-4.1-mini", reference_reply(refs, knows(10)))
    report = evaluate(tmp_path / "t.jsonl", ["gpt-4.1-mini", ft], ["exact"])
    base, tuned = report.models
    # registry: gpt-4.1-mini base 0.40/1.60, fine-tuned 0.80/3.20 USD per 1M tokens
    assert base.cost_usd == pytest.approx((base.prompt_tokens * 0.40
                                           + base.completion_tokens * 1.60) / 1e6)
    assert tuned.cost_usd == pytest.approx((tuned.prompt_tokens * 0.80
                                            + tuned.completion_tokens * 3.20) / 1e6)


def test_cost_above_threshold_without_terminal_or_yes_is_refused(
        platform_env: FakeOpenAI, split200: Path) -> None:
    platform_env.add_chat_model("gpt-4.1-mini", reference_reply({}, set()))
    code, _, err = run_cli("eval", str(split200), "--model", "gpt-4.1-mini",
                           "--confirm-above", "0")
    assert code == 2 and "without confirmation" in err and "pass --yes" in err
    assert platform_env.chat_calls() == []
    code, _, err = run_cli("eval", str(split200), "--model", "gpt-4.1-mini", "--limit", "2",
                           "--confirm-above", "0", "--yes", "--metric", "exact")
    assert code == 0, err
    assert len(platform_env.chat_calls()) == 2
    assert "; cost at most <$0.0001" in err  # the upper bound, shown before anything is sent


def test_dry_run_sends_nothing_and_shows_the_requests_and_judge_prompt(
        platform_env: FakeOpenAI, split200: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")  # a dry run needs no key
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                             "--judge", "gpt-4.1-mini", "--dry-run", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert list(plan) == ["dry_run", "examples", "skipped", "candidates", "baseline", "metrics",
                          "requests", "cached", "estimated_cost_usd_max", "first_requests",
                          "judge_request"]
    assert plan["requests"] == 800 and plan["cached"] == 0
    first = plan["first_requests"][0]["body"]
    assert first["messages"] == [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": "question 0"}]
    assert first["model"] == "weak" and first["temperature"] == 0.0
    assert first["max_tokens"] >= 16
    judge = plan["judge_request"]["body"]
    assert judge["model"] == "gpt-4.1-mini" and "answer 0" in judge["messages"][1]["content"]
    assert platform_env.requests == []
    assert FAKE_KEY not in out + err


def test_dry_run_text_is_a_readable_plan(platform_env: FakeOpenAI, split200: Path) -> None:
    evaluate(split200, ["weak"], ["exact"], limit=10)  # 10 answers in the cache
    sent = len(platform_env.chat_calls())
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                             "--metric", "exact", "--dry-run")
    assert code == 0, err
    assert out.splitlines()[:6] == [
        "dry run: nothing sent",
        "examples:   200 (0 skipped) × 2 candidates = 400 answers",
        "candidates: weak (baseline), strong",
        "metrics:    exact",
        "requests:   390 to send (390 answers); 10 answers cached",
        "cost:       unknown (a model's price is not in the registry)"]
    assert "\nrequest 1 of 400, to openai http://127.0.0.1:" in out
    assert '    "model": "weak",' in out and '"content": "question 0"' in out
    assert "eval:" not in err  # the one-line plan on stderr would only repeat it
    assert len(platform_env.chat_calls()) == sent


def test_installed_dry_run_text_and_json(platform_env: FakeOpenAI, split200: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # no key needed
    command = [str(Path(sys.executable).parent / "ftprep"), "eval", str(split200), "--model",
               "gpt-4.1-mini", "--judge", "gpt-4o", "--limit", "5", "--dry-run"]
    text = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    requests, cost = text.stdout.splitlines()[4:6]
    assert requests == "requests:   10 to send (5 answers + 5 judge grades); 0 answers cached"
    assert cost.startswith("cost:       at most $")  # registry prices: an upper bound
    assert "the first judge request (a placeholder for the answer), to openai" in text.stdout
    as_json = subprocess.run([*command, "--format", "json"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["requests"] == 10
    assert as_json.stderr.startswith("eval: 5 examples (0 skipped) × 1 candidates; 5 requests")
    assert platform_env.requests == []


def test_judge_never_grades_itself(platform_env: FakeOpenAI, split200: Path) -> None:
    code, _, err = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                           "--judge", "strong")
    assert code == 2 and "never grades its own answers" in err


def test_judge_scores_answers(platform_env: FakeOpenAI, tmp_path: Path) -> None:
    refs = write_split(tmp_path / "t.jsonl", 6)
    platform_env.add_chat_model("a", reference_reply(refs, knows(3)))

    def grader(body: dict) -> dict:
        text = body["messages"][1]["content"]
        ref = text.split("REFERENCE:\n")[1].split("\n")[0]
        answer = text.split("ANSWER:\n")[1].strip()
        return {"content": json.dumps({"score": 5 if ref == answer else 1, "reason": "x"})}

    platform_env.add_chat_model("grader", grader)
    report = evaluate(tmp_path / "t.jsonl", ["a"], ["exact"], judge="grader")
    assert report.metrics == ["exact", "judge"]
    assert report.models[0].scores["judge"] == 0.5
    assert report.judge is not None and report.judge["requests"] == 6


def test_tool_call_references_are_scored_with_tool_calls(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "search", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}}}}]
    path = tmp_path / "tools.jsonl"
    with open(path, "w") as f:
        for i in range(4):
            call = {"id": "c1", "type": "function", "function": {
                "name": "search", "arguments": json.dumps({"query": f"q{i}" if i < 3 else "x"})}}
            f.write(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                             {"role": "assistant", "tool_calls": [call]}],
                                "tools": tools}) + "\n")
        f.write(json.dumps({"messages": [{"role": "user", "content": "no answer"}]}) + "\n")
    platform_env.add_chat_model("caller", tool_call_reply)
    report = evaluate(path, ["caller"])
    assert report.metrics == ["tool_calls"]
    assert (report.examples, report.skipped) == (4, 1)
    assert report.skipped_lines == [{"line": 5, "reason": "no final assistant message to use "
                                                          "as the reference"}]
    assert report.models[0].scores["tool_calls"] == 0.75
    assert all(b["tools"] == tools for b in platform_env.chat_calls())


def test_candidates_file_with_label_system_prompt_and_seeded_shots(
        platform_env: FakeOpenAI, split200: Path, tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    write_split(train, 30)
    (tmp_path / "eval.toml").write_text(
        '[[candidates]]\nlabel = "base"\nmodel = "weak"\n\n'
        '[[candidates]]\nlabel = "weak + 3 shots"\nmodel = "weak"\nsystem_prompt = "Be exact."\n'
        'few_shot = 3\nshots_from = "train.jsonl"\nseed = 5\n', encoding="utf-8")
    code, out, err = run_cli("eval", str(split200), "--candidates", str(tmp_path / "eval.toml"),
                             "--limit", "4", "--metric", "exact", "--format", "json")
    assert code == 0, err
    assert [m["model"] for m in json.loads(out)["models"]] == ["base", "weak + 3 shots"]
    shots = [b for b in platform_env.chat_calls() if b["messages"][0]["content"] == "Be exact."]
    assert len(shots) == 4
    [messages] = [b["messages"] for b in shots if b["messages"][-1]["content"] == "question 0"]
    assert len(messages) == 1 + 3 * 2 + 1 and messages[-1]["content"] == "question 0"
    chosen = [m["content"] for m in messages[1:-1:2]]
    again = [e.line for e in __import__("ftprep.eval.candidates", fromlist=["x"])
             .choose_shots(train, 3, 5)]
    assert chosen == [f"question {line - 1}" for line in again]  # same seed, same shots


def test_outputs_written_together_and_report_opens_offline(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    refs = write_split(tmp_path / "t.jsonl", 8)
    refs["question 1"] = "<script>alert(1)</script> <img src=http://evil.example/x.png>"
    platform_env.add_chat_model("a", reference_reply(refs, knows(8)))
    platform_env.add_chat_model("b", reference_reply(refs, knows(4)))
    out = tmp_path / "out"
    code, _, err = run_cli("eval", str(tmp_path / "t.jsonl"), "--model", "a", "--model", "b",
                           "--output-dir", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.jsonl",
                                                     "summary.json"]
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and {"line", "candidate", "output", "scores", "latency_ms", "usage",
                                "error"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["examples"] == 8 and summary["details"]["requests_sent"] == 16
    html = (out / "report.html").read_text()
    parser = _Links()
    parser.feed(html)
    assert parser.urls == [] and "<script>alert" not in html and "evil.example" in html
    assert parser.scripts == 1  # the filter, inline
    first = html.index('class="ex"')
    assert "line 5" in html[first:first + 400]  # disagreements first (b knows lines 1-4)


class _Links(HTMLParser):
    """Every URL-bearing attribute and every external reference in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "action", "xlink:href", "srcset") or (
                    value and "://" in value and name != "content"):
                self.urls.append(f"{tag} {name}={value}")


def test_text_output_shows_tables_verdicts_and_disagreements(
        platform_env: FakeOpenAI, split200: Path) -> None:
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "strong",
                             "--metric", "exact", "--limit", "130", "--show", "2")
    assert code == 0, err
    assert "strong vs weak on exact: BETTER (Δ +0.077" in out  # 10 of 130 examples
    assert "  better: on 130 paired examples strong scores 0.077 higher than weak on exact" in out
    shown = out.split("where the candidates disagree most (2 shown")[1]
    assert "line 121" in shown and "line 122" in shown and "line 1\n" not in shown
    assert "eval: 130 examples (0 skipped) × 2 candidates; 260 requests to send" in err


def test_unknown_model_is_an_error_per_request_and_key_never_printed(
        platform_env: FakeOpenAI, split200: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "nope",
                             "--limit", "2", "--metric", "exact", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert [m["errors"] for m in data["models"]] == [0, 2]
    assert data["models"][1]["scores"] == {"exact": None}
    assert (data["comparisons"][0]["n"], data["comparisons"][0]["verdict"]) == (
        0, "insufficient_evidence")
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--model", "nope",
                             "--limit", "2", "--metric", "exact")
    assert code == 1 and "INSUFFICIENT EVIDENCE (no paired examples)" in out
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-1234567890")
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--limit", "1",
                             "--no-cache", "--output-dir", str(split200.parent / "o"))
    assert code == 1 and "sk-wrong-key" not in out + err
    assert "sk-wrong-key" not in (split200.parent / "o" / "results.jsonl").read_text()


def test_usage_errors_name_the_flag(platform_env: FakeOpenAI, split200: Path) -> None:
    code, _, err = run_cli("eval", str(split200))
    assert code == 2 and "--model" in err
    code, _, err = run_cli("eval", str(split200), "--model", "a", "--baseline", "zzz")
    assert code == 2 and "--baseline 'zzz' is not one of the candidates" in err
    code, _, err = run_cli("eval", str(split200), "--model", "a", "--model", "a")
    assert code == 2 and "appears twice" in err
    code, _, err = run_cli("eval", str(split200.parent / "missing.jsonl"), "--model", "a")
    assert code == 2 and "missing.jsonl" in err


def test_candidate_objects_in_the_python_api(platform_env: FakeOpenAI, split200: Path) -> None:
    report = evaluate(split200, [Candidate("weak", label="W"), "strong"], ["exact"], limit=10)
    assert [m.model for m in report.models] == ["W", "strong"]
    assert report.to_dict()["comparisons"][0]["baseline"] == "W"


def test_identical_requests_in_one_run_are_sent_once(
        platform_env: FakeOpenAI, split200: Path) -> None:
    """Two labels for the same model and prompt ask exactly the same thing: one request."""
    report = evaluate(split200, [Candidate("weak", label="A"), Candidate("weak", label="B")],
                      ["exact"], limit=10, use_cache=False)
    assert len(platform_env.chat_calls()) == 10
    assert [m.scores["exact"] for m in report.models] == [1.0, 1.0]
    assert report.comparisons[0].verdict == "insufficient_evidence"


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"id": "chatcmpl-1", "choi', "not valid JSON"),
    (b"<html>502 Bad Gateway</html>", "not valid JSON"),
])
def test_a_broken_answer_is_an_error_for_that_example_not_a_crash(
        platform_env: FakeOpenAI, split200: Path, body: bytes, expected: str) -> None:
    platform_env.faults.append(Fault("POST", "/chat/completions", kind="body", status=200,
                                     body=body, content_type="application/json"))
    code, _, err = run_cli("eval", str(split200), "--model", "weak", "--limit", "3",
                             "--concurrency", "1", "--metric", "exact", "--output-dir",
                             str(split200.parent / "o"))
    assert code == 1, err
    first = json.loads((split200.parent / "o" / "results.jsonl").read_text().splitlines()[0])
    assert expected in first["error"] and "Traceback" not in err
    assert len(platform_env.chat_calls()) == 3  # an answer arrived: never re-sent


def test_azure_deployments_are_evaluated(platform_env: FakeOpenAI, split200: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_KEY)
    code, out, err = run_cli("eval", str(split200), "--model", "weak", "--provider", "azure",
                             "--base-url", platform_env.root, "--limit", "3", "--metric",
                             "exact", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["models"][0]["scores"]["exact"] == 1.0
    paths = {r.raw_path for r in platform_env.requests}
    assert paths == {"/openai/deployments/weak/chat/completions"}


def test_requests_run_concurrently_up_to_the_limit(platform_env: FakeOpenAI,
                                                   tmp_path: Path) -> None:
    """The first four requests wait at the server until all four are in flight together (a
    barrier, not a sleep: with fewer workers it breaks and those requests fail); no more
    than four are ever in flight."""
    refs = write_split(tmp_path / "t.jsonl", 12)
    answer = reference_reply(refs, knows(12))
    barrier = threading.Barrier(4, timeout=30)
    lock = threading.Lock()
    in_flight, peak, seen = [0], [0], [0]

    def gathered(body: dict) -> dict:
        with lock:
            in_flight[0] += 1
            seen[0] += 1
            first_four = seen[0] <= 4
            peak[0] = max(peak[0], in_flight[0])
        try:
            if first_four:
                barrier.wait()
            return answer(body)
        finally:
            with lock:
                in_flight[0] -= 1

    platform_env.add_chat_model("gathered", gathered)
    report = evaluate(tmp_path / "t.jsonl", ["gathered"], ["exact"], concurrency=4)
    assert report.models[0].errors == 0 and report.models[0].scores["exact"] == 1.0
    assert peak[0] == 4


def test_explicit_judge_metric_needs_a_judge(platform_env: FakeOpenAI, split200: Path) -> None:
    code, _, err = run_cli("eval", str(split200), "--model", "weak", "--metric", "exact,judge")
    assert code == 2 and "--metric judge needs a judge model: --judge MODEL" in err
