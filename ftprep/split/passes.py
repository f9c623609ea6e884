"""The two passes over the input file: pass 1 takes a `RecordKey` per record, pass 2
copies each record's original line to its split; a stream digest proves the file did not
change in between."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftprep.errors import InputError
from ftprep.io.jsonl import BLANK, iter_json_lines, iter_raw_lines
from ftprep.io.writer import atomic_writer
from ftprep.split.constants import _CODES, DROPPED, TEST, TEST_FILE, TRAIN, TRAIN_FILE
from ftprep.split.keys import KeyExtractor, RecordKey
from ftprep.split.token_totals import _TokenCounter


@dataclass
class _Scan:
    keys: list[RecordKey]
    blank_lines: int
    stream_digest: bytes


def _sha256_file(path: str | Path) -> str:
    """sha256 of the file as stored (compressed bytes for .gz), like `sha256sum`. Called after
    the first pass, which already turned a missing or unreadable file into an InputError."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as e:
        raise InputError(e.strerror or str(e), path=str(path)) from None
    return digest.hexdigest()


def _scan(path: str | Path, extractor: KeyExtractor) -> _Scan:
    """Pass 1: a RecordKey per record; fails on the first line that is not a JSON object."""
    keys: list[RecordKey] = []
    blank = 0
    stream = hashlib.blake2b(digest_size=16)
    for jl in iter_json_lines(path):
        stream.update(jl.raw + b"\n")
        if jl.error == BLANK:
            blank += 1
            continue
        if jl.error:
            raise InputError(f"{jl.detail} (run `ftprep validate` for all problems)",
                             path=str(path), line=jl.line)
        if not isinstance(jl.value, dict):
            raise InputError(f"expected a JSON object, got {type(jl.value).__name__}",
                             path=str(path), line=jl.line)
        keys.append(extractor.key_of(jl.value))
    return _Scan(keys, blank, stream.digest())


def _later_copies(keys: Sequence[RecordKey]) -> set[int]:
    """Indexes of records equal to an earlier one (what --dedupe drops)."""
    seen: set[bytes] = set()
    later: set[int] = set()
    for i, key in enumerate(keys):
        if key.digest in seen:
            later.add(i)
        seen.add(key.digest)
    return later


def _records_raw(path: str | Path, stream_digest: bytes) -> Iterator[bytes]:
    """Pass 2: the original bytes of each non-blank line; fails if the file changed."""
    stream = hashlib.blake2b(digest_size=16)
    for _, raw in iter_raw_lines(path):
        stream.update(raw + b"\n")
        if raw.strip():
            yield raw
    if stream.digest() != stream_digest:
        raise _changed(path)


def _changed(path: str | Path) -> InputError:
    return InputError("file changed while it was being split; nothing was written",
                      path=str(path))


def _write_splits(path: str | Path, out: Path, labels: bytearray, stream_digest: bytes,
                  model: str | None) -> dict[str, Any] | None:
    """Copy each record's original line to its split, in input order (atomic per file)."""
    counter = _TokenCounter(model) if model else None
    test_code, train_code = _CODES.index(TEST), _CODES.index(TRAIN)
    with atomic_writer(out / TRAIN_FILE) as train_f, atomic_writer(out / TEST_FILE) as test_f:
        for i, raw in enumerate(_records_raw(path, stream_digest)):
            if i >= len(labels):  # lines were appended since the first pass
                raise _changed(path)
            code = labels[i]
            if code == train_code:
                train_f.write(raw + b"\n")
            elif code == test_code:
                test_f.write(raw + b"\n")
            if counter is not None and code != _CODES.index(DROPPED):
                counter.add(_CODES[code], raw)
    return counter.to_dict() if counter else None
