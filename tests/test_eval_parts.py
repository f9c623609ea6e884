"""The eval's parts without a server: examples from records, candidates files, the cache,
Retry-After parsing, prices, the HTML builder; and `ftprep try` against the local server."""
from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import httpx2
import openai
import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.errors import InputError, UsageError
from ftprep.eval.cache import ResponseCache, request_key
from ftprep.eval.candidates import Candidate, load_candidates
from ftprep.eval.cost import default_max_tokens, inference_price
from ftprep.eval.examples import Example, example_from_record, message_text, read_examples
from ftprep.eval.judge import parse_grade
from ftprep.platform.errors import asked_wait
from ftprep.report.html import Page, bar_chart, esc, histogram, table, tag
from tests.fake_openai import FakeOpenAI, Fault, tool_call_reply

CHAT = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"},
                     {"role": "assistant", "content": "A1", "weight": 0},
                     {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}],
        "tools": [{"type": "function", "function": {"name": "f"}}]}


def test_prompt_is_everything_before_the_final_assistant_message() -> None:
    example = example_from_record(CHAT, 3)
    assert isinstance(example, Example)
    assert [m["content"] for m in example.prompt] == ["S", "Q1", "A1", "Q2"]
    assert example.reference_message == {"role": "assistant", "content": "A2"}
    assert example.reference.text == "A2" and example.tools == tuple(CHAT["tools"])
    sent = Candidate("m").messages(example)
    assert all("weight" not in m for m in sent)  # training-only keys are not sent


def test_preference_records_use_input_and_preferred_output() -> None:
    record = {"input": {"messages": [{"role": "user", "content": "q"}]},
              "preferred_output": [{"role": "assistant", "content": "good"}],
              "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    example = example_from_record(record, 1)
    assert isinstance(example, Example) and example.reference.text == "good"
    assert example.prompt == ({"role": "user", "content": "q"},)


def test_records_without_a_final_answer_are_skipped_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        CHAT, {"messages": [{"role": "user", "content": "q"}]}, {"messages": []},
        [1, 2], {"messages": [{"role": "assistant", "content": "only"}]}, CHAT]) + "\n")
    data = read_examples(path)
    assert [e.line for e in data.examples] == [1, 6]
    assert [(s.line, s.reason) for s in data.skipped] == [
        (2, "no final assistant message to use as the reference"), (3, "no messages"),
        (4, "not a JSON object"),
        (5, "nothing before the final assistant message to send as the prompt")]
    assert [e.line for e in read_examples(path, limit=1).examples] == [1]
    path.write_text(json.dumps(CHAT) + "\n{broken\n")
    with pytest.raises(InputError, match=r"t.jsonl:2"):
        read_examples(path)


def test_a_malformed_reference_is_a_reported_skip_not_an_internal_error(
        tmp_path: Path) -> None:
    bad = {"messages": [{"role": "user", "content": "q"},
                        {"role": "assistant", "content": [{"type": "text", "text": 5}]}]}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(CHAT) + "\n" + json.dumps(bad) + "\n")
    result = CliRunner().invoke(main, ["eval", str(path), "--model", "m", "--dry-run",
                                       "--format", "json"],
                                env={"OPENAI_API_KEY": "sk-test"})
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    assert json.loads(result.stdout)["skipped"] == 1
    assert (f"skipped {path}:2: the reference (final assistant message) is malformed: "
            "content[0].text: expected a string, got int") in result.stderr
    shown = CliRunner().invoke(main, ["try", "m", "--from", str(path), "--line", "2"],
                               env={"OPENAI_API_KEY": "sk-test"})
    assert shown.exit_code == 2 and "internal error" not in shown.output
    assert shown.stderr.count("\n") == 1 and f"{path}:2" in shown.stderr


def test_message_text_shows_malformed_prompt_messages_without_crashing() -> None:
    # prompts are sent as they are (the server judges them), but eval prints and judges them
    assert message_text({"content": [{"type": "text", "text": 5}, {"type": "text", "text": "ok"},
                                      "raw"]}) == "ok"
    assert message_text({"tool_calls": [{"function": "f"}, 7]}) == "→ None(None)\n→ None(None)"
    assert message_text({"content": None, "tool_calls": 3}) == "(empty)"


def test_system_prompt_replacement_and_shots() -> None:
    example = example_from_record(CHAT, 1)
    shot = example_from_record({"messages": [{"role": "system", "content": "X"},
                                             {"role": "user", "content": "sq"},
                                             {"role": "assistant", "content": "sa"}]}, 9)
    assert isinstance(example, Example) and isinstance(shot, Example)
    sent = Candidate("m", system_prompt="New", shots=(shot,)).messages(example)
    assert [m["content"] for m in sent] == ["New", "sq", "sa", "Q1", "A1", "Q2"]
    assert Candidate("m", system_prompt="").messages(example)[0]["content"] == "Q1"


@pytest.mark.parametrize(("text", "message"), [
    ("[[candidates]]\nlabel = 'x'\n", "`model` must be a non-empty string"),
    ("[[candidates]]\nmodel = 'm'\ncolour = 1\n", r"unknown key\(s\) colour"),
    ("[[candidates]]\nmodel = 'm'\nfew_shot = 2\n", "needs shots_from"),
    ("[[candidates]]\nmodel = 'm'\nfew_shot = 50\nshots_from = 'train.jsonl'\n",
     "few_shot=50: .*has only 1 usable examples"),
    ("candidates = 3\n", "needs at least one"),
    ("[[candidates]\n", "not valid TOML"),
])
def test_candidates_file_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "train.jsonl").write_text(json.dumps(CHAT) + "\n")
    (tmp_path / "eval.toml").write_text(text)
    with pytest.raises(UsageError, match=message):
        load_candidates(tmp_path / "eval.toml")


def test_candidates_file_endpoint_settings(tmp_path: Path) -> None:
    (tmp_path / "eval.toml").write_text(
        "[[candidates]]\nmodel = 'llama'\nlabel = 'local'\nprovider = 'compatible'\n"
        "base_url = 'http://127.0.0.1:8000/v1'\napi_key_env = 'VLLM_KEY'\n")
    [c] = load_candidates(tmp_path / "eval.toml")
    assert (c.name, c.endpoint) == ("local", {"provider": "compatible",
                                              "base_url": "http://127.0.0.1:8000/v1",
                                              "api_key_env": "VLLM_KEY"})


def test_cache_keys_cover_endpoint_and_whole_body(tmp_path: Path) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "temperature": 0}
    key = request_key("openai http://a/v1", body)
    assert key == request_key("openai http://a/v1", dict(reversed(body.items())))
    assert key != request_key("openai http://b/v1", body)
    assert key != request_key("openai http://a/v1", {**body, "temperature": 0.1})
    cache = ResponseCache(tmp_path / "c.sqlite3")
    cache.put(key, "openai http://a/v1", "m", {"message": {"content": "x"}})
    again = ResponseCache(tmp_path / "c.sqlite3")  # persistent
    assert again.get(key) == {"message": {"content": "x"}} and len(again) == 1
    assert (tmp_path / "c.sqlite3").stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "2"}, 2.0), ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), ({"retry-after": "soon"}, None),
    ({"retry-after": "nan"}, None), ({"retry-after": "inf"}, None), ({}, None)])
def test_asked_wait_reads_seconds_milliseconds_and_http_dates(
        headers: dict[str, str], seconds: float | None) -> None:
    assert asked_wait(_status_error(503, headers)) == seconds


def test_asked_wait_counts_down_to_a_future_http_date() -> None:
    future = email.utils.formatdate(time.time() + 600, usegmt=True)
    wait = asked_wait(_status_error(429, {"retry-after": future}))
    assert wait is not None and 590 < wait <= 600


def _status_error(status: int, headers: dict[str, str]) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers, request=request)
    return openai.APIStatusError("refused", response=response, body=None)


def test_prices_come_from_the_registry() -> None:
    base = inference_price("gpt-4o-mini")
    tuned = inference_price("ft:gpt-4o-mini-2024-07-18:acme::x1")
    assert base is not None and tuned is not None
    assert (base.input, base.output) == (0.15, 0.60)
    assert (tuned.input, tuned.output) == (0.30, 1.20)
    assert inference_price("my-vllm-model") is None
    # a little above the longest reference: +25%, at least 16 tokens
    assert default_max_tokens([{"content": " word" * 100}, {"content": "hi"}]) == 100 + 25
    assert default_max_tokens([{"content": "hi"}]) == 1 + 16


def test_judge_grades() -> None:
    assert parse_grade('{"score": 5, "reason": "ok"}') == 1.0
    assert parse_grade('Sure! {"score": "3"}') == 0.5
    assert parse_grade("1") == 0.0
    assert parse_grade('{"score": 9}') is None and parse_grade("great answer") is None
    # a judge server's malformed content is an unreadable grade, not a crash of the whole run
    assert parse_grade(5) is None and parse_grade([{"type": "text", "text": "5"}]) is None


def test_html_builder_escapes_data_and_loads_nothing() -> None:
    hostile = '<script>alert("x")</script>'
    page = Page(hostile, subtitle="a & b")
    page.add(tag("p", hostile, class_=hostile), table(["h"], [[hostile]]),
             bar_chart([(hostile, 0.5), ("none", None)], max_value=1,
                       intervals=[(0.4, 0.6), None]),
             histogram([0.1, 0.2, 0.9]), esc(hostile))
    html = page.render()
    assert "<script>alert" not in html and html.count("&lt;script&gt;") >= 5
    assert "default-src 'none'" in html and "http" not in html.split("</head>")[1]
    assert html.startswith("<!DOCTYPE html>")


# -- try ---------------------------------------------------------------------------------------
def test_try_streams_the_answer(platform_env: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["try", "echo", "hello there", "--system", "Be brief"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "echo: hello there\n"
    [body] = platform_env.chat_calls()
    assert body["stream"] is True
    assert body["messages"] == [{"role": "system", "content": "Be brief"},
                                {"role": "user", "content": "hello there"}]


def test_try_never_resends_a_request_the_server_may_have_answered(
        platform_env: FakeOpenAI) -> None:
    # The server does the (billed) work, then the connection drops: like eval, `try` reports
    # it instead of letting the SDK send the same completion again.
    platform_env.faults.append(Fault("POST", "/chat/completions", kind="drop", times=3))
    result = CliRunner().invoke(main, ["try", "echo", "hello"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
    assert len(platform_env.chat_calls()) == 1


def test_try_a_malformed_streamed_chunk_is_one_line(platform_env: FakeOpenAI) -> None:
    # a streamed tool call whose `function` is a string, not an object
    platform_env.add_chat_model("odd", lambda body: {"tool_calls": [{"function": "x"}]})
    result = CliRunner().invoke(main, ["try", "odd", "hello"])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and len(result.stderr.splitlines()) == 1
    assert "POST /chat/completions: a streamed chunk has an unexpected shape" in result.stderr


def test_try_reads_stdin_and_prints_json(platform_env: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["try", "echo", "--format", "json"], input="from stdin\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"]["content"] == "echo: from stdin"
    assert data["answer"]["finish_reason"] == "stop"


def test_try_from_a_test_file_shows_the_reference(platform_env: FakeOpenAI,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello!"}]})
                    + "\n" + json.dumps(CHAT) + "\n")
    result = CliRunner().invoke(main, ["try", "echo", "--from", str(path), "--line", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"echo: hi\n--- reference ({path}:1) ---\nhello!\n"
    platform_env.add_chat_model("caller", tool_call_reply)
    result = CliRunner().invoke(main, ["try", "caller", "--from", str(path), "--line", "2"])
    assert result.exit_code == 0, result.output
    assert '→ f({"query": "Q2"})' in result.stdout  # streamed tool call, assembled
    assert platform_env.chat_calls("caller")[0]["tools"] == CHAT["tools"]
    result = CliRunner().invoke(main, ["try", "echo", "--from", str(path), "--line", "7"])
    assert result.exit_code == 2 and "no record on line 7" in result.stderr


def test_try_errors_are_one_line(platform_env: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["try", "missing-model", "hi"])
    assert result.exit_code == 2
    assert "not found (404)" in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["try", "echo", "--line", "3"])
    assert result.exit_code == 2 and "--from FILE and --line N go together" in result.stderr


def test_try_neutralises_server_text(platform_env: FakeOpenAI) -> None:
    platform_env.add_chat_model("evil", lambda body: {"content": "ok\x1b]0;pwned\x07 done"})
    result = CliRunner().invoke(main, ["try", "evil", "x"])
    assert result.exit_code == 0 and "\x1b" not in result.stdout and "\\x1b" in result.stdout
