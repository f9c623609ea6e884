"""Streaming JSONL reading: one `JsonLine` per physical line, never the whole file in memory.

Decoding problems are reported per line (not raised) so that validation can report all of them.
"""
from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ftprep.errors import InputError

BLANK = "blank"
BAD_UTF8 = "utf8"
BAD_JSON = "json"

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class JsonLine:
    """A physical line of a JSONL file. Exactly one of `value` / `error` is meaningful."""

    line: int  # 1-based
    value: Any
    error: str | None = None  # BLANK, BAD_UTF8 or BAD_JSON
    detail: str = ""  # human detail for the error (position, parser message)
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file (or '-' for stdin) for binary reading, transparently un-gzipping."""
    if str(path) == "-":
        return sys.stdin.buffer
    from ftprep.io.writer import finish_interrupted_commit  # writer imports this module

    # A set that a killed run had committed is completed before any of it is read.
    finish_interrupted_commit(Path(path).parent)
    try:
        f = open(path, "rb")  # noqa: SIM115 - returned to caller
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path=str(path)) from None
    except OSError as e:
        raise InputError(e.strerror or str(e), path=str(path)) from None
    if f.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_line(raw: bytes, line: int) -> JsonLine:
    """Parse one line (without its newline). Fast path: orjson; slow path explains failures."""
    try:
        return JsonLine(line, orjson.loads(raw), raw=raw)
    except orjson.JSONDecodeError:
        pass
    if not raw.strip():
        return JsonLine(line, None, BLANK, "blank line", raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return JsonLine(line, None, BAD_UTF8, f"invalid UTF-8 at byte {e.start}", raw)
    try:  # stdlib accepts lone surrogates that orjson refuses; both are legal JSON
        return JsonLine(line, json.loads(text, parse_constant=_reject_constant), raw=raw)
    except RecursionError:  # nesting deeper than orjson's limit and Python's stack
        return JsonLine(line, None, BAD_JSON, "JSON nested too deeply", raw)
    except ValueError as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        col = f" at column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        return JsonLine(line, None, BAD_JSON, f"{msg}{col}", raw)


def iter_raw_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes without line ending). Strips a leading UTF-8 BOM."""
    f = open_binary(path)
    try:
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            yield n, raw.rstrip(b"\r\n")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"read failed: {e}", path=str(path)) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def iter_json_lines(path: str | Path) -> Iterator[JsonLine]:
    """Yield every physical line of a JSONL file as a parsed `JsonLine`."""
    for n, raw in iter_raw_lines(path):
        yield parse_line(raw, n)


def iter_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield (line, value) for the JSON lines of a file; blank lines are skipped, any other
    undecodable line raises `InputError` naming it. For commands that need clean input."""
    for jl in iter_json_lines(path):
        if jl.error == BLANK:
            continue
        if jl.error:
            raise InputError(
                f"{jl.detail} (run `ftprep validate` for all problems)",
                path=str(path),
                line=jl.line,
            )
        yield jl.line, jl.value


def iter_line_chunks(path: str | Path, size: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, whole lines joined by \\n) in blocks of about `size` bytes,
    for handing raw lines to worker processes. Splitting each chunk on b"\\n" (and
    stripping a trailing \\r) gives exactly the lines of `iter_raw_lines`, BOM dropped."""
    f = open_binary(path)
    line, rest = 1, b""
    try:
        while True:
            block = f.read(size)
            if line == 1 and not rest and block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
            if not block:
                break
            data = rest + block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data  # one line longer than a block: keep reading
                continue
            chunk, rest = data[:cut], data[cut + 1:]
            yield line, chunk
            line += chunk.count(b"\n") + 1
        if rest:
            yield line, rest
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"read failed: {e}", path=str(path)) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def batched(it: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Group an iterator into lists of at most `size` items (itertools.batched is 3.12+)."""
    batch: list[Any] = []
    for item in it:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def dumps_line(record: Any) -> bytes:
    """Serialise one record as a JSONL line: UTF-8, no ASCII escaping, key order preserved."""
    return orjson.dumps(record) + b"\n"


__all__ = [
    "JsonLine",
    "batched",
    "dumps_line",
    "iter_json_lines",
    "iter_line_chunks",
    "iter_raw_lines",
    "iter_records",
    "open_binary",
    "parse_line",
]
