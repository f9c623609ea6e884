"""Decoded text lines: incremental decoding (BOM-aware) that locates a decode failure by
physical line and byte offset, and splits lines at LF (or also CR / CRLF)."""
from __future__ import annotations

import codecs
import re
import sys
import zlib
from collections.abc import Iterator
from typing import IO

from ftprep.errors import InputError
from ftprep.io.jsonl import open_binary

# Longest first: a UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNICODE_FAMILY = {"utf-8", "utf-8-sig", "utf-16", "utf-32"}
BLOCK = 1 << 16  # bytes per read: bounded memory (tests shrink it to split lines across reads)
# A physical line ends at CRLF, CR or LF (classic-Mac/Excel exports use bare CR).
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


def iter_text_lines(
    path: str, encoding: str | None = None, *, universal: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield (physical line number, text including its line end) decoded incrementally.
    A byte order mark picks UTF-8/16/32 unless a non-Unicode encoding was asked for.
    Lines end at '\\n' only, or also at a bare '\\r' when `universal` (CSV, JSONL)."""
    f = open_binary(path)
    try:
        head = f.read(4)
        name, skip = _sniff_bom(head, encoding)
        yield from _decode_lines(f, head[skip:], skip, name, path, universal)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"read failed: {e}", path=path) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _sniff_bom(head: bytes, encoding: str | None) -> tuple[str, int]:
    name = codecs.lookup(encoding or "utf-8").name
    if name not in _UNICODE_FAMILY:
        return name, 0
    for bom, bom_encoding in _BOMS:
        if head.startswith(bom):
            return bom_encoding, len(bom)
    return name, 0


def iter_text_blocks(path: str, encoding: str | None = None) -> Iterator[str]:
    """Decoded text in blocks of about BLOCK characters, lines not joined: for readers that
    find their own structure (a JSON array on one 80 MB line stays a bounded window)."""
    f = open_binary(path)
    try:
        head = f.read(4)
        name, skip = _sniff_bom(head, encoding)
        yield from _decode_blocks(f, head[skip:], skip, name, path, universal=False)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"read failed: {e}", path=path) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _decode_blocks(
    f: IO[bytes], first: bytes, offset: int, name: str, path: str, universal: bool
) -> Iterator[str]:
    """Incrementally decoded text, block by block; a decode failure names its line."""
    decoder = codecs.getincrementaldecoder(name)()
    breaks, after_cr, block = 0, False, first or f.read(BLOCK)
    while True:
        final = not block
        held = len(decoder.getstate()[0])  # bytes kept back from the previous block
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as e:
            # e.object is the held-back bytes followed by this block.
            at_byte = offset - held + e.start
            good = bytes(e.object[: e.start]).decode(name, errors="replace")
            at_line = 1 + breaks + _count_lines(good, universal) - (
                universal and after_cr and good.startswith("\n"))
            raise InputError(
                f"cannot decode as {name} at byte offset {at_byte} ({e.reason}); "
                "pass the right --encoding",
                path=path,
                line=at_line,
            ) from None
        offset += len(block)
        if text:
            # a CRLF cut between two blocks is one line break, not two
            breaks += _count_lines(text, universal) - (
                universal and after_cr and text.startswith("\n"))
            after_cr = text.endswith("\r")
            yield text
        if final:
            return
        block = f.read(BLOCK)


def _decode_lines(
    f: IO[bytes], first: bytes, offset: int, name: str, path: str, universal: bool = False
) -> Iterator[tuple[int, str]]:
    """Split on '\\n' (and CR when `universal`) only: other Unicode line breaks are content,
    not physical lines. The unfinished line is kept as a list of pieces, joined once when it
    ends: a line of n blocks costs O(n) copying, not O(n^2)."""
    line, pending = 1, list[str]()
    for text in _decode_blocks(f, first, offset, name, path, universal):
        if universal and pending and pending[-1].endswith("\r"):
            pending[-1], text = pending[-1][:-1], "\r" + text  # a held-back CR may start a CRLF
        lines, rest = _split_lines(text, universal)
        if lines:
            lines[0] = "".join([*pending, lines[0]])
            pending = []
        if rest:
            pending.append(rest)
        elif universal and lines and lines[-1].endswith("\r"):
            pending.append(lines.pop())  # the '\\n' of a CRLF may be in the next block
        for piece in lines:
            yield line, piece
            line += 1
    if pending:
        yield line, "".join(pending)


def _split_lines(text: str, universal: bool) -> tuple[list[str], str]:
    """(complete lines of `text` with their ends, the unfinished rest)."""
    if universal:
        parts = _LINE_BREAK.split(text)
        lines = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    else:
        parts = text.split("\n")
        lines = [piece + "\n" for piece in parts[:-1]]
    return lines, parts[-1]


def _count_lines(text: str, universal: bool) -> int:
    if not universal:
        return text.count("\n")
    return text.count("\n") + text.count("\r") - text.count("\r\n")
