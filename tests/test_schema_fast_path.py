"""The schema fast path must never accept a record that the JSON Schema rejects."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.formats import CHAT, COMPLETION
from ftprep.rules.schema import _plainly_valid, validator

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False),
                    st.text(max_size=3))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2)
                      | st.dictionaries(st.sampled_from(["type", "text", "x"]), inner, max_size=2),
                      max_leaves=4)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "bot", 1])
message = st.dictionaries(
    st.sampled_from(["role", "content", "name", "weight", "tool_calls", "extra"]),
    st.one_of(roles, values), max_size=4,
)
chat = st.fixed_dictionaries({"messages": st.one_of(st.lists(message, max_size=4), values)},
                             optional={"tools": values, "extra": values})
completion = st.dictionaries(st.sampled_from(["prompt", "completion", "x"]), values, max_size=3)


@settings(max_examples=400, deadline=None)
@given(chat)
def test_chat_fast_path_agrees_with_schema(record: dict) -> None:
    if _plainly_valid(record, CHAT):
        assert validator(CHAT).is_valid(record)


@settings(max_examples=200, deadline=None)
@given(completion)
def test_completion_fast_path_agrees_with_schema(record: dict) -> None:
    if _plainly_valid(record, COMPLETION):
        assert validator(COMPLETION).is_valid(record)


def test_fast_path_takes_the_common_shapes() -> None:
    plain = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                          {"role": "assistant", "content": "a", "weight": 1}]}
    assert _plainly_valid(plain, CHAT)
    assert _plainly_valid({"prompt": "p", "completion": "c"}, COMPLETION)
    assert not _plainly_valid({"messages": [{"role": "assistant", "content": "a", "weight": True}]}, CHAT)
    assert not _plainly_valid({"messages": [{"role": "user", "content": 1.0}]}, CHAT)
