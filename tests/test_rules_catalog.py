"""Every rule's examples (ftprep/rules/examples.toml), driven from the registry: the bad file
gives exactly that finding (code, line, JSON path, severity) and nothing else; the fixed file
gives none; a rule without an example fails. Then record-rule details beyond the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftprep.findings import Finding
from ftprep.rules import load_rules
from ftprep.rules.examples import RuleExample, load_examples
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


# Rules no small file can show; each entry in examples.toml says why. Growing this set is a
# decision for review, not a way around the test.
UNTESTABLE = {"FT108"}
# File-size and example-count rules fire on every short example file; ignored unless under test.
COUNT_RULES = ("FT107", "FT808")
EXAMPLES = [e for found in load_examples().values() for e in found.examples]


def run_example(example: RuleExample, text: bytes, tmp_path: Path) -> list[tuple[Any, ...]]:
    path = tmp_path / "example.jsonl"
    path.write_bytes(text)
    registries: dict[str, Any] = {}
    for name, toml in (("models_file", example.models), ("targets_file", example.targets)):
        if toml:
            registries[name] = tmp_path / f"{name}.toml"
            registries[name].write_text(toml, encoding="utf-8")
    report = validate_file(path, model=example.model, target=example.target,
                           ignore=[*(c for c in COUNT_RULES if c != example.code), *example.also],
                           extend_select=[example.code],  # opt-in rules (FT912...) run when shown
                           **registries)
    return [(f.code, f.line, f.path, f.severity.value) for f in report.findings]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.code}-{e.path or 'record'}")
def test_example_triggers_exactly_its_rule(example: RuleExample, tmp_path: Path) -> None:
    severity = load_rules()[example.code].severity.value
    found = run_example(example, example.bad_bytes(), tmp_path)
    assert found == [(example.code, example.line, example.path, severity)]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.code}-{e.path or 'record'}")
def test_fixed_example_triggers_nothing(example: RuleExample, tmp_path: Path) -> None:
    assert run_example(example, example.good_bytes(), tmp_path) == []


def test_every_rule_has_an_example() -> None:
    examples = load_examples()
    missing = sorted(set(load_rules()) - {c for c, e in examples.items() if e.examples}
                     - UNTESTABLE)
    assert not missing, (f"rules without an example: {', '.join(missing)}; add a [[CODE]] entry "
                         "with bad and good to ftprep/rules/examples.toml (see CONTRIBUTING.md)")
    assert set(examples) <= set(load_rules()), "examples for rules that do not exist"
    assert {c for c, e in examples.items() if e.untestable} == UNTESTABLE
    assert all(examples[c].untestable for c in UNTESTABLE)


def findings_for(tmp_path: Path, record: dict, fmt: str) -> list[Finding]:
    """Validate a file whose line 2 is `record` (line 1 is clean), ignoring the example count."""
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text(f"{json.dumps(FIRST_LINE[fmt])}\n{json.dumps(record)}\n", encoding="utf-8")
    report = validate_file(path, ignore=["FT107"])
    assert report.format == fmt
    return report.findings


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


# -- `ftprep rules`: the examples and prefixes ---------------------------------------------------

def rules_cli(*args: str) -> Any:
    from click.testing import CliRunner

    from ftprep.cli import main

    return CliRunner().invoke(main, ["rules", *args])


def test_rules_code_prints_the_first_example_and_its_fix() -> None:
    example = load_examples()["FT401"].examples[0]
    result = rules_cli("FT401")
    assert result.exit_code == 0
    text = result.output
    assert "Example (FT401 at line 1, messages[2].tool_call_id):" in text
    assert text.index("    " + example.bad) < text.index("Fixed:") < text.index("    " + example.good)


def test_rules_code_names_the_flags_an_example_needs() -> None:
    text = rules_cli("FT701").output
    assert "with --model gpt-4o-mini --models-file M (below)" in text
    assert "max_example_tokens = 40" in text.split("\nM:\n")[1]


def test_rules_json_carries_the_examples() -> None:
    data = json.loads(rules_cli("FT102", "--format", "json").output)
    assert data["code"] == "FT102" and data["examples"][0]["line"] == 2
    assert data["examples"][0]["bad"] == load_examples()["FT102"].examples[0].bad


def test_rules_prefix_lists_the_family_like_select() -> None:
    result = rules_cli("ft7")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == ["FT701", "FT702"]
    listed = json.loads(rules_cli("FT7", "--format", "json").output)
    assert [r["code"] for r in listed] == ["FT701", "FT702"]
    missing = rules_cli("FT99")
    assert missing.exit_code == 2 and "no rule 'FT99'" in missing.output
