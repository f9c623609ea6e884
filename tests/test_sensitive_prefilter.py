"""The record-level prefilter of the FT9xx rules (`may_contain` over a record's joined strings)
must never rule out text in which `find_sensitive` finds something."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.quality.sensitive import LABELS, find_sensitive, may_contain
from ftprep.quality.walk import iter_strings, string_values

SAMPLES = [
    "sk-proj-Q7vX2mN9pL4kJ8hG3fD6sA1zR5tY0uW2eB7cV9nM4xK8jH3gF6dS1aP5oI2uY7t",
    "AKIAIOSFODNN7EXAMPLE", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111",
    "jane.doe@example.com", "https://bob:hunter2@example.com/x", "GB82 WEST 1234 5698 7654 32",
    "8.8.8.8", "2001:4860:4860::8888", "+1 (415) 555-2671", "(415) 555-2671",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "\u0664\u0661\u0661\u0661 " * 3 + "\u0664\u0661\u0661\u0661",  # Arabic-Indic digits: `\d` matches them
]
# Fillers that look like near misses (short tokens, numbers, separators, other scripts).
filler = st.text(alphabet=st.sampled_from([*"abcXYZ019 -.:@/+=_()#$\n", "\u00e9", "\u0663", "\u4e2d"]),
                 max_size=40)
text = st.builds(lambda a, s, b: a + s + b, filler, st.sampled_from(SAMPLES) | filler, filler)
kinds = st.none() | st.frozensets(st.sampled_from(sorted(LABELS)), min_size=1)


@settings(max_examples=400, deadline=None)
@given(st.lists(text, min_size=1, max_size=4), kinds)
def test_prefilter_never_rules_out_a_finding(texts: list[str], wanted: frozenset[str] | None) -> None:
    if any(find_sensitive(t, wanted) for t in texts):
        assert may_contain("\n".join(texts), wanted)


def test_every_sample_is_found_and_passes_the_prefilter() -> None:
    for sample in SAMPLES[:-1]:
        assert find_sensitive(sample), sample
        assert may_contain(f"before {sample} after"), sample


def test_plain_text_is_ruled_out() -> None:
    assert not may_contain("Your order #48213 ships on 12/11 for $59.90, thanks!\nOk.",
                           frozenset({"email", "card_number", "openai_key", "private_key"}))


def test_string_values_are_those_of_iter_strings() -> None:
    record = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
              "metadata": {"n": 1, "tags": ["x", None, "y"]}}
    assert sorted(string_values(record)) == sorted(t for _, t in iter_strings(record))
