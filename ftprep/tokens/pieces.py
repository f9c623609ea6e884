"""Counting the tokens of a huge string without holding its token list.

`encode_ordinary` of a 100 MB string builds a list of ~25M ints (2.8 GB as Python ints).
tiktoken first cuts text into pre-tokenizer pieces with its regex, then encodes each piece
on its own, so the count of a text is the sum of the counts of its parts whenever the parts
are cut at a piece boundary that no pattern alternative can cross and where no earlier match
depends on what follows. Two such cuts, for the cl100k/o200k/p50k/r50k patterns:

* after a line feed that is followed by an ASCII letter (`...\\n|Word`): a letter piece may
  start with one optional character that is never CR/LF, and the newline alternatives end at
  the first character that is not CR/LF/whitespace;
* before a space that sits between two ASCII letters (`word| word`): letter pieces take no
  space inside, the space only as the optional first character of the next piece, and a
  letter run ends at a space without any lookahead.

Text without such a cut (one 100 MB run of digits or CJK without spaces) is encoded whole,
as before. `tests/test_tokens_pieces.py` checks the equality against tiktoken itself.
"""
from __future__ import annotations

import re
from collections.abc import Callable

PIECE_CHARS = 1 << 20  # characters per part: ~250k tokens, a few MB of ints at a time
SAFE_CUT = re.compile(r"\n(?=[A-Za-z])|(?<=[A-Za-z])(?= [A-Za-z])")


def count_in_pieces(encode: Callable[[str], list[int]], text: str,
                    piece_chars: int = PIECE_CHARS) -> int:
    """`len(encode(text))`, with at most about `piece_chars` characters encoded at once."""
    total, start = 0, 0
    while len(text) - start > piece_chars:
        match = SAFE_CUT.search(text, start + piece_chars)
        if match is None:
            break
        cut = match.end()
        total += len(encode(text[start:cut]))
        start = cut
    return total + len(encode(text[start:] if start else text))
