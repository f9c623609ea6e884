"""ftprep.eval.answers: one Answer shape for dataset references and API replies."""
from __future__ import annotations

import json
import re

import pytest
from openai.types.chat import ChatCompletion

from ftprep.eval.answers import Answer, ToolCall, answer_from_message


def test_string_content() -> None:
    assert answer_from_message({"role": "assistant", "content": "Paris"}) == Answer("Paris")


def test_null_and_missing_content_have_no_text_but_empty_text_is_kept() -> None:
    assert answer_from_message({"role": "assistant", "content": None}).text is None
    assert answer_from_message({"role": "assistant"}).text is None
    assert answer_from_message({"role": "assistant", "content": ""}).text == ""


def test_list_of_parts_is_joined_and_refusal_parts_kept_apart() -> None:
    message = {"role": "assistant", "content": [
        {"type": "text", "text": "Bon"}, {"type": "text", "text": "jour ✓"},
        {"type": "refusal", "refusal": "I can't"},
    ]}
    assert answer_from_message(message) == Answer("Bonjour ✓", refusal="I can't")


def test_tool_calls_keep_order_names_and_argument_strings() -> None:
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]}
    answer = answer_from_message(message)
    assert answer == Answer(None, (ToolCall("get_weather", '{"city": "Oslo"}'), ToolCall("get_time", "{}")))


def test_arguments_given_as_an_object_become_a_json_string() -> None:
    message = {"tool_calls": [{"function": {"name": "f", "arguments": {"q": "é", "n": 2}}}]}
    (call,) = answer_from_message(message).tool_calls
    assert json.loads(call.arguments) == {"q": "é", "n": 2}


def test_legacy_function_call_is_one_tool_call() -> None:
    message = {"role": "assistant", "function_call": {"name": "lookup", "arguments": '{"id": 7}'}}
    assert answer_from_message(message).tool_calls == (ToolCall("lookup", '{"id": 7}'),)


def test_a_real_sdk_response_model_dump() -> None:
    completion = ChatCompletion.model_validate({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "refusal": None,
            "tool_calls": [{"id": "t", "type": "function",
                            "function": {"name": "add", "arguments": '{"a":1,"b":2}'}}]}}],
    })
    answer = answer_from_message(completion.choices[0].message.model_dump())
    assert answer == Answer(None, (ToolCall("add", '{"a":1,"b":2}'),))


@pytest.mark.parametrize(("message", "field"), [
    ({"content": 5}, "content"),
    ({"content": [{"type": "image_url", "image_url": {}}]}, "content[0].type"),
    ({"content": [{"type": "text", "text": None}]}, "content[0].text"),
    ({"content": ["loose string"]}, "content[0]"),
    ({"tool_calls": {"function": {}}}, "tool_calls"),
    ({"tool_calls": [{"function": {"arguments": "{}"}}]}, "tool_calls[0].function.name"),
    ({"tool_calls": [{"id": "x"}]}, "tool_calls[0].function"),
    ({"refusal": 3}, "refusal"),
])
def test_malformed_messages_name_the_field(message: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}:"):
        answer_from_message(message)


def test_to_dict_round_trips() -> None:
    answer = Answer("x", (ToolCall("f", '{"a": 1}'),), refusal=None)
    data = answer.to_dict()
    assert data == {"text": "x", "tool_calls": [{"name": "f", "arguments": '{"a": 1}'}], "refusal": None}
    assert Answer.from_dict(json.loads(json.dumps(data))) == answer
