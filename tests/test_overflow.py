"""fit_to_limit: keep / drop / trim-history."""
from __future__ import annotations

import copy

import pytest

from ftprep.errors import UsageError
from ftprep.overflow import fit_to_limit
from ftprep.tokens import count_example, get_encoding

ENC = get_encoding("cl100k_base")


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def conversation() -> dict:
    return {"messages": [
        msg("system", "You are terse."),
        msg("user", "first question " * 20), msg("assistant", "first answer " * 20),
        msg("user", "second question " * 20), msg("assistant", "second answer " * 20),
        msg("user", "final question"), msg("assistant", "final answer"),
    ]}


def tokens(record: dict) -> int:
    return count_example(record, ENC).total


def test_keep_returns_the_record_unchanged() -> None:
    record = conversation()
    assert fit_to_limit(record, limit=10, encoding=ENC, policy="keep") == (record, None)


def test_drop_only_when_over() -> None:
    record = conversation()
    total = tokens(record)
    assert fit_to_limit(record, limit=total, encoding=ENC, policy="drop") == (record, None)
    out, reason = fit_to_limit(record, limit=total - 1, encoding=ENC, policy="drop")
    assert out is None and f"{total} tokens" in reason and str(total - 1) in reason


def test_trim_history_drops_oldest_turn_first() -> None:
    record = conversation()
    original = copy.deepcopy(record)
    without_first = {"messages": [record["messages"][0], *record["messages"][3:]]}
    limit = tokens(without_first)
    out, reason = fit_to_limit(record, limit=limit, encoding=ENC, policy="trim-history")
    assert reason is None and out == without_first
    assert tokens(out) <= limit
    assert record == original  # input not mutated


def test_trim_history_keeps_system_and_final_turn() -> None:
    record = conversation()
    minimal = {"messages": [record["messages"][0], *record["messages"][5:]]}
    out, _ = fit_to_limit(record, limit=tokens(minimal), encoding=ENC, policy="trim-history")
    assert out == minimal
    out, reason = fit_to_limit(record, limit=tokens(minimal) - 1, encoding=ENC,
                               policy="trim-history")
    assert out is None and "still" in reason


def test_trim_history_without_final_answer_rejects() -> None:
    record = {"messages": [msg("user", "q " * 50)]}
    out, reason = fit_to_limit(record, limit=5, encoding=ENC, policy="trim-history")
    assert out is None and "no final assistant answer" in reason


def test_non_chat_formats_are_dropped_when_over() -> None:
    record = {"prompt": "p " * 50, "completion": "c"}
    out, reason = fit_to_limit(record, limit=5, encoding=ENC, policy="trim-history")
    assert out is None and reason


def test_unknown_policy() -> None:
    with pytest.raises(UsageError, match="unknown overflow policy"):
        fit_to_limit(conversation(), limit=5, encoding=ENC, policy="truncate")
