"""Checks registered `plain_silent` are skipped for plain chat records (validate and convert
skip them for nearly every record): none of them may ever report on such a record, whatever
the target, model or rule selection."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.formats import CHAT
from ftprep.rules import PLAIN_SILENT, RULES, Context, load_rules
from ftprep.rules.schema import schema_check
from ftprep.targets import get_target, list_targets

load_rules()
TARGETS = [None, *(get_target(t.name) for t in list_targets())]
text = st.one_of(st.text(max_size=8), st.sampled_from(
    ["", " ", "<|endoftext|>", "<|im_start|>", "data:image/png;base64,AAAA",
     "https://example.com/a.png", '{"name": "f", "arguments": "{}"}', "tool_calls"]))
plain_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant"])},
    optional={"content": st.one_of(st.none(), text), "name": st.sampled_from(["bob", "f_1"]),
              "weight": st.sampled_from([0, 1]), "id": text, "image_url": text, "type": text},
)
plain_record = st.fixed_dictionaries(
    {"messages": st.lists(plain_message, min_size=1, max_size=5)},
    optional={"metadata": st.dictionaries(st.sampled_from(["tools", "tool_calls"]), text),
              "label": text, "images": st.lists(text, max_size=2)},
)


@settings(max_examples=300, deadline=None)
@given(plain_record, st.sampled_from(TARGETS))
def test_plain_silent_checks_never_report_on_plain_records(record: dict, target: object) -> None:
    assert schema_check(record, CHAT)[1]  # the strategy makes plain records only
    ctx = Context(line=1, format=CHAT, target=target, enabled=frozenset(RULES))
    for check in PLAIN_SILENT:
        assert list(check(record, ctx)) == [], check.__name__


def test_the_checks_that_plain_records_skip() -> None:
    assert {c.__name__ for c in PLAIN_SILENT} >= {
        "unknown_tool_call_id", "duplicate_tool_call_id", "unanswered_tool_call",
        "unknown_function", "invalid_arguments", "deprecated_functions", "image_outside_user",
        "too_many_images", "key_not_for_role", "image_source_refused"}


def test_records_with_tools_or_parts_are_not_plain() -> None:
    base = [{"role": "user", "content": "q"}]
    assert schema_check({"messages": base}, CHAT)[1]
    assert not schema_check({"messages": base, "tools": []}, CHAT)[1]
    assert not schema_check({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "q"}]}]}, CHAT)[1]
    assert not schema_check({"messages": [{"role": "assistant", "tool_calls": []}]}, CHAT)[1]
    assert not schema_check({"messages": [{"role": "tool", "content": "r",
                                           "tool_call_id": "c"}]}, CHAT)[1]
    assert not schema_check({"prompt": "p", "completion": "c"}, "completion")[1]
