"""Streaming JSONL reading: one `JsonLine` per physical line, never the whole file in memory.

Decoding problems are reported per line (not raised) so that validation can report all of them.
This is the one reading of a JSONL file: validate, count and split take their lines from
`iter_line_chunks` + `parse_chunk` (or `iter_json_lines`, built on them), so they agree on
every line and word each problem the same way:
- lines end in \\n (a \\r before it is dropped); a bare \\r is not a line end, and a line
  holding one is reported as such (`ftprep convert` rewrites such files);
- the text is UTF-8 (a UTF-8 BOM is dropped); a file starting with a UTF-16/32 byte-order
  mark is reported as that encoding at line 1;
- a string with a lone surrogate (`"\\ud800"`, legal JSON escape syntax) is not text UTF-8
  can carry: it is reported like invalid UTF-8, as convert rejects it.
"""
from __future__ import annotations

import gzip
import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from ftprep import progress
from ftprep.errors import InputError
from ftprep.formats import json_type

BLANK = "blank"
BAD_UTF8 = "utf8"
BAD_JSON = "json"
NOT_OBJECT = "object"  # valid JSON, but not an object (only from parse_chunk / iter_json_lines)

_GZIP_MAGIC = b"\x1f\x8b"
# Deeper JSON is refused as one finding: no fine-tuning record nests this far (tool schemas
# 200 deep stay legal), and the recursive steps after parsing (schema checks, canonical
# JSON, tokens) would exhaust Python's stack on it instead of giving a verdict.
MAX_DEPTH = 250


@dataclass(frozen=True, slots=True)
class JsonLine:
    """A physical line of a JSONL file. Exactly one of `value` / `error` is meaningful."""

    line: int  # 1-based
    value: Any
    error: str | None = None  # BLANK, BAD_UTF8, BAD_JSON or NOT_OBJECT
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
    f = progress.watch(f, path)  # counted by the CLI's progress bar when one is shown
    if f.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """A JSON number Python would read as infinity (1e999) is refused, as orjson refuses it."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is beyond a double (it would be Infinity)")
    return value


_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def wide_encoding(first_line: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when a file's first bytes are that encoding's byte-order mark."""
    return next((name for bom, name in _WIDE_BOMS if first_line.startswith(bom)), None)


def decoded_object(raw: bytes) -> dict | None:
    """The JSON object on a line as orjson reads it (a trailing \r is JSON whitespace), or
    None: not valid JSON, or not an object. The hot loops of validate, count and the report
    take their short way on the object and hand anything else to `parse_line`, which words
    the problem. Depth is not checked here (the callers know when it can matter)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if value.__class__ is dict else None


def parse_line(raw: bytes, line: int) -> JsonLine:
    """Parse one line (without its newline). Fast path: orjson; slow path explains failures."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if too_deep(raw, value):
            return JsonLine(line, None, BAD_JSON, f"JSON nested deeper than {MAX_DEPTH} levels",
                            raw)
        return JsonLine(line, value, raw=raw)
    if not raw.strip():
        return JsonLine(line, None, BLANK, "blank line", raw)
    wide = wide_encoding(raw) if line == 1 else None
    if wide:
        return JsonLine(line, None, BAD_UTF8, f"the file is {wide} (it starts with a {wide} "
                        "byte-order mark); JSONL must be UTF-8: `ftprep convert` re-encodes it", raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return JsonLine(line, None, BAD_UTF8, f"invalid UTF-8 at byte {e.start}", raw)
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:  # nesting deeper than orjson's limit and Python's stack
        return JsonLine(line, None, BAD_JSON, f"JSON nested deeper than {MAX_DEPTH} levels", raw)
    except ValueError as e:
        return JsonLine(line, None, BAD_JSON, _json_error(e, raw), raw)
    if too_deep(raw, value):  # before anything that recurses over the value
        return JsonLine(line, None, BAD_JSON, f"JSON nested deeper than {MAX_DEPTH} levels", raw)
    surrogate = _lone_surrogate(value)  # orjson refuses them; stdlib decodes them
    if surrogate:
        return JsonLine(line, None, BAD_UTF8, surrogate, raw)
    return JsonLine(line, value, raw=raw)


def _json_error(e: ValueError, raw: bytes) -> str:
    if not isinstance(e, json.JSONDecodeError):
        return str(e)
    if b"\r" in raw:  # a bare CR joined lines that were meant to be separate
        joined = raw.count(b"\r") + 1
        return (f"bare CR (\\r) line ends: {joined} lines run together here; "
                "JSONL lines end in \\n (`ftprep convert` rewrites the file)")
    return f"{e.msg} at column {e.colno}"


def _lone_surrogate(value: Any) -> str | None:
    """Why `value` cannot be written as UTF-8 (a lone surrogate in a string or key), or None.
    Only called on the slow path, after orjson refused the line."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return (f"lone surrogate \\u{ord(e.object[e.start]):04x} in a string: not text UTF-8 can "
                "carry (a broken emoji or a cut escape)")
    return None


def a_kind(value: Any) -> str:
    """'an array', 'a string', 'null'... for messages about a line's value."""
    name = json_type(value)
    return name if name == "null" else f"{'an' if name[0] in 'ao' else 'a'} {name}"


def as_record_line(jl: JsonLine) -> JsonLine:
    """A decoded line that is not a JSON object becomes a NOT_OBJECT error (same wording in
    every command)."""
    if jl.error is None and not isinstance(jl.value, dict):
        return JsonLine(jl.line, jl.value, NOT_OBJECT,
                        f"expected a JSON object, got {a_kind(jl.value)}", jl.raw)
    return jl


def split_chunk(first_line: int, chunk: bytes) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of a chunk from `iter_line_chunks` (a trailing \\r dropped)."""
    for line, raw in enumerate(chunk.split(b"\n"), start=first_line):
        yield line, raw.rstrip(b"\r")


def parse_chunk(first_line: int, chunk: bytes) -> Iterator[JsonLine]:
    """Every line of a chunk as a record or an error (BLANK, BAD_UTF8, BAD_JSON, NOT_OBJECT)."""
    for line, raw in split_chunk(first_line, chunk):
        yield as_record_line(parse_line(raw, line))


def too_deep(raw: bytes, value: Any) -> bool:
    """Deeper than MAX_DEPTH: every later step (schema checks, canonical JSON, token
    counting) recurses per level and would hit Python's stack limit instead of a verdict.
    Counting brackets first keeps the common record at one C-speed pass over its bytes."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        node, depth = level.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(
            node, list) else ()
        level.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return False


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
    """Every physical line of a JSONL file as a record or an error (see `parse_chunk`)."""
    for first_line, chunk in iter_line_chunks(path):
        yield from parse_chunk(first_line, chunk)


def iter_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield (line, value) for the JSON lines of a file; blank lines are skipped, any other
    undecodable line raises `InputError` naming it. For commands that need clean input;
    values that are not objects are yielded (the caller words what it needs)."""
    for jl in iter_json_lines(path):
        if jl.error == BLANK:
            continue
        if jl.error and jl.error != NOT_OBJECT:
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
    # The unfinished line is a list of pieces, joined once when its newline arrives: a line
    # of n blocks costs O(n) copying (rebuilding it on every block cost O(n^2)).
    line, rest, first = 1, list[bytes](), True
    try:
        while True:
            block = f.read(size)
            if first and block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
            first = False
            if not block:
                break
            cut = block.rfind(b"\n")
            if cut < 0:
                rest.append(block)  # one line longer than a block: keep reading
                continue
            chunk = b"".join([*rest, block[:cut]])
            rest = [block[cut + 1:]]
            yield line, chunk
            line += chunk.count(b"\n") + 1
        if any(rest):
            yield line, b"".join(rest)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"read failed: {e}", path=str(path)) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def raw_lines_at(path: str | Path, wanted: Iterable[int]) -> dict[int, bytes]:
    """The raw bytes of the `wanted` lines (numbered as `iter_line_chunks` numbers them, a
    trailing \\r dropped), in one read that stops after the last of them; only the chunks
    holding one are split. Lines past the end are absent from the result."""
    want = sorted(set(wanted))
    found: dict[int, bytes] = {}
    i = 0
    for first, chunk in iter_line_chunks(path) if want else ():
        last = first + chunk.count(b"\n")
        if want[i] > last:
            continue
        lines = chunk.split(b"\n")
        while i < len(want) and want[i] <= last:
            if want[i] >= first:
                found[want[i]] = lines[want[i] - first].rstrip(b"\r")
            i += 1
        if i == len(want):
            break
    return found


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


def canonical_json(value: Any) -> bytes:
    """Normalised JSON (sorted keys, no whitespace): equal values give equal bytes, whatever
    their key order or spacing. Duplicates (validate FT109, FT603) and split digests use it.
    ValueError when the value cannot be written (nesting beyond the recursion limit)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        pass
    try:  # integers beyond 64 bits and nesting beyond 254, which orjson refuses
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise ValueError("nested too deeply to serialise") from None
    return text.encode("utf-8", "surrogatepass")


def dumps_line(record: Any) -> bytes:
    """Serialise one record as a JSONL line: UTF-8, no ASCII escaping, key order preserved."""
    return orjson.dumps(record) + b"\n"


__all__ = [
    "JsonLine",
    "a_kind",
    "as_record_line",
    "batched",
    "canonical_json",
    "dumps_line",
    "iter_json_lines",
    "iter_line_chunks",
    "iter_raw_lines",
    "iter_records",
    "open_binary",
    "parse_chunk",
    "parse_line",
    "split_chunk",
]
