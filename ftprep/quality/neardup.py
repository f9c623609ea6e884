"""Near-duplicate examples: MinHash signatures of each example's text and an LSH index
(datasketch, a kept library) that finds earlier examples at or above a Jaccard threshold.

- The text of an example is every string in it except roles, types and ids, lower-cased;
  its shingles are word 3-grams (the words themselves for texts under three words).
- Signatures use `NUM_PERM` permutations from a fixed seed: the same file gives the same
  findings and clusters on every run and machine.
- Memory: per example, its 256-byte signature plus datasketch's LSH buckets (5 bands at the
  default threshold): about 2 KB per example in all, measured (see README).
Used by `validate` (FT921, opt-in) and `split` (near-duplicate clusters stay on one side).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ftprep.errors import UsageError
from ftprep.quality.walk import iter_strings

DEFAULT_THRESHOLD = 0.8
NUM_PERM = 64
SEED = 20241  # fixed: signatures (and so findings and split clusters) are reproducible
NGRAM = 3
SCHEME = "affine32"  # datasketch 2.0's default, named so a future default cannot change signatures
_WORD = re.compile(r"\w+")
_NOT_TEXT = (".role", ".type", ".id", ".tool_call_id", ".name")


def example_text(record: Any) -> str:
    """The words an example says: every string value except roles, types, ids and names."""
    return " ".join(text for path, text in iter_strings(record) if not path.endswith(_NOT_TEXT))


def shingles(text: str, n: int = NGRAM) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {w.encode("utf-8", "surrogatepass") for w in words}
    return {" ".join(words[i:i + n]).encode("utf-8", "surrogatepass")
            for i in range(len(words) - n + 1)}


def check_threshold(threshold: float) -> float:
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"near_dup_threshold={threshold} must be in (0, 1]")
    return threshold


@functools.cache
def _datasketch() -> Any:
    try:
        import datasketch
    except ImportError as e:
        raise UsageError("near-duplicate detection needs datasketch: pip install 'ftprep[dedup]'"
                         ) from e
    return datasketch


@functools.cache
def _permutations() -> Any:
    return _datasketch().MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations


def signature(record: Any) -> bytes | None:
    """The example's MinHash signature (NUM_PERM × uint32); None when it has no words."""
    grams = shingles(example_text(record))
    if not grams:
        return None
    mh = _datasketch().MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_permutations(),
                               scheme=SCHEME)
    mh.update_batch(list(grams))
    return bytes(mh.hashvalues.astype("<u4").tobytes())


def near_dup_key(record: Any) -> bytes | None:
    """What the index needs of a record: its signature followed by the 16-byte digest of the
    whole record (an exact copy is FT109's finding, not a near-duplicate)."""
    from ftprep.rules.dataset import digest

    sig = signature(record)
    return None if sig is None else sig + (digest(record) or b"")


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal slots."""
    import numpy as np

    n = NUM_PERM * 4  # any digest after the signature is not part of it
    return float(np.mean(np.frombuffer(a[:n], "<u4") == np.frombuffer(b[:n], "<u4")))


@dataclass(frozen=True, slots=True)
class Match:
    """An example whose text is at least `threshold` similar to the earlier example `first`."""

    key: int
    first: int
    similarity: float


class NearDuplicateIndex:
    """Examples added in order; `add` says whether an earlier one is a near-duplicate."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = check_threshold(threshold)
        ds = _datasketch()
        self._lsh = ds.MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._signatures: dict[int, bytes] = {}

    def add(self, key: int, sig: bytes | None) -> Match | None:
        """Index example `key` (keys increase) and return its earliest near-duplicate, if any."""
        if sig is None:
            return None
        mh = self._minhash(sig[:NUM_PERM * 4])
        best: Match | None = None
        for other in sorted(self._lsh.query(mh)):
            known = self._signatures[other]
            score = similarity(sig, known)
            if score >= self.threshold:
                exact = len(sig) > NUM_PERM * 4 and known[NUM_PERM * 4:] == sig[NUM_PERM * 4:]
                best = None if exact else Match(key, other, score)
                break  # the earliest qualifying example
        self._lsh.insert(key, mh, check_duplication=False)
        self._signatures[key] = sig
        return best

    def matches(self, sig: bytes | None) -> bool:
        """Whether an indexed example is at least `threshold` similar (nothing is added)."""
        if sig is None:
            return False
        return any(similarity(sig, self._signatures[k]) >= self.threshold
                   for k in self._lsh.query(self._minhash(sig[:NUM_PERM * 4])))

    def _minhash(self, sig: bytes) -> Any:
        import numpy as np

        ds = _datasketch()
        return ds.LeanMinHash(seed=SEED, hashvalues=np.frombuffer(sig, "<u4"), scheme=SCHEME)


def clusters(signatures: Iterator[tuple[int, bytes | None]],
             threshold: float = DEFAULT_THRESHOLD) -> dict[int, int]:
    """key → the first key of its near-duplicate cluster, for every key in a cluster of two or
    more (union-find over the matches, so chains A~B~C form one cluster)."""
    index = NearDuplicateIndex(threshold)
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        while parent.get(k, k) != k:
            parent[k] = parent.get(parent[k], parent[k])
            k = parent[k]
        return k

    for key, sig in signatures:
        match = index.add(key, sig)
        if match is not None:
            a, b = root(match.first), root(key)
            parent[max(a, b)] = min(a, b)
            parent.setdefault(min(a, b), min(a, b))
    return {k: root(k) for k in parent}
