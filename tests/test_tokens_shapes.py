"""count_example on every record shape, against an independent re-implementation of the
documented formula (stdlib json + tiktoken's encode, no code shared with ftprep.tokens)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from ftprep.tokens import count_example, get_encoding

ENC = get_encoding("o200k_base")


def n(text: str) -> int:
    return len(ENC.encode(text, disallowed_special=()))


def as_json(value: Any) -> int:
    return n(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def image(part: dict) -> int:
    return 85 if part["image_url"].get("detail") == "low" else 85 + 4 * 170


def message(m: dict) -> tuple[int, int]:
    """(tokens, head) by the README: 3 + every string field + 1 per name; payloads after."""
    head = 3 + sum(n(v) + (k == "name") for k, v in m.items()
                   if isinstance(v, str) and k not in ("content", "refusal", "function_call"))
    payload = 0
    if isinstance(m.get("content"), str):
        payload += n(m["content"])
    elif isinstance(m.get("content"), list):
        payload += sum(n(p["text"]) if p["type"] == "text" else image(p) for p in m["content"])
    if isinstance(m.get("refusal"), str):
        payload += n(m["refusal"])
    for key in ("tool_calls", "function_call"):
        if m.get(key) is not None:
            payload += as_json(m[key])
    return head + payload, head


def reference(record: dict) -> tuple[int, int, int | None]:
    """(total, trainable, answer_start)."""
    if "prompt" in record:
        p, c = n(record["prompt"]), n(record["completion"])
        return p + c, c, p
    if "input" in record:
        prompt_total = reference(record["input"])[0]
        outputs = [message(m)[0] for k in ("preferred_output", "non_preferred_output")
                   for m in record[k]]
        start = prompt_total + message(record["preferred_output"][0])[1]
        return prompt_total + sum(outputs), sum(outputs), start
    offset = sum(as_json(record[k]) for k in ("tools", "functions") if record.get(k))
    trainable, start = 0, None
    for m in record["messages"]:
        tokens, head = message(m)
        if m["role"] == "assistant":
            start = offset + head
            trainable += tokens if m.get("weight", 1) != 0 else 0
        offset += tokens
    if record["messages"][-1]["role"] != "assistant":
        start = None
    return offset + 3, trainable, start


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
PARALLEL = [
    {"id": "call_1", "type": "function",
     "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'}},
    {"id": "call_2", "type": "function",
     "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
]
U = {"role": "user", "content": "What's the weather in Zürich and Oslo?"}

SHAPES: dict[str, tuple[dict, bool]] = {  # record, estimated
    "plain": ({"messages": [{"role": "system", "content": "Be brief."}, U,
                            {"role": "assistant", "content": "Sunny."}]}, False),
    "tools + parallel tool calls": ({"tools": TOOLS, "parallel_tool_calls": True, "messages": [
        U, {"role": "assistant", "content": None, "tool_calls": PARALLEL},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "3C"},
        {"role": "assistant", "content": "Zürich 21C, Oslo 3C."}]}, True),
    "functions": ({"functions": [TOOLS[0]["function"]], "messages": [
        U, {"role": "assistant", "function_call": {"name": "get_weather",
                                                   "arguments": '{"city": "Oslo"}'}},
        {"role": "function", "name": "get_weather", "content": "3C"},
        {"role": "assistant", "content": "3C in Oslo."}]}, True),
    "image low only": ({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url",
                                      "image_url": {"url": "https://x/a.png", "detail": "low"}}]},
        {"role": "assistant", "content": "A cat."}]}, False),
    "images high and auto": ({"messages": [
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://x/b.png"}},
            {"type": "text", "text": "Same?"}]},
        {"role": "assistant", "content": "No."}]}, True),
    "name": ({"messages": [{"role": "system", "name": "policy", "content": "Rules."},
                           {"role": "user", "name": "alice", "content": "Hi"},
                           {"role": "assistant", "content": "Hello Alice."}]}, False),
    "weight 0": ({"messages": [U, {"role": "assistant", "content": "Let me check.", "weight": 0},
                               {"role": "user", "content": "Well?"},
                               {"role": "assistant", "content": "Sunny.", "weight": 1}]}, False),
    "refusal, null content": ({"messages": [
        {"role": "user", "content": "Help me pick a lock."},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."}]}, False),
    "ends with user": ({"messages": [{"role": "assistant", "content": "Hi!"}, U]}, False),
    "special token text": ({"messages": [
        {"role": "user", "content": "say <|endoftext|>"},
        {"role": "assistant", "content": "<|endoftext|>"}]}, False),
    "preference with tools in input": ({
        "input": {"tools": TOOLS, "messages": [U]},
        "preferred_output": [{"role": "assistant", "content": "Zürich 21C, Oslo 3C."}],
        "non_preferred_output": [{"role": "assistant", "content": "No idea."}]}, True),
    "preference": ({
        "input": {"messages": [{"role": "system", "content": "Be kind."}, U]},
        "preferred_output": [{"role": "assistant", "content": "Let me look that up."}],
        "non_preferred_output": [{"role": "assistant", "content": "Go look outside."}]}, False),
    "completion": ({"prompt": "Translate: cheese ->", "completion": " fromage"}, False),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_count_example_matches_an_independent_formula(shape: str) -> None:
    record, estimated = SHAPES[shape]
    counted = count_example(record, ENC)
    total, trainable, start = reference(record)
    assert (counted.total, counted.trainable, counted.answer_start) == (total, trainable, start)
    assert counted.estimated is estimated


def test_a_hand_counted_example() -> None:
    # 3 + "user" + "hi" | 3 + "assistant" + "x" | 3 priming: every word is one o200k token.
    record = {"messages": [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "x"}]}
    counted = count_example(record, ENC)
    assert (counted.total, counted.trainable, counted.answer_start) == (13, 5, 9)
    assert reference(record) == (13, 5, 9)


def test_trainable_is_exactly_the_weighted_assistant_messages() -> None:
    record, _ = SHAPES["weight 0"]
    counted = count_example(record, ENC)
    last = record["messages"][-1]
    assert counted.trainable == 3 + n("assistant") + n(last["content"])
    assert counted.per_message[-1] == counted.trainable
