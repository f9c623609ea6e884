"""count_in_pieces gives exactly tiktoken's count: property-tested with tiny parts (so
nearly every safe cut is used) over texts built from the characters that decide piece
boundaries, for every bundled OpenAI encoding."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.tokens import get_encoding
from ftprep.tokens.pieces import count_in_pieces

ENCODINGS = ["o200k_base", "cl100k_base"]
ALPHABET = ["a", "Z", "word", " ", "  ", "\n", "\r\n", "\n\n", "\t", "'s", "'T", "1", "123",
            "!", "?\n", "é", "中文", "\u00a0", "ǅ", "\u0301", "/", "<|endoftext|>"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(text=texts, piece=st.integers(1, 12))
def test_the_sum_of_the_parts_is_tiktokens_count(name: str, text: str, piece: int) -> None:
    encode = get_encoding(name).encode_ordinary
    assert count_in_pieces(encode, text, piece) == len(encode(text))


@pytest.mark.parametrize("name", ENCODINGS)
def test_a_long_text_is_encoded_in_bounded_parts(name: str) -> None:
    encoding = get_encoding(name)
    words = ["alpha", "Beta", "gamma's", "δέλτα", "12345", "!!", "中文", "x"]
    text = "".join(words[i % 8] + (" " if i % 5 else "\n") for i in range(60_000))
    widest = 0

    def encode(s: str) -> list[int]:
        nonlocal widest
        widest = max(widest, len(s))
        return encoding.encode_ordinary(s)

    assert count_in_pieces(encode, text, 4096) == len(encoding.encode_ordinary(text))
    assert widest < 4096 + 64  # never the whole ~450K-character text at once
