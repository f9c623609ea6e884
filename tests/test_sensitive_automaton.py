"""The RE2 screen (`sensitive._automaton`) must pass exactly the bytes the standard-library
screens pass: it replaces them where google-re2 is installed, and they stay the fallback."""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.quality import sensitive as S

# Bytes near every edge of the screens: token characters, digits, separators, the literals'
# pieces, escapes and UTF-8 lead/continuation bytes (non-ASCII counts as a digit for cards).
_PIECES = [*b"aZ09_+/=-. :@\\u\n\"", 0x80, 0xC3, 0xA9, 0xFF]
_WORDS = [b"PRIVATE KEY", b"PuTTY", b"PRIVATE KE", b"://", b":/", b"\\u", b"\\/", b"a" * 15,
          b"A1_+/=-" * 2, b"4111", b"4111 1111", b"4111--1111", b"\xd9\xa4\xd9\xa1"]
raw = st.lists(st.sampled_from(_PIECES).map(lambda b: bytes([b])) | st.sampled_from(_WORDS),
               max_size=30).map(b"".join)
kinds = st.none() | st.frozensets(st.sampled_from(sorted(S.LABELS)))
json_kinds = st.frozensets(st.sampled_from(sorted(S.JSON_SCREENED)))


@settings(max_examples=1500, deadline=None)
@given(raw, kinds)
def test_automaton_passes_what_the_byte_screens_pass(data: bytes, wanted: frozenset[str] | None) -> None:
    search = S._automaton(wanted, json=False)
    expected = S._stdlib_bytes_may_contain(data, wanted)
    assert (search is not None and search(data) is not None) == expected
    assert S._bytes_may_contain(data, wanted) == expected


@settings(max_examples=1500, deadline=None)
@given(raw, json_kinds)
def test_automaton_passes_what_the_json_screen_passes(data: bytes, wanted: frozenset[str]) -> None:
    assert S.may_contain_json(data, wanted) == S._stdlib_may_contain_json(data, wanted)


def test_the_automaton_runs_where_google_re2_is_installed() -> None:
    assert S._automaton(S.JSON_SCREENED, json=True) is not None  # google-re2 is a dependency


def test_without_google_re2_the_standard_library_screens_run(monkeypatch: pytest.MonkeyPatch) -> None:
    S._automaton.cache_clear()
    monkeypatch.setitem(sys.modules, "re2", None)  # import re2 now raises ImportError
    try:
        assert S._automaton(None, json=False) is None
        assert S.may_contain_json(b'{"a": "x@y"}', S.JSON_SCREENED)
        assert not S.may_contain_json(b'{"a": "short words only"}', S.JSON_SCREENED)
        assert S.may_contain("4111 1111 1111 1111")
    finally:
        S._automaton.cache_clear()  # later tests get the RE2 screen again
