"""The schema fast path must report exactly what the JSON Schema validator reports, for every
record it takes (plain chat and prompt/completion, with or without unknown keys)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.formats import CHAT, COMPLETION
from ftprep.rules.schema import _known_hits, _to_hit, validator

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False),
                    st.text(max_size=3))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2)
                      | st.dictionaries(st.sampled_from(["type", "text", "x"]), inner, max_size=2),
                      max_leaves=4)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "bot", 1])
names = st.sampled_from(["bob", "n-1_", "a b", "", "x" * 65])
wild_message = st.dictionaries(
    st.sampled_from(["role", "content", "name", "weight", "tool_calls", "refusal", "extra",
                     "id", "a.b"]),
    st.one_of(roles, names, values), max_size=5,
)
plain_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant"])},
    optional={"content": st.one_of(st.none(), st.text(max_size=3)), "name": names,
              "weight": st.sampled_from([0, 1])},
)
# Well-formed messages, alone or with keys the format lacks (`id`, `a.b`, `extra`), so the
# fast path is taken often; wild ones (any key, any value) so it must also decline.
message = st.one_of(
    plain_message,
    st.builds(lambda m, extra: {**m, **extra}, plain_message,
              st.dictionaries(st.sampled_from(["extra", "id", "a.b", "weight"]), values,
                              min_size=1, max_size=2)),
    wild_message,
)
chat = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(message, max_size=4), values,
                           st.lists(st.one_of(plain_message, message), min_size=1, max_size=3))},
    optional={"tools": values, "extra": values, "metadata": values, "functions": values,
              "a b": values},
)
completion = st.dictionaries(st.sampled_from(["prompt", "completion", "x", "metadata"]), values,
                             max_size=4)


def _full(record: dict, fmt: str) -> list:
    """The validator's findings (a top-level `metadata` is ftprep's own key, FT931)."""
    checked = {k: v for k, v in record.items() if k != "metadata"}
    return [_to_hit(e) for e in validator(fmt).iter_errors(checked)]


@settings(max_examples=600, deadline=None)
@given(chat)
def test_chat_fast_path_agrees_with_schema(record: dict) -> None:
    known = _known_hits(record, CHAT)
    if known is not None:
        assert known == _full(record, CHAT)


@settings(max_examples=300, deadline=None)
@given(completion)
def test_completion_fast_path_agrees_with_schema(record: dict) -> None:
    known = _known_hits(record, COMPLETION)
    if known is not None:
        assert known == _full(record, COMPLETION)


def test_fast_path_takes_the_common_shapes() -> None:
    plain = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                          {"role": "assistant", "content": "a", "weight": 1}]}
    assert _known_hits(plain, CHAT) == []
    assert _known_hits({"prompt": "p", "completion": "c"}, COMPLETION) == []
    assert _known_hits({"messages": [{"role": "assistant", "content": "a", "weight": True}]}, CHAT) is None
    assert _known_hits({"messages": [{"role": "user", "content": 1.0}]}, CHAT) is None
    assert _known_hits({"messages": [{"role": "user", "content": "q", "tool_calls": []}]}, CHAT) is None
    assert _known_hits({**plain, "tools": []}, CHAT) is None


def test_fast_path_reports_unknown_keys_as_the_validator_does() -> None:
    record = {"messages": [{"role": "user", "content": "q", "id": 7},
                           {"role": "assistant", "content": "a"}],
              "metadata": {"source": "helpdesk"}, "a b": 1}
    known = _known_hits(record, CHAT)
    assert known == _full(record, CHAT)
    assert [(h.code, h.path) for h in known] == [("FT203", "messages[0].id"), ("FT203", "['a b']")]
    assert known[1].message == ("unknown key 'a b'; allowed: functions, messages, "
                                "parallel_tool_calls, tools")
    extra = {"prompt": "p", "completion": "c", "metadata": 1, "label": 2}
    assert _known_hits(extra, COMPLETION) == _full(extra, COMPLETION) != []
    assert _known_hits({**record, "a b": None, **{"label": 1}}, CHAT) == _full(
        {**record, "a b": None, "label": 1}, CHAT)
    assert _known_hits({"messages": record["messages"][1:], "metadata": {}}, CHAT) == []
