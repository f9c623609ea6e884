"""Tokenizers and token counts, in two halves as tiktoken separates `load.py` from `core.py`:

- `ftprep.tokens.load`: finding OpenAI's BPE files offline (tiktoken's cache, the `bpe-openai`
  package, an opt-in download), each verified against its published sha256 (`get_encoding`);
- `ftprep.tokens.core`: the cookbook's per-example formula (`count_example`, `count_record`).

The public names of both are re-exported here, so ``from ftprep.tokens import count_example,
get_encoding`` keeps working.
"""
from __future__ import annotations

from ftprep.tokens.core import (
    ExampleTokens,
    clear_counters,
    count_example,
    count_record,
    count_totals,
    plain_chat_counter,
    prepare_counter,
)
from ftprep.tokens.load import (
    ALLOW_DOWNLOAD_ENV,
    SUPPORTED_ENCODINGS,
    TokenizerUnavailable,
    bundled_bpe_path,
    clear_encodings,
    get_encoding,
    read_bpe_bytes,
)


def clear_caches() -> None:
    """Forget built encodings and memoised string counts (tests; after changing sources)."""
    clear_encodings()
    clear_counters()


__all__ = [
    "ALLOW_DOWNLOAD_ENV",
    "SUPPORTED_ENCODINGS",
    "ExampleTokens",
    "TokenizerUnavailable",
    "bundled_bpe_path",
    "clear_caches",
    "count_example",
    "count_record",
    "count_totals",
    "get_encoding",
    "plain_chat_counter",
    "prepare_counter",
    "read_bpe_bytes",
]
