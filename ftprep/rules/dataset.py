"""FT107/FT109: checks over the whole file (example count, duplicates). They see every
record once and keep only small per-record state (a 16-byte digest), never the records."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from ftprep.digest_lines import DigestLines
from ftprep.findings import Facts, Severity
from ftprep.io.jsonl import canonical_json
from ftprep.rules.base import Hit, file_check, rule

E, W = Severity.ERROR, Severity.WARNING

MIN_EXAMPLES = 10  # the platform refuses smaller training files

TOO_FEW_EXAMPLES = rule(
    "FT107", "too-few-examples", E, f"The file has fewer than {MIN_EXAMPLES} examples.",
    why=f"The platform requires at least {MIN_EXAMPLES} training examples and rejects the "
    "job otherwise; in practice 50-100 good examples are needed to see an effect.",
    fix="Add examples (or, for a validation file, merge it with more held-out data).",
)
DUPLICATE_EXAMPLE = rule(
    "FT109", "duplicate-example", W, "The example is an exact duplicate of an earlier one.",
    why="Duplicates over-weight one example, waste training tokens and, across a "
    "train/validation split, leak test data into training.",
    fix="Remove the copies (`ftprep split` deduplicates), or vary them if intentional.",
)


def canonical(value: Any) -> bytes | None:
    """`canonical_json`, or None for a value too deeply nested to write (never a duplicate)."""
    try:
        return canonical_json(value)
    except ValueError:
        return None


def digest(record: Any) -> bytes | None:
    """A 16-byte fingerprint of a record's canonical JSON. SHA-1 (OpenSSL's, ~1.4 GB/s here)
    rather than blake2b (~0.8 GB/s): validate takes one per record, and telling copies apart
    needs no resistance to a forger, only 128 well-mixed bits."""
    data = canonical(record)
    return None if data is None else hashlib.sha1(data, usedforsecurity=False).digest()[:16]


@file_check
class ExampleCount:
    """FT107: counts the records the engine checked."""

    def __init__(self) -> None:
        self.examples = 0

    def key(self, record: Any) -> None:
        return None

    def feed(self, keys: list[None], lines: list[int]) -> Iterator[Hit]:
        self.examples += len(keys)
        return iter(())

    def finish(self) -> Iterator[Hit]:
        if self.examples < MIN_EXAMPLES:
            yield Hit(TOO_FEW_EXAMPLES.code, "",
                      f"{self.examples} example(s); the platform needs at least {MIN_EXAMPLES}", 0,
                      Facts(count=self.examples, limit=MIN_EXAMPLES))


@file_check
class Duplicates:
    """FT109: reports each copy at its own line, naming the line of the first."""

    def __init__(self) -> None:
        # 56 bytes a record (94 at a doubling); a dict[bytes, int] cost 123 (README "Limits")
        self.first_line = DigestLines()

    def key(self, record: Any) -> bytes | None:
        return digest(record)

    def feed(self, keys: list[bytes | None], lines: list[int]) -> Iterator[Hit]:
        setdefault = self.first_line.setdefault
        for key, line in zip(keys, lines, strict=True):
            if key is None:
                continue
            first = setdefault(key, line)
            if first != line:
                yield Hit(DUPLICATE_EXAMPLE.code, "", f"duplicate of line {first}", line,
                          Facts(related_line=first))

    def finish(self) -> Iterator[Hit]:
        return iter(())
