"""Every record rule, schema-mapped or semantic: a failing record gives exactly that finding
(code, 1-based line, JSON path, severity) and nothing else; the fixed record gives none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ftprep.findings import Finding
from ftprep.validate import validate_file

USER = {"role": "user", "content": "What is the capital of France?"}
ASSISTANT = {"role": "assistant", "content": "Paris."}
CLEAN_CHAT = {"messages": [USER, ASSISTANT]}
CLEAN_PREFERENCE = {
    "input": {"messages": [USER]},
    "preferred_output": [{"role": "assistant", "content": "Paris."}],
    "non_preferred_output": [{"role": "assistant", "content": "Lyon, I think."}],
}
CLEAN_COMPLETION = {"prompt": "Capital of France ->", "completion": " Paris"}
# Line 1 of every test file: clean, and different from every case (no FT109 duplicate).
FIRST_LINE = {
    "chat": {
        "messages": [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "4"}]
    },
    "preference": {
        "input": {"messages": [{"role": "user", "content": "2 + 2?"}]},
        "preferred_output": [{"role": "assistant", "content": "4"}],
        "non_preferred_output": [{"role": "assistant", "content": "5"}],
    },
    "completion": {"prompt": "2 + 2 =", "completion": " 4"},
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def call(
    name: str = "get_weather", arguments: str = '{"city": "Paris"}', id_: str = "call_1"
) -> dict:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_chat(
    calls: list[dict], tool_call_id: str | None = "call_1", tools: list | None = None
) -> dict:
    result: dict[str, Any] = {"role": "tool", "content": '{"temp_c": 18}'}
    if tool_call_id is not None:
        result["tool_call_id"] = tool_call_id
    return {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            result,
            {"role": "assistant", "content": "18 °C in Paris."},
        ],
        "tools": [WEATHER_TOOL] if tools is None else tools,
    }


def image(url: str = "https://example.com/cat.png") -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def preference(**changes: Any) -> dict:
    return {**CLEAN_PREFERENCE, **changes}


@dataclass
class Case:
    code: str
    severity: str
    path: str
    bad: dict
    good: dict
    fmt: str = "chat"

    def __str__(self) -> str:
        return f"{self.code}-{self.path or 'record'}"


CASES = [
    # layer 1: the schema, mapped to specific codes
    Case("FT201", "error", "messages", {"messages": "hello"}, CLEAN_CHAT),
    Case(
        "FT201",
        "error",
        "messages[1].tool_calls[0].type",
        tool_chat([{**call(), "type": "fn"}]),
        tool_chat([call()]),
    ),
    Case(
        "FT202",
        "error",
        "messages[0].role",
        {"messages": [{"content": "hi"}, ASSISTANT]},
        {"messages": [{"role": "user", "content": "hi"}, ASSISTANT]},
    ),
    Case("FT202", "error", "completion", {"prompt": "p"}, CLEAN_COMPLETION, "completion"),
    Case("FT203", "error", "metadata", {**CLEAN_CHAT, "metadata": {"id": 7}}, CLEAN_CHAT),
    Case(
        "FT204",
        "error",
        "messages[1].content",
        {"messages": [USER, {"role": "assistant", "content": 42}]},
        {"messages": [USER, {"role": "assistant", "content": "42"}]},
    ),
    Case(
        "FT301",
        "error",
        "messages[0].role",
        {"messages": [{**USER, "role": "human"}, ASSISTANT]},
        CLEAN_CHAT,
    ),
    Case(
        "FT303",
        "error",
        "messages[1].weight",
        {"messages": [USER, {**ASSISTANT, "weight": 2}]},
        {"messages": [USER, {**ASSISTANT, "weight": 1}]},
    ),
    # FT3xx: roles
    Case(
        "FT302",
        "error",
        "messages",
        {"messages": [{"role": "system", "content": "Be brief."}, USER]},
        {"messages": [{"role": "system", "content": "Be brief."}, USER, ASSISTANT]},
    ),
    Case(
        "FT304",
        "error",
        "messages[0].weight",
        {"messages": [{**USER, "weight": 1}, ASSISTANT]},
        CLEAN_CHAT,
    ),
    Case(
        "FT304",
        "error",
        "input.messages[0].weight",
        preference(input={"messages": [{**USER, "weight": 0}]}),
        CLEAN_PREFERENCE,
        "preference",
    ),
    Case(
        "FT305",
        "warning",
        "messages[1].role",
        {"messages": [USER, {"role": "system", "content": "Be brief."}, ASSISTANT]},
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": "Answer in English."},
                USER,
                ASSISTANT,
            ]
        },
    ),
    Case(
        "FT306",
        "error",
        "messages",
        {"messages": [USER, {**ASSISTANT, "weight": 0}, USER, {**ASSISTANT, "weight": 0}]},
        {"messages": [USER, {**ASSISTANT, "weight": 0}, USER, {**ASSISTANT, "weight": 1}]},
    ),
    Case(
        "FT307",
        "warning",
        "messages[2].role",
        {"messages": [USER, ASSISTANT, USER]},
        {"messages": [USER, ASSISTANT, USER, ASSISTANT]},
    ),
    Case(
        "FT308",
        "error",
        "messages[0].tool_call_id",
        {"messages": [{**USER, "tool_call_id": "call_1"}, ASSISTANT]},
        CLEAN_CHAT,
    ),
    Case(
        "FT308",
        "error",
        "messages[0].tool_calls",
        {"messages": [{**USER, "tool_calls": [call()]}, ASSISTANT], "tools": [WEATHER_TOOL]},
        {"messages": [USER, ASSISTANT], "tools": [WEATHER_TOOL]},
    ),
    Case(
        "FT308",
        "error",
        "input.messages[0].content[0]",
        preference(input={"messages": [{"role": "user", "content": [
            {"type": "refusal", "refusal": "no"}]}]}),
        preference(input={"messages": [{"role": "user", "content": [
            {"type": "text", "text": "no"}]}]}),
        "preference",
    ),
    # FT4xx: tools
    Case(
        "FT406",
        "error",
        "messages[1].tool_calls[1].id",
        tool_chat([call(), call(arguments='{"city": "Rome"}')]),
        tool_chat([call(), call(arguments='{"city": "Rome"}', id_="call_2")])
        | {"messages": [*tool_chat([call(), call(id_="call_2")])["messages"][:3],
                        {"role": "tool", "tool_call_id": "call_2", "content": "20"}, ASSISTANT]},
    ),
    Case(
        "FT406",
        "error",
        "preferred_output[0].tool_calls[0].id",
        preference(input={"messages": [USER, {"role": "assistant", "tool_calls": [call()]},
                                       {"role": "tool", "tool_call_id": "call_1", "content": "18"},
                                       USER], "tools": [WEATHER_TOOL]},
                   preferred_output=[{"role": "assistant", "tool_calls": [call()]}]),
        preference(input={"messages": [USER, {"role": "assistant", "tool_calls": [call()]},
                                       {"role": "tool", "tool_call_id": "call_1", "content": "18"},
                                       USER], "tools": [WEATHER_TOOL]},
                   preferred_output=[{"role": "assistant", "tool_calls": [call(id_="call_2")]}]),
        "preference",
    ),
    Case(
        "FT401",
        "error",
        "messages[2].tool_call_id",
        tool_chat([call()], "call_9"),
        tool_chat([call()]),
    ),
    Case("FT401", "error", "messages[2]", tool_chat([call()], None), tool_chat([call()])),
    Case(
        "FT402",
        "error",
        "messages[1].tool_calls[0].function.name",
        tool_chat([call("get_wether")]),
        tool_chat([call()]),
    ),
    Case(
        "FT402",
        "error",
        "messages[1].tool_calls[0].function.name",
        tool_chat([call()], tools=[]) | {"tools": []},
        tool_chat([call()]),
    ),
    Case(
        "FT403",
        "error",
        "messages[1].tool_calls[0].function.arguments",
        tool_chat([call(arguments="{city: Paris}")]),
        tool_chat([call()]),
    ),
    Case(
        "FT403",
        "error",
        "messages[1].tool_calls[0].function.arguments",
        tool_chat([call(arguments='["Paris"]')]),
        tool_chat([call(arguments="{}")]),
    ),
    Case(
        "FT405",
        "error",
        "messages[1].tool_calls[0].id",
        {
            "messages": [USER, {"role": "assistant", "tool_calls": [call()]}, ASSISTANT],
            "tools": [WEATHER_TOOL],
        },
        {
            "messages": [USER, {"role": "assistant", "tool_calls": [call()]}],
            "tools": [WEATHER_TOOL],
        },
    ),
    Case(
        "FT404",
        "warning",
        "functions",
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
            ],
            "functions": [WEATHER_TOOL["function"]],
        },
        {
            "messages": [USER, {"role": "assistant", "tool_calls": [call()]}],
            "tools": [WEATHER_TOOL],
        },
    ),
    # FT5xx: content
    Case(
        "FT501",
        "error",
        "messages[1].content",
        {"messages": [USER, {**ASSISTANT, "content": "  \n"}]},
        CLEAN_CHAT,
    ),
    Case(
        "FT501",
        "error",
        "messages[0].content",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}, ASSISTANT]},
        {"messages": [{"role": "user", "content": [image()]}, ASSISTANT]},
    ),
    Case(
        "FT501",
        "error",
        "messages[1].content",
        {"messages": [USER, {"role": "assistant", "content": None}]},
        {
            "messages": [USER, {"role": "assistant", "content": None, "tool_calls": [call()]}],
            "tools": [WEATHER_TOOL],
        },
    ),
    Case(
        "FT501",
        "error",
        "completion",
        {"prompt": "Capital of France ->", "completion": " "},
        CLEAN_COMPLETION,
        "completion",
    ),
    Case(
        "FT501",
        "error",
        "preferred_output[0].content",
        preference(preferred_output=[{"role": "assistant", "content": ""}]),
        CLEAN_PREFERENCE,
        "preference",
    ),
    Case(
        "FT502",
        "error",
        "messages[1].content",
        {"messages": [USER, {**ASSISTANT, "content": "Paris.<|endoftext|>"}]},
        CLEAN_CHAT,
    ),
    Case(
        "FT502",
        "error",
        "messages[0].content",
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<|im_start|>user"}]},
                ASSISTANT,
            ]
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<| im_start |> user"}]},
                ASSISTANT,
            ]
        },
    ),
    Case(
        "FT502",
        "error",
        "prompt",
        {"prompt": "<|fim_prefix|>def f(", "completion": " x"},
        CLEAN_COMPLETION,
        "completion",
    ),
    Case(
        "FT503",
        "error",
        "messages[1].content[1]",
        {
            "messages": [
                USER,
                {"role": "assistant", "content": [{"type": "text", "text": "Here:"}, image()]},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image()]},
                ASSISTANT,
            ]
        },
    ),
    Case(
        "FT504",
        "error",
        "messages[0].content[10]",
        {
            "messages": [
                {"role": "user", "content": [image(f"https://e.x/{i}.png") for i in range(11)]},
                ASSISTANT,
            ]
        },
        {
            "messages": [
                {"role": "user", "content": [image(f"https://e.x/{i}.png") for i in range(10)]},
                ASSISTANT,
            ]
        },
    ),
    # FT6xx: preference
    Case(
        "FT601",
        "error",
        "preferred_output",
        preference(preferred_output=[{"role": "assistant", "content": "Paris."}, ASSISTANT]),
        CLEAN_PREFERENCE,
        "preference",
    ),
    Case(
        "FT601",
        "error",
        "non_preferred_output[0].role",
        preference(non_preferred_output=[{"role": "user", "content": "Lyon?"}]),
        CLEAN_PREFERENCE,
        "preference",
    ),
    Case(
        "FT602",
        "error",
        "input.messages[1].role",
        preference(input={"messages": [USER, ASSISTANT]}),
        preference(input={"messages": [USER, ASSISTANT, {"role": "user", "content": "Sure?"}]}),
        "preference",
    ),
    Case(
        "FT603",
        "warning",
        "non_preferred_output",
        preference(non_preferred_output=[{"content": "Paris.", "role": "assistant"}]),
        CLEAN_PREFERENCE,
        "preference",
    ),
]


def findings_for(tmp_path: Path, record: dict, fmt: str) -> list[Finding]:
    """Validate a file whose line 2 is `record` (line 1 is clean), ignoring the example count."""
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text(f"{json.dumps(FIRST_LINE[fmt])}\n{json.dumps(record)}\n", encoding="utf-8")
    report = validate_file(path, ignore=["FT107"])
    assert report.format == fmt
    return report.findings


@pytest.mark.parametrize("case", CASES, ids=str)
def test_failing_record_gives_exactly_this_finding(case: Case, tmp_path: Path) -> None:
    findings = findings_for(tmp_path, case.bad, case.fmt)
    assert [(f.code, f.line, f.path, f.severity.value) for f in findings] == [
        (case.code, 2, case.path, case.severity)
    ], [f.message for f in findings]
    assert findings[0].message


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fixed_record_gives_no_finding(case: Case, tmp_path: Path) -> None:
    assert findings_for(tmp_path, case.good, case.fmt) == []


def test_every_record_rule_has_a_case() -> None:
    from ftprep.rules import load_rules

    engine_codes = {
        "FT101",
        "FT102",
        "FT103",
        "FT104",
        "FT105",
        "FT106",
        "FT107",
        "FT108",
        "FT109",
        "FT110",
    }  # line and file rules: tests/test_validate_engine.py
    token_codes = {c for c in load_rules() if c.startswith("FT7")}  # owned by the token rules
    target_codes = {c for c in load_rules() if c.startswith("FT8")}  # tests/test_targets_rules.py
    assert set(load_rules()) - engine_codes - token_codes - target_codes == {c.code for c in CASES}


def test_all_findings_of_one_record_are_reported(tmp_path: Path) -> None:
    record = {
        "messages": [
            {"role": "user", "content": " ", "weight": 1},
            {"role": "system", "content": "late <|endoftext|>"},
            {"role": "assistant", "content": "ok", "extra": 1},
        ]
    }
    codes = {(f.code, f.path) for f in findings_for(tmp_path, record, "chat")}
    assert codes == {
        ("FT501", "messages[0].content"),
        ("FT304", "messages[0].weight"),
        ("FT305", "messages[1].role"),
        ("FT502", "messages[1].content"),
        ("FT203", "messages[2].extra"),
    }


def test_special_token_finding_names_every_token_once(tmp_path: Path) -> None:
    text = "<|im_start|>a<|im_end|> and <|im_start|> again"
    (finding,) = findings_for(
        tmp_path, {"messages": [USER, {**ASSISTANT, "content": text}]}, "chat"
    )
    assert finding.message == "contains special tokens <|im_start|>, <|im_end|>"


def test_image_in_assistant_message_names_the_role(tmp_path: Path) -> None:
    record = {"messages": [USER, {"role": "assistant", "content": [image()]}]}
    (finding,) = findings_for(tmp_path, record, "chat")
    assert (finding.code, finding.message) == ("FT503", "image in an assistant message")


def test_tool_message_answering_a_later_call_is_unknown(tmp_path: Path) -> None:
    record = {
        "messages": [
            USER,
            {"role": "tool", "tool_call_id": "call_1", "content": "18"},
            {"role": "assistant", "content": None, "tool_calls": [call()]},
            {"role": "assistant", "content": "18 °C."},
        ],
        "tools": [WEATHER_TOOL],
    }
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "chat")] == [
        ("FT401", "messages[1].tool_call_id")
    ]


def test_deprecated_function_call_without_functions_is_one_warning_plus_unknown(
    tmp_path: Path,
) -> None:
    record = {
        "messages": [
            USER,
            {"role": "assistant", "function_call": {"name": "get_weather", "arguments": "{}"}},
            {"role": "function", "name": "get_weather", "content": "18"},
            ASSISTANT,
        ]
    }
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "chat")] == [
        ("FT404", "messages[1].function_call"),
        ("FT402", "messages[1].function_call.name"),
    ]


def test_null_tool_call_id_is_only_the_schema_finding(tmp_path: Path) -> None:
    record = tool_chat([call()])
    record["messages"][2]["tool_call_id"] = None
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "chat")] == [
        ("FT201", "messages[2].tool_call_id")
    ]


def test_parallel_calls_each_need_a_result(tmp_path: Path) -> None:
    record = tool_chat([call(), call(id_="call_2", arguments='{"city": "Rome"}')])
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "chat")] == [
        ("FT405", "messages[1].tool_calls[1].id")
    ]
    record["messages"].insert(3, {"role": "tool", "tool_call_id": "call_2", "content": "21"})
    assert findings_for(tmp_path, record, "chat") == []


def test_misspelt_result_id_is_one_finding_not_two(tmp_path: Path) -> None:
    assert [f.code for f in findings_for(tmp_path, tool_chat([call()], "call_l"), "chat")] == [
        "FT401"
    ]


def test_preference_tool_call_checked_against_input_tools(tmp_path: Path) -> None:
    record = preference(
        input={"messages": [USER], "tools": [WEATHER_TOOL]},
        preferred_output=[{"role": "assistant", "tool_calls": [call("get_time")]}],
    )
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "preference")] == [
        ("FT402", "preferred_output[0].tool_calls[0].function.name")
    ]


@pytest.mark.parametrize("calls", [{"tool_calls": "get_weather()"}, {"function_call": "auto"}])
def test_malformed_call_is_not_also_empty_content(calls: dict, tmp_path: Path) -> None:
    record = {"messages": [USER, {"role": "assistant", **calls}]}
    codes = [f.code for f in findings_for(tmp_path, record, "chat")]
    assert "FT201" in codes and "FT501" not in codes


def test_text_part_without_text_is_reported(tmp_path: Path) -> None:
    record = {"messages": [{"role": "user", "content": [{"type": "text"}]}, ASSISTANT]}
    assert [(f.code, f.path) for f in findings_for(tmp_path, record, "chat")] == [
        ("FT202", "messages[0].content[0].text")
    ]
