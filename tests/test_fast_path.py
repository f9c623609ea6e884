"""The short way through the record checks must say exactly what the full way says.

`validate` clears a plain chat line in one pass (`fastpath.clears`), rules out secrets on its
JSON bytes (`may_contain_json`) and runs only the checks left over; `convert` asks
`record_errors`, which takes the same pass. Here generated records of every shape (plain
chat, tools, weights, preference, completion, odd roles, empty and whitespace content, special
tokens, secrets, escapes, extra keys, metadata, non-finite numbers) go both ways, under every
target and several rule selections, and must give the same findings, keys and counts, and the
same profile to the report riding along."""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.formats import CHAT, COMPLETION, PREFERENCE
from ftprep.quality.sensitive import LABELS, find_sensitive, may_contain_json
from ftprep.quality.walk import first_non_finite, iter_strings
from ftprep.report.profile import Keep, ProfileObserver
from ftprep.rules import RECORD_CHECKS, RULES, Context, load_rules, record_errors
from ftprep.rules import targets as T
from ftprep.rules.base import PLAIN_SILENT, select_codes
from ftprep.rules.fastpath import (
    COVERED,
    NO_DEMANDS,
    clears,
    clears_but_unknown_keys,
    demands_of,
)
from ftprep.rules.limits import fits_by_size
from ftprep.rules.schema import schema_check
from ftprep.targets import get_target, list_targets
from ftprep.validate import _ChunkChecker, _Plan

load_rules()
TARGETS = [get_target(t.name) for t in list_targets()]
SELECTIONS = [  # (select, ignore, extend_select)
    (None, None, None), (["ALL"], None, None), (None, ["FT9"], None), (None, None, ["FT91"]),
    (None, ["FT3", "FT5"], None),
]

SECRETS = ["jane.doe@example.com", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE",
           "https://bob:hunter2@example.com/x", "-----BEGIN RSA PRIVATE KEY-----\nMIIB",
           "sk-proj-Q7vX2mN9pL4kJ8hG3fD6sA1zR5tY0uW2eB7cV9nM4xK8jH3g", "+1 (415) 555-2671",
           "8.8.8.8", "GB82 WEST 1234 5698 7654 32", "ghp_" + "a" * 36]
text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "\t\n", "\u3000", "\x1c", "\x85", " a ", "hi", "<", "a<|b",
                     "<|endoftext|>", "x <|im_start|> y", "a/b", "x\\y", "é", "\ud800"]),
    st.sampled_from(SECRETS),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), st.sampled_from(SECRETS),
              st.text(max_size=4)),
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), text,
                   st.floats(allow_nan=True, allow_infinity=True))
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["a", "b", "type", "text"]), inner,
                                       max_size=3), max_leaves=6)
role = st.sampled_from(["system", "developer", "user", "assistant", "assistant", "user", "tool",
                        "function", "bot", "", 1, None])
content = st.one_of(text, st.none(), st.just(5),
                    st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}),
                             max_size=2))
message = st.fixed_dictionaries(
    {"role": role},
    optional={"content": content, "name": st.sampled_from(["bob", "a b", "", "x" * 65, 3]),
              "weight": st.sampled_from([0, 1, 1, True, 1.0, 2, None]),
              "id": text, "tool_calls": st.just([{"id": "c", "type": "function", "function": {
                  "name": "f", "arguments": "{}"}}]), "tool_call_id": st.just("c"),
              "refusal": st.sampled_from([None, "no"])},
)
plain_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": text},
    optional={"name": st.sampled_from(["bob", "f_1"]), "weight": st.sampled_from([0, 1])})
messages = st.one_of(st.lists(plain_message, min_size=1, max_size=5),
                     st.lists(st.one_of(plain_message, message), max_size=5),
                     st.lists(message, max_size=3), value)
chat = st.fixed_dictionaries(
    {"messages": messages},
    optional={"metadata": value, "tools": value, "label": text, "functions": value,
              "a b": st.just(1), "preferred_output": st.just([]), "input": st.just({})})
# Conversations in the shape most targets want (an opening system message, user and
# assistant alternating, the assistant last), so that the short way is taken often; then one
# small change of the kind a rule is about (a late system message, a weight, a name, a doubled
# or dropped turn), so that the short way must also decline at the right moment.
words = st.text(min_size=1, max_size=12).filter(lambda t: t.strip() and "<|" not in t)
said = st.one_of(words, words, words, text)


@st.composite
def conversation(draw: st.DrawFn) -> dict:
    out = [{"role": "system", "content": draw(said)}] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 3))):
        out += [{"role": "user", "content": draw(said)},
                {"role": "assistant", "content": draw(said)}]
    change = draw(st.sampled_from(["none", "none", "late", "weight", "name", "double", "drop",
                                   "id", "label"]))
    at = draw(st.integers(0, len(out) - 1))
    if change == "late":
        out.insert(at, {"role": draw(st.sampled_from(["system", "developer"])), "content": "s"})
    elif change == "weight":
        out[at]["weight"] = draw(st.sampled_from([0, 1]))
    elif change == "name":
        out[at]["name"] = draw(st.sampled_from(["bob", "a b"]))
    elif change == "double":
        out.insert(at, dict(out[at]))
    elif change == "drop":
        del out[at]
    elif change == "id":  # a key the format lacks, on each message (FT203 each)
        out = [{**m, "id": f"m{i}"} for i, m in enumerate(out)]
    extra = {"label": "x"} if change == "label" else {}
    extra |= draw(st.one_of(st.just({}), st.fixed_dictionaries({"metadata": value})))
    return {"messages": out, **extra}


preference = st.fixed_dictionaries(
    {"input": st.fixed_dictionaries({"messages": messages}),
     "preferred_output": st.lists(plain_message, max_size=2),
     "non_preferred_output": st.lists(plain_message, max_size=2)},
    optional={"metadata": value})
completion = st.fixed_dictionaries({"prompt": text, "completion": text},
                                   optional={"metadata": value, "x": text})
record = st.one_of(chat, chat, conversation(), conversation(), preference, completion)


def _line(record: Any, style: int) -> bytes:
    """The record as a JSONL line, written the ways files are: compact, spaced, ASCII-only
    (\\uXXXX), with escaped slashes, with a trailing CR."""
    try:
        if style == 0:
            return orjson.dumps(record)
        text = json.dumps(record, ensure_ascii=style == 2)
    except (TypeError, ValueError, orjson.JSONEncodeError):
        return json.dumps(record, ensure_ascii=True).encode()  # NaN: an invalid line
    if style == 3:
        text = text.replace("/", "\\/")
    raw = text.encode("utf-8", "surrogatepass")
    return raw + b"\r" if style == 4 else raw


odd_lines = st.sampled_from([b"", b"  ", b"[1]", b"{", b'"x"', b"\xff\xfe",
                             b'{"messages": NaN}', b"[" * 300 + b"]" * 300,
                             b'{"messages": [{"role": "user", "content": "q"}, {"role": '
                             b'"assistant", "content": "a"}], "metadata": ' + b"[" * 260
                             + b"]" * 260 + b"}"])
lines = st.lists(st.one_of(st.builds(_line, record, st.integers(0, 4)), st.builds(
    _line, conversation(), st.integers(0, 4)), odd_lines),
                 min_size=1, max_size=6)


PROFILE = ProfileObserver("x.jsonl", ["o200k_base"], Keep(frozenset({3, 5}), {"o200k_base": (40,)}, 2))


def _both_ways(plan: _Plan, chunk: bytes) -> None:
    plan = dataclasses.replace(plan, observer=PROFILE)  # the report rides along: same profile
    short, full = _ChunkChecker(plan).check(3, chunk), _ChunkChecker(plan, short=False).check(3, chunk)
    assert short.observed == full.observed
    assert short.findings == full.findings
    assert short.keys == full.keys
    assert (short.examples, short.suppressed, short.last_line) == (
        full.examples, full.suppressed, full.last_line)


def _enabled(target: Any, selection: tuple[Any, Any, Any]) -> frozenset[str]:
    return frozenset(T.enabled_codes(select_codes(RULES, *selection), target))


@settings(max_examples=300, deadline=None)
@given(lines, st.sampled_from(TARGETS), st.sampled_from(SELECTIONS))
def test_validate_short_way_gives_the_full_way_findings(chunk: list[bytes], target: Any,
                                                       selection: tuple[Any, Any, Any]) -> None:
    plan = _Plan(CHAT, None, _enabled(target, selection), None, None, target)
    _both_ways(plan, b"\n".join(chunk))


def test_the_short_way_is_taken_and_still_reports() -> None:
    """The comparison above means something only if the short way runs: plain lines take it,
    and what it leaves to the remaining checks (a secret, a token limit) is still found."""
    from ftprep.models import get_model

    target = get_target("openai")
    plain = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    secret = {"messages": [{"role": "user", "content": "mail jane.doe@example.com"},
                           {"role": "assistant", "content": "ok"}], "metadata": {"k": 1}}
    long = {"messages": [{"role": "user", "content": "word " * 70000},
                         {"role": "assistant", "content": "a"}]}
    plan = _Plan(CHAT, None, _enabled(target, (None, None, None)), get_model("gpt-4o-mini"),
                 "o200k_base", target)
    checker = _ChunkChecker(plan)
    taken = []
    checker._check_record = lambda *a: taken.append(a)  # type: ignore[method-assign]
    result = checker.check(1, b"\n".join(orjson.dumps(r) for r in (plain, secret, long)))
    assert taken == [] and result.examples == 3
    assert [(f.code, f.line, f.path) for f in result.findings] == [
        ("FT911", 2, "messages[0].content"), ("FT701", 3, ""), ("FT702", 3, "messages[1]")]
    _both_ways(plan, b"\n".join(orjson.dumps(r) for r in (plain, secret, long)))


# Limits a few tokens either side of the generated records' sizes: the short way's size test
# (`limits.fits_by_size`) then both spares the counting and declines, near its edge.
@settings(max_examples=300, deadline=None)
@given(lines, st.integers(5, 60), st.sampled_from(["o200k_base", "cl100k_base"]))
def test_validate_short_way_gives_the_full_way_token_findings(chunk: list[bytes], limit: int,
                                                             encoding: str) -> None:
    from ftprep.models import get_model

    model = dataclasses.replace(get_model("gpt-4o-mini"), max_example_tokens=limit,
                                encoding=encoding)
    target = get_target("openai")
    plan = _Plan(CHAT, None, _enabled(target, (None, None, None)), model, encoding, target)
    _both_ways(plan, b"\n".join(chunk))


dense = st.text(alphabet=st.sampled_from([*"!?.,;{}[]<>", "\x00", "\n", "\u00e9", "\U0001f600"]),
                min_size=1, max_size=40)  # few bytes a token, escapes that shrink when decoded


@settings(max_examples=500, deadline=None)
@given(st.one_of(conversation(), st.builds(lambda c: {"messages": [
    {"role": "user", "content": c}, {"role": "assistant", "content": c, "name": "b"}]}, dense)),
       st.integers(0, 4), st.sampled_from(["o200k_base", "cl100k_base"]))
def test_a_record_that_fits_by_size_fits_by_count(rec: dict, style: int, encoding: str) -> None:
    """`fits_by_size` is a bound: a record it lets through has at most `limit` tokens. So at
    the largest limit the record exceeds (its count less one), it must say "count"."""
    from ftprep.tokens import count_totals

    raw = _line(rec, style)
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # NaN or a lone surrogate: such a line never takes the short way
    if clears_but_unknown_keys(decoded) is None:
        return
    total, _ = count_totals(decoded, encoding)
    assert not fits_by_size(total - 1)(raw, decoded)
    assert fits_by_size(len(raw) + 4 * len(decoded["messages"]) + 3)(raw, decoded)


@settings(max_examples=300, deadline=None)
@given(record, st.sampled_from([CHAT, PREFERENCE, COMPLETION]))
def test_record_errors_short_way_gives_the_full_way_errors(rec: dict, fmt: str) -> None:
    ctx = Context(line=0, format=fmt, enabled=frozenset(c for c in RULES if not c.startswith("FT9")))
    hits, plain = schema_check(rec, fmt)
    for formats, check in RECORD_CHECKS:
        if fmt in formats and not (plain and check in PLAIN_SILENT):
            hits.extend(check(rec, ctx))
    assert record_errors(rec, fmt) == [h for h in hits if RULES[h.code].severity.value == "error"]
    if fmt == CHAT and clears(rec):
        assert hits == []  # not even a warning: clears proves every covered check silent


@settings(max_examples=500, deadline=None)
@given(st.one_of(chat, conversation()), st.sampled_from(TARGETS), st.sampled_from(SELECTIONS))
def test_clears_means_no_covered_check_reports(rec: dict, target: Any,
                                              selection: tuple[Any, Any, Any]) -> None:
    enabled = _enabled(target, selection)
    demands = demands_of(target, enabled)
    found = clears_but_unknown_keys(rec, demands)
    assert (found == []) == clears(rec, demands)
    if found is None:
        return
    ctx = Context(line=1, format=CHAT, target=target, enabled=enabled)
    assert schema_check(rec, CHAT) == (found, True)
    for check in COVERED:
        assert [h for h in check(rec, ctx) if h.code in enabled] == [], check.__name__


def test_clears_takes_plain_records_and_declines_the_rest() -> None:
    q, a = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
    assert clears({"messages": [{"role": "system", "content": "s"}, q, a]})
    assert clears({"messages": [q, {**a, "weight": 1}], "metadata": {"x": [1.5]}})
    declined: list[dict[str, Any]] = [
        {"messages": [q]}, {"messages": [q, {**a, "weight": 0}]},
        {"messages": [q, {**a, "content": " "}]}, {"messages": [q, a], "label": 1},
        {"messages": [q, {"role": "system", "content": "late"}, a]},
        {"messages": [q, {**a, "content": "<|endoftext|>"}]},
        {"messages": [{**q, "weight": 1}, a]}, {"messages": [q, {**a, "id": 1}]},
        {"messages": []}]
    for bad in declined:
        assert not clears(bad), bad
    with_id = {"messages": [q, {**a, "id": 1}], "label": "x"}
    assert [(h.code, h.path) for h in clears_but_unknown_keys(with_id) or []] == [
        ("FT203", "messages[1].id"), ("FT203", "label")]
    assert clears_but_unknown_keys({"messages": [q, a], "preferred_output": []}) is None  # FT110
    assert clears_but_unknown_keys({"messages": [q, {**a, "tool_calls": []}]}) is None
    bedrock = demands_of(get_target("bedrock"), None)
    assert bedrock is not NO_DEMANDS and not clears({"messages": [a, q, a]}, bedrock)
    assert demands_of(get_target("openai"), _enabled(get_target("openai"),
                                                     (None, None, None))) is NO_DEMANDS


def test_every_check_the_short_way_skips_is_one_it_covers_or_plain_silent() -> None:
    """A new chat check is not covered until `clears` learns it: it runs after the pass."""
    chat_checks = {c for formats, c in RECORD_CHECKS if CHAT in formats}
    assert chat_checks >= COVERED
    rest = {c.__name__ for c in chat_checks - COVERED - PLAIN_SILENT}
    assert rest == {"token_limit", "sensitive_content"}


kinds = st.frozensets(st.sampled_from(sorted(LABELS)), min_size=1)


@settings(max_examples=300, deadline=None)
@given(st.one_of(chat, preference, completion), st.integers(0, 4), kinds)
def test_json_screen_never_rules_out_a_finding(rec: dict, style: int, wanted: frozenset[str]) -> None:
    raw = _line(rec, style)
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # not a line validate decodes
    if any(find_sensitive(t, wanted) for _, t in iter_strings(rec)):
        assert may_contain_json(raw, wanted)


def test_json_screen_sees_through_the_common_escapes() -> None:
    card = {"messages": [{"role": "user", "content": "pay\n4111 1111 1111 1111\t\"now\""}]}
    assert may_contain_json(json.dumps(card).encode(), frozenset({"card_number"}))
    clean = {"messages": [{"role": "user", "content": "line one\nline \"two\"\\"}]}
    assert not may_contain_json(json.dumps(clean).encode(), frozenset({"email", "card_number"}))
    assert may_contain_json(b'{"a": "x\\u0040y.com"}', frozenset({"email"}))  # \u: look closer


numbers = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=2)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner,
                                                                max_size=3), max_leaves=12)


class _Float(float):
    pass


@settings(max_examples=400, deadline=None)
@given(numbers)
def test_first_non_finite_finds_the_first_one_with_its_path(value: Any) -> None:
    expected = None
    for path, leaf in _leaves(value, ""):
        if isinstance(leaf, float) and not math.isfinite(leaf):
            expected = (path, leaf)
            break
    found = first_non_finite(value)
    assert (found is None) == (expected is None)
    if expected is not None and found is not None:
        assert found[0] == expected[0] and str(found[1]) == str(expected[1])


def _leaves(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


@pytest.mark.parametrize("bad", [_Float("nan"), float("-inf")])
def test_first_non_finite_sees_float_subclasses(bad: float) -> None:
    assert first_non_finite({"m": [{"w": 1, "x": "s"}, {"y": bad}]}) == ("m[1].y", bad)
    assert first_non_finite({"m": ["s", True, 1, None]}) is None


digits_text = st.text(alphabet=st.sampled_from([*"0123456789 --x.", "\u0664", "\u0661", "\u00e9"]),
                      max_size=24)


@settings(max_examples=400, deadline=None)
@given(digits_text)
def test_card_screen_holds_every_card_hint(text: str) -> None:
    """The card screen is the hint `_cards` starts from, on bytes: wherever the hint matches
    (ASCII or other scripts' digits), the screen must say "look closer"."""
    from ftprep.quality.sensitive import _CARD_HINT, may_contain

    if _CARD_HINT.search(text):
        assert may_contain(text, frozenset({"card_number"}))
        assert may_contain_json(orjson.dumps({"content": text}), frozenset({"card_number"}))
