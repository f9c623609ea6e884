"""False positives are the worst bug a validator can have: every shape the OpenAI fine-tuning
docs show must validate with no error and no warning (or only a justified one)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftprep.validate import validate_file

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"},
                           "format": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location", "format"],
        },
    },
}
STRICT_TOOL = {"type": "function", "function": {
    "name": "get-time", "description": "Time in a zone", "strict": True,
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}},
                   "required": ["tz"], "additionalProperties": False}}}


def call(call_id: str, name: str = "get_current_weather", **args: Any) -> dict:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args or {"location": "Paris"})}}


PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

VALID: dict[str, dict] = {
    "system-user-assistant": {"messages": [
        {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
        {"role": "user", "content": "What's the capital of France?"},
        {"role": "assistant", "content": "Paris, as if everyone doesn't know that already."}]},
    "multi-turn-weights": {"messages": [
        {"role": "system", "content": "Marv is sarcastic."},
        {"role": "user", "content": "What's the capital of France?"},
        {"role": "assistant", "content": "Paris", "weight": 0},
        {"role": "user", "content": "Can you be more sarcastic?"},
        {"role": "assistant", "content": "Paris, as if everyone doesn't know that.", "weight": 1}]},
    "developer-role": {"messages": [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour"}]},
    "system-then-developer": {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour"}]},
    "names-on-messages": {"messages": [
        {"role": "system", "name": "example_system", "content": "Translate."},
        {"role": "user", "name": "alice", "content": "Hello"},
        {"role": "assistant", "name": "bot", "content": "Bonjour"}]},
    "tools-call-result-answer": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "What is the weather in San Francisco?"},
        {"role": "assistant", "tool_calls": [call("call_id", location="San Francisco, USA",
                                                  format="celsius")]},
        {"role": "tool", "tool_call_id": "call_id", "content": "21.0"},
        {"role": "assistant", "content": "It is 21 degrees celsius in San Francisco, CA"}]},
    "ends-with-tool-call": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "What is the weather in San Francisco?"},
        {"role": "assistant", "content": None,
         "tool_calls": [call("call_1", location="San Francisco, USA", format="celsius")]}]},
    "parallel-tool-calls": {"tools": [WEATHER_TOOL, STRICT_TOOL], "parallel_tool_calls": True,
                            "messages": [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call("a"), call("b", "get-time", tz="CET")]},
        {"role": "tool", "tool_call_id": "b", "content": "10:00"},
        {"role": "tool", "tool_call_id": "a", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "21 degrees at 10:00."}]},
    "parallel-tool-calls-false": {"tools": [WEATHER_TOOL], "parallel_tool_calls": False,
                                  "messages": [
        {"role": "user", "content": "Weather in Paris, then Rome?"},
        {"role": "assistant", "tool_calls": [call("a")], "weight": 1},
        {"role": "tool", "tool_call_id": "a", "content": "21"},
        {"role": "assistant", "tool_calls": [call("b", location="Rome")]},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "25"}]},
        {"role": "assistant", "content": "Paris 21, Rome 25."}]},
    "tool-result-empty-object-args": {"tools": [{"type": "function", "function": {"name": "now"}}],
                                      "messages": [
        {"role": "user", "content": "Time?"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                              "function": {"name": "now", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "10:00"},
        {"role": "assistant", "content": "It is 10:00."}]},
    "deprecated-functions": {"functions": [WEATHER_TOOL["function"]], "messages": [
        {"role": "user", "content": "What is the weather in San Francisco?"},
        {"role": "assistant", "content": None, "function_call": {
            "name": "get_current_weather",
            "arguments": "{\"location\": \"San Francisco, USA\", \"format\": \"celsius\"}"}},
        {"role": "function", "name": "get_current_weather", "content": "21.0"},
        {"role": "assistant", "content": "It is 21 degrees celsius in San Francisco, CA"}]},
    "refusal": {"messages": [
        {"role": "user", "content": "How do I pick a lock?"},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."}]},
    "refusal-part": {"messages": [
        {"role": "user", "content": "How do I pick a lock?"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help with that."}]}]},
    "assistant-text-parts": {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}]},
    "vision": {"messages": [
        {"role": "system", "content": "Store assistant for a clothing store."},
        {"role": "user", "content": "What is this cloth?"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": "https://example.com/shirt.jpg", "detail": "high"}}]},
        {"role": "assistant", "content": "This is a pink shirt."}]},
    "vision-data-url-text-and-image": {"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": PNG}}]},
        {"role": "assistant", "content": "A single white pixel."}]},
    "completion": {"prompt": "Translate: cheese ->", "completion": " fromage"},
    "preference": {"input": {"messages": [{"role": "user", "content": "Hello, can you tell me how cold San Francisco is today?"}],
                             "tools": [], "parallel_tool_calls": True},
                   "preferred_output": [{"role": "assistant", "content": "Today in San Francisco, it is 14 degrees."}],
                   "non_preferred_output": [{"role": "assistant", "content": "It is not particularly cold."}]},
    "preference-system-multiturn": {"input": {"messages": [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Capital of France?"}]},
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon."}]},
    "preference-with-tools": {"input": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [call("c1")]},
        {"role": "tool", "tool_call_id": "c1", "content": "21"}]},
        "preferred_output": [{"role": "assistant", "content": "21 degrees in Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "Sunny."}]},
    "preference-output-tool-call": {"input": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Paris?"}]},
        "preferred_output": [{"role": "assistant", "tool_calls": [call("c1")]}],
        "non_preferred_output": [{"role": "assistant", "content": "Sunny, probably."}]},
    # The two outputs are alternatives: each may use the same new call id.
    "preference-outputs-share-call-id": {"input": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Paris?"}]},
        "preferred_output": [{"role": "assistant", "tool_calls": [call("c1")]}],
        "non_preferred_output": [{"role": "assistant", "tool_calls": [call("c1", location="Rome")]}]},
    # serialisers write absent keys as null on every role
    "refusal-null-on-every-role": {"messages": [
        {"role": "system", "content": "Be brief.", "refusal": None},
        {"role": "user", "content": "Hi", "refusal": None},
        {"role": "assistant", "content": "Hello", "refusal": None}]},
    "assistant-content-and-tool-call": {"tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "refusal": None, "tool_calls": [call("c1")]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_current_weather", "content": "21"},
        {"role": "assistant", "content": "21 degrees.", "refusal": None}]},
}

# Warnings that are justified on otherwise valid data.
JUSTIFIED = {"deprecated-functions": ["FT404"]}


def _filler(i: int, fmt_of: dict) -> dict:
    if "prompt" in fmt_of:
        return {"prompt": f"q{i} ->", "completion": f" a{i}"}
    if "input" in fmt_of:
        return {"input": {"messages": [{"role": "user", "content": f"q{i}"}]},
                "preferred_output": [{"role": "assistant", "content": f"a{i}"}],
                "non_preferred_output": [{"role": "assistant", "content": f"b{i}"}]}
    return {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}


@pytest.mark.parametrize("name", sorted(VALID))
def test_documented_shape_is_valid(tmp_path: Path, name: str) -> None:
    record = VALID[name]
    path = tmp_path / "data.jsonl"
    lines = [record] + [_filler(i, record) for i in range(9)]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    report = validate_file(path)
    assert [(f.code, f.path, f.message) for f in report.findings
            if f.code not in JUSTIFIED.get(name, [])] == []
    assert report.examples == 10


def _findings_on_first(tmp_path: Path, record: dict) -> list[tuple[str, str]]:
    path = tmp_path / "data.jsonl"
    lines = [record] + [_filler(i, record) for i in range(9)]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return [(f.code, f.path) for f in validate_file(path).findings if f.line == 1]


def test_refusal_parts_are_checked_like_text(tmp_path: Path) -> None:
    def refusing(text: str) -> dict:
        return {"messages": [{"role": "user", "content": "q"},
                             {"role": "assistant", "content": [{"type": "refusal", "refusal": text}]}]}

    assert _findings_on_first(tmp_path, refusing("  ")) == [("FT501", "messages[1].content")]
    assert _findings_on_first(tmp_path, refusing("no <|endoftext|>")) == [("FT502", "messages[1].content")]
    no_text = {"messages": [{"role": "user", "content": "q"},
                            {"role": "assistant", "content": [{"type": "refusal"}]}]}
    assert _findings_on_first(tmp_path, no_text) == [("FT202", "messages[1].content[0].refusal")]
