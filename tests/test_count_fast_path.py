"""`count`'s hot loop: plain chat records are counted by `_Counter.plain_chat` straight from
orjson, every other line by the general path. Both must give the same numbers and the same
verdict on every line; the report is computed without numpy for small files."""
from __future__ import annotations

import json
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep import count as count_mod
from ftprep.count import count_file, stats
from ftprep.errors import InputError
from ftprep.io.jsonl import MAX_DEPTH
from ftprep.tokens import count_example, count_record, count_totals, plain_chat_counter

_text = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "<|endoftext|>", "a" * 600]))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(0, 1), _text)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "developer", ""])},
    optional={"content": st.one_of(_text, st.none()), "name": _text, "weight": _scalar,
              "refusal": _text, "tool_call_id": _text, "extra": _scalar},
)
_plain = st.fixed_dictionaries({"messages": st.lists(_message, max_size=6)},
                               optional={"weight": _scalar, "id": _text})


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
@settings(max_examples=300, deadline=None)
@given(record=_plain)
def test_plain_path_equals_the_general_one(encoding: str, record: dict) -> None:
    row = plain_chat_counter(encoding)(record)
    full = count_record(record, encoding, "chat")
    assert row == (full.total, full.trainable, full.messages, full.answer_start)


@pytest.mark.parametrize("record", [
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]},
    {"messages": [{"role": "assistant", "tool_calls": 5}]},  # counted from its JSON
    {"messages": [{"role": "user", "content": "hi", "meta": {"a": 1}}]},
    {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]},
    {"messages": [{"role": "user", "content": "hi"}], "functions": []},
    {"messages": [{"role": "user", "content": "hi"}], "metadata": {"source": "x"}},
    {"messages": [{"role": "user", "content": "hi"}], "preferred_output": []},
    {"messages": ["not an object"]},
    {"messages": "not a list"},
    {"prompt": "a", "completion": "b"},
])
def test_anything_not_plain_goes_the_general_way(record: dict) -> None:
    assert plain_chat_counter("o200k_base")(record) is None


@pytest.mark.parametrize("workers", [1, 2])
def test_mixed_lines_count_like_the_general_path(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(count_mod, "BATCH_BYTES", 300)
    records = [
        {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "tools"}], "tools": [{"type": "function",
                                                                       "function": {"name": "f"}}]},
        {"prompt": "p", "completion": "c"},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]},
                      {"role": "assistant", "content": "ok", "weight": 0}]},
        {"messages": [{"role": "user", "content": "x"}], "metadata": {"k": [1, 2]}},
    ] * 4
    path = tmp_path / "mixed.jsonl"
    path.write_text("\r\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    report = count_file(path, model="gpt-4o-mini", workers=workers)
    expected = [count_record(r, "o200k_base", "preference" if "preferred_output" in r else
                             "completion" if "prompt" in r else "chat") for r in records]
    assert report.counts is not None
    assert list(report.counts.tokens) == [e.total for e in expected]
    assert list(report.counts.trainable) == [e.trainable for e in expected]
    assert list(report.counts.lines) == list(range(1, len(records) + 1))
    assert report.estimated  # the tools line


def test_a_plain_looking_line_nested_too_deep_is_still_refused(tmp_path: Path) -> None:
    # The plain path skips the reader's depth check only for records it knows are flat.
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    path = tmp_path / "deep.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n'
                    f'{{"messages": [{{"role": "user", "content": "hi"}}], "x": {deep}}}\n')
    with pytest.raises(InputError, match="nested deeper") as info:
        count_file(path, model="gpt-4o-mini")
    assert info.value.line == 2


@pytest.mark.parametrize("values", [[], [7], [3, 1], [5, 1, 4, 1, 5, 9, 2, 6],
                                    list(range(1000, 0, -3))])
def test_stats_the_same_with_and_without_numpy(
    values: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = array("I", values)
    plain = stats(data)
    monkeypatch.setattr(count_mod, "NUMPY_SORT_FROM", 0)
    assert stats(data) == plain
    if values:
        assert plain["median"] == float(sorted(values)[len(values) // 2]) if len(values) % 2 \
            else (sorted(values)[len(values) // 2 - 1] + sorted(values)[len(values) // 2]) / 2
        assert plain["mean"] == round(sum(values) / len(values), 2)


def test_small_count_starts_without_numpy_or_a_pool(tmp_path: Path) -> None:
    # Start-up is the whole cost on a small file: numpy (0.1 s) and multiprocessing are not
    # imported when nothing needs them.
    path = tmp_path / "one.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    code = ("import sys; from ftprep.count import count_file; "
            f"r = count_file({str(path)!r}, model='gpt-4o-mini'); "
            "print(r.total_tokens, 'numpy' in sys.modules, 'multiprocessing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["8", "False", "False"]


@pytest.mark.parametrize("record", [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
    {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]},
    {"input": {"messages": [{"role": "user", "content": "q"}]},
     "preferred_output": [{"role": "assistant", "content": "a"}],
     "non_preferred_output": [{"role": "assistant", "content": "b"}]},
    {"prompt": "p", "completion": "c"},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                  {"role": "user", "content": "no answer last"}]},
])
def test_count_totals_is_what_the_token_rules_need(record: dict) -> None:
    # validate --model's token rules take total and answer start from count_totals
    full = count_example(record, "cl100k_base")
    assert count_totals(record, "cl100k_base") == (full.total, full.answer_start)
