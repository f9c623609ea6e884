"""One physical line of many blocks (an 80 MB JSON array on one line, a huge JSONL record):
the readers do linear work and the JSON array reader holds a bounded window. Time is measured
by `make bench` (bench/bench_long_line.py); these tests check the work itself."""
from __future__ import annotations

from pathlib import Path

import pytest

from ftprep.io import jsonl
from ftprep.io.readers import json_array, open_table, text_lines

ELEMENT = '{"q": "question", "a": "answer"}'


def test_a_one_line_json_array_is_read_through_a_bounded_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_lines, "BLOCK", 256)
    n = 20_000  # ~700 KB on one line: 2,700 blocks
    path = tmp_path / "a.json"
    path.write_text("[" + ",".join([ELEMENT] * n) + "]")
    widest = 0
    original = json_array._JsonStream._more

    def spy(self: json_array._JsonStream, at_least: int | None = None) -> bool:
        nonlocal widest
        more = original(self, at_least)
        widest = max(widest, len(self._buf))
        return more

    monkeypatch.setattr(json_array._JsonStream, "_more", spy)
    rows = list(open_table(path).rows)
    assert len(rows) == n and rows[-1].values == {"q": "question", "a": "answer"}
    assert widest <= 3 * 256  # a window of about one block, not the 700 KB line


class _Blocks:
    """A file that hands out fixed blocks and counts the bytes it hands out."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.pos = data, size, 0

    def read(self, n: int = -1) -> bytes:
        block = self.data[self.pos:self.pos + min(n, self.size)]
        self.pos += len(block)
        return block


@pytest.mark.parametrize("universal", [False, True])
def test_a_long_line_is_assembled_once_and_line_ends_survive_block_edges(
        universal: bool) -> None:
    # CR, LF and CRLF at every offset around the 7-character block edges
    text = "a" * 500 + "\r\n" + "b\rc\n\r\nd" * 9 + "e" * 300 + "\n" + "tail"
    lines = list(text_lines._decode_lines(_Blocks(text.encode(), 7), b"", 0, "utf-8", "x",
                                          universal))
    expected = text.splitlines(keepends=True) if universal else text.split("\n")
    if not universal:
        expected = [p + "\n" for p in expected[:-1]] + [expected[-1]]
    assert [t for _, t in lines] == expected
    assert [n for n, _ in lines] == list(range(1, len(expected) + 1))


def test_line_chunks_of_a_line_longer_than_many_blocks(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    body = b'{"x": "' + b"y" * 100_000 + b'"}'
    path.write_bytes(b"\xef\xbb\xbf" + body + b"\n" + b"{}\n" + body)
    chunks = list(jsonl.iter_line_chunks(path, size=64))
    lines = [line for _, chunk in chunks for line in chunk.split(b"\n")]
    assert lines == [body, b"{}", body]
    assert [first for first, _ in chunks] == [1, 3]  # body+{} in one chunk, then body
