"""The Rust counter (`ftprep.tokens.fast`) must give tiktoken's numbers exactly: tiktoken stays
the reference. Hypothesis over random Unicode, every special token's text, whitespace runs,
and lone surrogates (which Rust cannot take: the fallback must count them like tiktoken)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.tokens import get_encoding
from ftprep.tokens.core import _string_counter
from ftprep.tokens.fast import rust_count

ENCODINGS = ("cl100k_base", "o200k_base")


@pytest.fixture(scope="module", params=ENCODINGS)
def pair(request: pytest.FixtureRequest) -> tuple:
    name = request.param
    fast = rust_count(name)
    assert fast is not None, f"the bpe-openai binding should count {name}"
    return name, fast, get_encoding(name)


_pieces = st.one_of(
    st.text(max_size=60),
    st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "   x", "'s", "'LL"]),
    st.sampled_from(["<|endoftext|>", "<|fim_prefix|>", "<|im_start|>", "<|endofprompt|>"]),
    st.text(alphabet="数据Ünïcödé🙂👩‍👩‍👧 \u200b\u0301", max_size=30),
    st.integers(0, 10**12).map(str),
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_pieces, max_size=8))
def test_rust_equals_tiktoken(pair: tuple, parts: list[str]) -> None:
    _, fast, encoding = pair
    text = "".join(parts)
    assert fast(text) == len(encoding.encode_ordinary(text))


def test_long_whitespace_runs_and_repeats(pair: tuple) -> None:
    _, fast, encoding = pair
    for text in (" " * 5000, "\n" * 3000 + "x", "ab" * 20000, "1" * 9999, "\t \n" * 1000):
        assert fast(text) == len(encoding.encode_ordinary(text))


@given(text=st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                    min_size=1, max_size=5).map(lambda s: f"a{s}b"))
@settings(max_examples=50, deadline=None)
def test_lone_surrogates_fall_back_to_tiktoken(text: str) -> None:
    for name in ENCODINGS:
        assert _string_counter(name)(text) == len(get_encoding(name).encode_ordinary(text))


def test_the_package_init_is_not_run() -> None:
    # Importing bpe_openai itself parses every BPE file (~0.5 s, 66 MB): only the binding loads.
    code = ("import sys; from ftprep.tokens.fast import rust_count; "
            "assert rust_count('o200k_base')('hi there') == 2; print('bpe_openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPREP_NO_RUST_BPE", "1")
    assert rust_count("o200k_base") is None
    assert _string_counter("o200k_base")("hello world") == 2
