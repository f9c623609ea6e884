"""JSON arrays (or concatenated top-level objects), decoded one element at a time."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers import text_lines
from ftprep.io.readers.json_objects import (
    DUPLICATE_KEY,
    DuplicateKeys,
    object_row,
    with_first_keys,
)
from ftprep.io.readers.rows import Row


def json_rows(path: str, encoding: str | None) -> Iterator[Any]:
    yield from with_first_keys(_json_array_records(path, encoding), path)


def _json_array_records(path: str, encoding: str | None) -> Iterator[Row]:
    """A JSON array read element by element (or concatenated top-level objects, which is how a
    JSONL file saved as .json looks). Memory holds one element at a time."""
    stream = _JsonStream(text_lines.iter_text_blocks(path, encoding), path)
    opener = stream.peek_char()
    if opener is None:
        return
    if opener == "[":
        stream.advance(1)
    elif opener != "{":
        raise InputError("expected a JSON array or objects", path=path, line=stream.line_at())
    n = 0
    while True:
        char = stream.peek_char()
        if char is None:
            if opener == "[":
                raise InputError("unterminated JSON array", path=path, line=stream.line_at())
            return
        if opener == "[" and char == "]":
            return
        n += 1
        line = stream.line_at()
        value = stream.decode_value()
        repeated = stream.duplicates.problem()
        if repeated:
            yield Row(n, line, {"_raw": value}, DUPLICATE_KEY, repeated)
        else:
            yield object_row(value, n, line)
        if opener == "[":
            stream.expect_separator()


class _JsonStream:
    """A sliding window of decoded text over which values are decoded one at a time."""

    def __init__(self, blocks: Iterator[str], path: str) -> None:
        self._blocks = blocks
        self._path = path
        self._buf = ""
        self._pos = 0
        self._base_line = 1  # line number of _buf[0]
        self._counted = (0, 1)  # (position, its line): counting resumes there, not from 0
        self._eof = False
        self.duplicates = DuplicateKeys()
        self._decoder = json.JSONDecoder(object_pairs_hook=self.duplicates)

    def _more(self, at_least: int | None = None) -> bool:
        """Append at least `at_least` (default: one block of) decoded text; False at the end
        of the input. The block size is read at call time, not bound at import."""
        at_least = at_least or text_lines.BLOCK
        if self._eof:
            return False
        # Drop what is consumed so the window never grows beyond the current value.
        self._base_line = self.line_at()
        self._buf, self._pos = self._buf[self._pos:], 0
        self._counted = (0, self._base_line)
        parts, size = [], 0
        for text in self._blocks:
            parts.append(text)
            size += len(text)
            if size >= at_least:
                break
        else:
            self._eof = True
        self._buf += "".join(parts)
        return bool(parts)

    def line_at(self) -> int:
        start, line = self._counted
        if self._pos < start:  # never happens in practice; stay correct anyway
            start, line = 0, self._base_line
        line += self._buf.count("\n", start, self._pos)
        self._counted = (self._pos, line)
        return line

    def advance(self, n: int) -> None:
        self._pos += n

    def peek_char(self) -> str | None:
        """The next non-whitespace character, without consuming it; None at the end."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return None

    def decode_value(self) -> Any:
        want = text_lines.BLOCK
        while True:
            self.duplicates.problem()  # forget what a cut-short earlier attempt saw
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except RecursionError:
                raise InputError("invalid JSON: nested too deeply", path=self._path,
                                 line=self.line_at()) from None
            except json.JSONDecodeError as e:
                if self._more(want):
                    want *= 2  # doubling keeps re-parsing of a huge element linear overall
                    continue
                line = self._base_line + self._buf.count("\n", 0, e.pos)
                raise InputError(f"invalid JSON: {e.msg}", path=self._path, line=line) from None
            # A value that ends exactly at the window's edge may be cut short (a number).
            if end == len(self._buf) and self._more(want):
                continue
            self._pos = end
            return value

    def expect_separator(self) -> None:
        char = self.peek_char()
        if char == ",":
            self._pos += 1
        elif char != "]":
            found = "end of file" if char is None else repr(char)
            raise InputError(
                f"invalid JSON: expected ',' or ']' after an element, found {found}",
                path=self._path,
                line=self.line_at(),
            )
