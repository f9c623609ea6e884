"""A compact map from 16-byte record digests to the line of their first occurrence.

Duplicate detection must remember every record it has seen. A `dict[bytes, int]` costs
about 190 bytes a record in CPython (a bytes object, an int object and the dict slot);
this open-addressing table keeps the digest as two unsigned 64-bit halves and the line as
an unsigned 32-bit number in flat arrays: 20 bytes a slot, at most half full, so 40 to 80
bytes a record (80 just after a doubling). Exact: full 128-bit digests are compared, as
the dict did. Lines must be below 2**32.
"""
from __future__ import annotations

from array import array

_EMPTY = 0  # lines are 1-based, so line 0 marks a free slot
_MAX_LINE = (1 << 32) - 1


class DigestLines:
    def __init__(self, capacity: int = 1024) -> None:
        size = 1
        while size < capacity:
            size <<= 1
        self._allocate(size)
        self._used = 0

    def _allocate(self, size: int) -> None:
        self._mask = size - 1
        self._hi = array("Q", bytes(8 * size))
        self._lo = array("Q", bytes(8 * size))
        self._lines = array("I", bytes(4 * size))

    def __len__(self) -> int:
        return self._used

    @property
    def nbytes(self) -> int:
        """Bytes held by the table's arrays (what a record costs, measured)."""
        return sum(a.buffer_info()[1] * a.itemsize for a in (self._hi, self._lo, self._lines))

    def setdefault(self, digest: bytes, line: int) -> int:
        """The line first stored for `digest`; stores `line` if the digest is new."""
        if not 0 < line <= _MAX_LINE:
            raise ValueError(f"line={line} is outside 1..{_MAX_LINE}")
        hi = int.from_bytes(digest[:8], "little")
        lo = int.from_bytes(digest[8:16], "little")
        i = hi & self._mask
        lines, his, los = self._lines, self._hi, self._lo
        while True:
            stored = lines[i]
            if stored == _EMPTY:
                lines[i], his[i], los[i] = line, hi, lo
                self._used += 1
                if 2 * self._used > len(lines):
                    self._grow()
                return line
            if his[i] == hi and los[i] == lo:
                return stored
            i = (i + 1) & self._mask

    def _grow(self) -> None:
        old = (self._hi, self._lo, self._lines)
        self._allocate(2 * len(self._lines))
        for hi, lo, line in zip(*old, strict=True):
            if line != _EMPTY:
                i = hi & self._mask
                while self._lines[i] != _EMPTY:
                    i = (i + 1) & self._mask
                self._hi[i], self._lo[i], self._lines[i] = hi, lo, line
