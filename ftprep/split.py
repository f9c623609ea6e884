"""Reproducible train/test splits without leakage.

`split_file` reads a JSONL file twice and never holds record content in memory:

1. The first pass keeps, per record, a small `RecordKey` (content digest, group digest, class
   label). Exact duplicates (same canonical JSON: sorted keys, no whitespace) and records
   sharing a `--group-by` value are joined into *units* that always land in the same split.
2. `assign_split` (pure, seeded) chooses whole units for the test split: units are visited in
   an order given by blake2b(seed, unit content) and taken greedily while they bring the test
   size closer to its target. With `--stratify-by`, each class gets its own target (largest
   remainder allocation, so the targets still sum to the requested size).
3. The second pass copies each record's original line bytes to train.jsonl or test.jsonl in
   input order; then both written files are re-read to prove that no record and no group is
   in both (the leakage check) and that the counts reconcile. A manifest, split.json, records
   everything needed to reproduce and audit the split.

Nothing depends on Python's salted `hash()` or on machine state, so the same file, seed and
options give byte-identical outputs everywhere.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ftprep.errors import InputError, UsageError
from ftprep.io.jsonl import BLANK, iter_json_lines, iter_raw_lines, iter_records, parse_line
from ftprep.io.writer import atomic_writer

TRAIN, TEST, DROPPED = "train", "test", "dropped"
TRAIN_FILE, TEST_FILE, MANIFEST_FILE = "train.jsonl", "test.jsonl", "split.json"
ASSISTANT = "assistant"  # --stratify-by word: the final assistant message's content
MIN_EXAMPLES = 10  # the platform's minimum number of examples in a training file
MANIFEST_VERSION = 1
_CODES = (TRAIN, TEST, DROPPED)  # SplitResult.labels stores the index into this tuple
_LISTED = 10  # how many class names a warning lists before "and N more"


# ---------------------------------------------------------------- options and test size


def parse_test_size(text: str | float) -> float | int:
    """`--test` value: an integer >= 1 is a count, 0 < x < 1 a fraction; else UsageError."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"--test {text!r} is not a number (use 0.2 or 500)") from None
    if 0 < value < 1:
        return value
    if value >= 1 and math.isfinite(value) and value.is_integer():
        return int(value)
    raise UsageError(
        f"--test {text!r} must be a fraction between 0 and 1 (0.2) or a whole count >= 1 (500)"
    )


@dataclass(frozen=True)
class SplitOptions:
    """How to split. `test` is a fraction (0 < x < 1) or a count (int >= 1).

    `group_by` / `stratify_by` are JSON paths (`metadata.user_id`, `messages[0].content`,
    negative indexes allowed); `stratify_by="assistant"` means the content of the final
    assistant message. A value that is missing or null counts as missing: such a record is
    its own group, or falls in the "missing" class. With both, a group is stratified by the
    class of its first record (in input order)."""

    test: float | int = 0.2
    seed: int = 0
    stratify_by: str | None = None
    group_by: str | None = None
    dedupe: bool = False
    model: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.test, bool) or not isinstance(self.test, (int, float)):
            raise UsageError(f"test size {self.test!r} must be a fraction in (0, 1) or an int >= 1")
        object.__setattr__(self, "test", parse_test_size(self.test))  # 500.0 → count 500
        for name in ("stratify_by", "group_by"):
            value = getattr(self, name)
            if value is not None and not (name == "stratify_by" and value == ASSISTANT):
                parse_json_path(value, option=name.replace("_", "-"))

    def target_test_size(self, n: int) -> int:
        """The number of test examples asked for, out of n."""
        if isinstance(self.test, int):
            if self.test >= n:
                raise UsageError(
                    f"--test {self.test} leaves nothing for train: there are {n} examples"
                    + (" after dedupe" if self.dedupe else "")
                )
            return self.test
        return round(n * self.test)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "seed": self.seed,
            "stratify_by": self.stratify_by,
            "group_by": self.group_by,
            "dedupe": self.dedupe,
            "model": self.model,
        }


# ---------------------------------------------------------------- JSON paths and keys

_PATH_RE = re.compile(r"[^.\[\]]+(?:\[-?\d+\])*(?:\.[^.\[\]]+(?:\[-?\d+\])*)*")
_STEP_RE = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")
_MISSING = object()


def parse_json_path(path: str, *, option: str = "path") -> tuple[str | int, ...]:
    """`messages[0].content` → ('messages', 0, 'content'). UsageError on bad syntax."""
    if not _PATH_RE.fullmatch(path or ""):
        raise UsageError(
            f"--{option} {path!r} is not a JSON path (examples: label, metadata.user_id, "
            "messages[0].content)"
        )
    return tuple(int(i) if i else name for i, name in _STEP_RE.findall(path))


def get_json_path(record: Any, steps: Sequence[str | int]) -> Any:
    """The value at `steps`, or None when any step is missing (null also counts as missing)."""
    value = record
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def final_assistant_content(record: Any) -> Any:
    """Content of the last assistant message: chat `messages`, else a preference record's
    `preferred_output`; a completion record's `completion`. None when there is none."""
    if not isinstance(record, dict):
        return None
    for key in ("messages", "preferred_output"):
        messages = record.get(key)
        if isinstance(messages, list):
            for message in reversed(messages):
                if isinstance(message, dict) and message.get("role") == "assistant":
                    return _text_of(message.get("content"))
    return record.get("completion")


def _text_of(content: Any) -> Any:
    # Content may be a list of parts; a class label is their text, joined.
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return content


def canonical_json(value: Any) -> bytes:
    """Normalised JSON (sorted keys, no whitespace): equal records give equal bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # orjson refuses ints beyond 64 bits and lone surrogates, which the reader accepts.
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", "surrogatepass")


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _class_label(value: Any) -> str:
    # Strings are their own label (readable manifest); anything else its canonical JSON.
    return value if isinstance(value, str) else canonical_json(value).decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class RecordKey:
    """All `assign_split` needs to know about one record (never its content).

    digest: identity of the content (equal digests = exact duplicates, kept together);
    group: identity of the --group-by value, None = no group (the record is alone);
    stratum: class label for --stratify-by, None = missing."""

    digest: bytes
    group: bytes | None = None
    stratum: str | None = None


class KeyExtractor:
    """Builds the `RecordKey` of a parsed record according to the options."""

    def __init__(self, options: SplitOptions) -> None:
        self.group_steps = parse_json_path(options.group_by) if options.group_by else None
        self.stratify_by = options.stratify_by
        self.stratify_steps = (
            parse_json_path(options.stratify_by)
            if options.stratify_by and options.stratify_by != ASSISTANT
            else None
        )

    def group_of(self, record: Any) -> bytes | None:
        if self.group_steps is None:
            return None
        value = get_json_path(record, self.group_steps)
        return None if value is None else _digest(canonical_json(value))

    def stratum_of(self, record: Any) -> str | None:
        if self.stratify_by is None:
            return None
        if self.stratify_steps is None:
            value = final_assistant_content(record)
        else:
            value = get_json_path(record, self.stratify_steps)
        return None if value is None else _class_label(value)

    def key_of(self, record: Any) -> RecordKey:
        return RecordKey(_digest(canonical_json(record)), self.group_of(record),
                         self.stratum_of(record))


# ---------------------------------------------------------------- assignment (pure)


@dataclass
class Assignment:
    """The outcome of `plan_split`: is_test per record plus what shaped it."""

    is_test: list[bool]
    target: int
    units: int
    largest_unit: int
    unsplittable: dict[str | None, int] = field(default_factory=dict)  # class → records


def assign_split(keys: Sequence[RecordKey], options: SplitOptions) -> list[bool]:
    """is_test for each record. Pure and deterministic: depends only on keys and options."""
    return plan_split(keys, options).is_test


def plan_split(keys: Sequence[RecordKey], options: SplitOptions) -> Assignment:
    """Choose whole units (duplicates and groups joined) for the test split."""
    n = len(keys)
    target = options.target_test_size(n) if n else 0
    roots = _unit_roots(keys)
    sizes = Counter(roots)
    order_prefix = f"ftprep-split\0{options.seed}\0".encode()
    # (seeded order key, root, size); the root is the unit's first record, so its digest is
    # unique among units and the order does not depend on how the file is laid out.
    units = sorted(
        (hashlib.blake2b(order_prefix + keys[r].digest, digest_size=16).digest(), r, s)
        for r, s in sizes.items()
    )
    unsplittable: dict[str | None, int] = {}
    if options.stratify_by is None:
        chosen = _greedy(units, target)
    else:
        chosen, unsplittable = _stratified(units, keys, target, n)
    is_test = [roots[i] in chosen for i in range(n)]
    return Assignment(is_test, target, len(units), max(sizes.values(), default=0), unsplittable)


def _unit_roots(keys: Sequence[RecordKey]) -> list[int]:
    """Union-find: the first record index of each record's unit (duplicates + groups)."""
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression keeps later finds O(1)-ish
            parent[i], i = root, parent[i]
        return root

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # the smaller index stays root, so a root is its unit's first record
            parent[max(ra, rb)] = min(ra, rb)

    first_by_digest: dict[bytes, int] = {}
    first_by_group: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        union(i, first_by_digest.setdefault(key.digest, i))
        if key.group is not None:
            union(i, first_by_group.setdefault(key.group, i))
    return [find(i) for i in range(len(keys))]


def _greedy(units: Sequence[tuple[bytes, int, int]], target: int) -> set[int]:
    """Take units in the given order whenever that brings the total closer to target.
    With unit sizes of 1 this hits the target exactly; otherwise the miss is below the
    largest unit (below half of it when short)."""
    chosen: set[int] = set()
    total = 0
    for _, root, size in units:
        if total == target:
            break
        if abs(total + size - target) < abs(total - target):
            chosen.add(root)
            total += size
    return chosen


def _stratified(
    units: Sequence[tuple[bytes, int, int]], keys: Sequence[RecordKey], target: int, n: int
) -> tuple[set[int], dict[str | None, int]]:
    by_class: dict[str | None, list[tuple[bytes, int, int]]] = defaultdict(list)
    for unit in units:
        by_class[keys[unit[1]].stratum].append(unit)
    records = {c: sum(s for _, _, s in us) for c, us in by_class.items()}
    # A class with a single unit cannot be in both splits: it stays in train, reported.
    unsplittable = {c: records[c] for c, us in by_class.items() if len(us) < 2}
    splittable = {c: r for c, r in records.items() if c not in unsplittable}
    quotas = allocate_largest_remainder(target, splittable, n)
    chosen: set[int] = set()
    carry = 0  # test examples owed (+) or taken in excess (-) by earlier classes
    for c in sorted(quotas, key=_class_sort_key):
        # Passing the miss on keeps the total within one unit of the target when units are
        # groups; with single-record units every class hits its quota and carry stays 0.
        goal = min(max(quotas[c] + carry, 0), records[c])
        taken = _greedy(by_class[c], goal)
        got = sum(s for _, r, s in by_class[c] if r in taken)
        carry += quotas[c] - got
        chosen |= taken
    return chosen, unsplittable


def _class_sort_key(label: str | None) -> tuple[int, str]:
    return (0, "") if label is None else (1, label)


def allocate_largest_remainder(target: int, sizes: dict[str | None, int], n: int) -> dict:
    """Split `target` across classes in proportion size/n, n counting all records (so each
    class keeps its share of the whole input). Floors first, then one extra example each to
    the largest remainders (ties: larger class, then name) until the quotas sum to `target`.
    Every quota is thus within one example of its exact share. The shares of classes left out
    of `sizes` (too small to split) are not handed to others: that would push them past the
    one-example bound, so the total may then fall short of `target` (reported)."""
    if not sizes or n == 0:
        return {}
    quotas = {c: target * s // n for c, s in sizes.items()}
    left = target - sum(quotas.values())
    by_remainder = sorted(
        sizes, key=lambda c: (-(target * sizes[c] % n), -sizes[c], _class_sort_key(c)))
    for c in by_remainder[:left]:
        quotas[c] += quotas[c] < sizes[c]  # full only when target == n (fraction near 1)
    return quotas


# ---------------------------------------------------------------- results


@dataclass
class Leakage:
    """Recomputed from the written files: records/groups present in both splits."""

    duplicated_examples: int
    shared_groups: int
    train_records: int
    test_records: int

    @property
    def ok(self) -> bool:
        return self.duplicated_examples == 0 and self.shared_groups == 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "duplicated_examples": self.duplicated_examples,
                "shared_groups": self.shared_groups, "train_records": self.train_records,
                "test_records": self.test_records, "source": "written files"}


@dataclass
class SplitStats:
    """Everything the manifest (split.json) says; `to_dict()` is its exact content."""

    input_name: str
    sha256: str
    records: int
    blank_lines: int
    options: SplitOptions
    target_test: int
    train: int
    test: int
    exact_duplicates: int  # records equal to an earlier record
    dropped_duplicates: int  # of those, removed by --dedupe
    units: int
    largest_unit: int
    leakage: Leakage
    strata: list[dict[str, Any]] | None = None
    unsplittable_classes: list[dict[str, Any]] = field(default_factory=list)
    missing_stratum: int = 0
    groups: int | None = None
    missing_group: int = 0
    tokens: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return (self.train + self.test + self.dropped_duplicates == self.records
                and self.leakage.train_records == self.train
                and self.leakage.test_records == self.test)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "input": {"name": self.input_name, "sha256": self.sha256, "records": self.records,
                      "blank_lines_ignored": self.blank_lines},
            "options": self.options.to_dict(),
            "files": {TRAIN: TRAIN_FILE, TEST: TEST_FILE},
            "counts": {TRAIN: self.train, TEST: self.test, "target_test": self.target_test,
                       "exact_duplicates": self.exact_duplicates,
                       "dropped_duplicates": self.dropped_duplicates,
                       "reconciled": self.reconciled},
            "units": {"count": self.units, "largest": self.largest_unit},
            "groups": None if self.options.group_by is None else {
                "count": self.groups, "missing_key": self.missing_group},
            "strata": None if self.strata is None else {
                "classes": self.strata, "missing_key": self.missing_stratum,
                "unsplittable": self.unsplittable_classes},
            "tokens": self.tokens,
            "leakage": self.leakage.to_dict(),
            "warnings": self.warnings,
        }


@dataclass
class SplitResult:
    """`labels[i]` is the split of the i-th record (blank lines not counted) as an index into
    ('train', 'test', 'dropped'); compact, one byte per record."""

    labels: bytearray
    stats: SplitStats
    out_dir: Path

    @property
    def assignment(self) -> list[str]:
        return [_CODES[c] for c in self.labels]

    @property
    def ok(self) -> bool:
        return self.stats.leakage.ok and self.stats.reconciled

    def to_dict(self) -> dict[str, Any]:
        return self.stats.to_dict()


# ---------------------------------------------------------------- the file pipeline


@dataclass
class _Scan:
    keys: list[RecordKey]
    blank_lines: int
    stream_digest: bytes


def split_file(path: str | Path, out_dir: str | Path, options: SplitOptions) -> SplitResult:
    """Split a JSONL file into out_dir/train.jsonl and out_dir/test.jsonl plus split.json."""
    if str(path) == "-":
        raise UsageError("split reads its input twice; give a file, not stdin")
    _refuse_output_over_input(path, Path(out_dir))
    extractor = KeyExtractor(options)
    scan = _scan(path, extractor)
    sha256 = _sha256_file(path)
    n = len(scan.keys)
    if n == 0:
        raise InputError("no examples to split", path=str(path))
    dropped = _later_copies(scan.keys)
    kept = [i for i in range(n) if i not in dropped] if options.dedupe else list(range(n))
    plan = plan_split([scan.keys[i] for i in kept], options)
    labels = bytearray([_CODES.index(DROPPED)]) * n
    for i, is_test in zip(kept, plan.is_test):
        labels[i] = _CODES.index(TEST if is_test else TRAIN)
    out = Path(out_dir)
    tokens = _write_splits(path, out, labels, scan.stream_digest, options.model)
    leakage = check_leakage(out / TRAIN_FILE, out / TEST_FILE, extractor)
    stats = _stats(path, sha256, scan, options, plan, labels, dropped, leakage, tokens)
    with atomic_writer(out / MANIFEST_FILE) as f:
        f.write(json.dumps(stats.to_dict(), ensure_ascii=False, indent=2).encode() + b"\n")
    return SplitResult(labels, stats, out)


def _refuse_output_over_input(path: str | Path, out: Path) -> None:
    """`split data/train.jsonl -o data` would replace the input with its own train split.
    The atomic writer replaces the directory entry, so what matters is whether that entry
    is where the input's bytes live (the input with its symlinks resolved)."""
    source = Path(path).resolve()
    for name in (TRAIN_FILE, TEST_FILE, MANIFEST_FILE):
        if (out.resolve() / name) == source:
            raise UsageError(
                f"the output {out / name} would overwrite the input {path}; "
                "choose another --output-dir"
            )


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


class _TokenCounter:
    """Token totals per split for --model (token counting lives in ftprep.tokens/models)."""

    def __init__(self, model: str) -> None:
        try:  # imported lazily: another area, and tiktoken is slow to import
            from ftprep.models import get_model
            from ftprep.tokens import count_example, get_encoding
        except ImportError as e:
            raise UsageError(f"--model needs token counting, which is not available: {e}") from None
        spec = get_model(model)
        self.model = model
        self.encoding = get_encoding(spec.encoding)
        self.limit: int | None = getattr(spec, "max_example_tokens", None)
        self.count_example = count_example
        self.totals = {TRAIN: 0, TEST: 0}
        self.over_limit = {TRAIN: 0, TEST: 0}

    def add(self, split: str, raw: bytes) -> None:
        n = self.count_example(parse_line(raw, 0).value, self.encoding).total
        self.totals[split] += n
        if self.limit is not None and n > self.limit:
            self.over_limit[split] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, TRAIN: self.totals[TRAIN], TEST: self.totals[TEST],
                "max_example_tokens": self.limit, "over_limit": self.over_limit}


def check_leakage(train_path: str | Path, test_path: str | Path,
                  extractor: KeyExtractor | None = None) -> Leakage:
    """Re-read both written files: count test records whose canonical content (or group)
    also occurs in train. Independent of how the split was computed."""
    train_digests: set[bytes] = set()
    train_groups: set[bytes] = set()
    train_records = 0
    for _, record in iter_records(train_path):
        train_records += 1
        train_digests.add(_digest(canonical_json(record)))
        group = extractor.group_of(record) if extractor else None
        if group is not None:
            train_groups.add(group)
    duplicated = test_records = 0
    shared: set[bytes] = set()
    for _, record in iter_records(test_path):
        test_records += 1
        duplicated += _digest(canonical_json(record)) in train_digests
        group = extractor.group_of(record) if extractor else None
        if group is not None and group in train_groups:
            shared.add(group)
    return Leakage(duplicated, len(shared), train_records, test_records)


def _stats(path: str | Path, sha256: str, scan: _Scan, options: SplitOptions,
           plan: Assignment, labels: bytearray, dropped: set[int], leakage: Leakage,
           tokens: dict[str, Any] | None) -> SplitStats:
    counts = Counter(_CODES[c] for c in labels)
    stats = SplitStats(
        input_name=os.path.basename(str(path)), sha256=sha256, records=len(scan.keys),
        blank_lines=scan.blank_lines, options=options, target_test=plan.target,
        train=counts[TRAIN], test=counts[TEST], exact_duplicates=len(dropped),
        dropped_duplicates=counts[DROPPED], units=plan.units, largest_unit=plan.largest_unit,
        leakage=leakage, tokens=tokens,
    )
    if options.group_by is not None:
        groups = {k.group for k in scan.keys if k.group is not None}
        stats.groups = len(groups)
        stats.missing_group = sum(k.group is None for k in scan.keys)
    if options.stratify_by is not None:
        _add_strata(stats, scan.keys, labels, plan)
    stats.warnings = _warnings(stats)
    return stats


def _add_strata(stats: SplitStats, keys: Sequence[RecordKey], labels: bytearray,
                plan: Assignment) -> None:
    per_class: dict[str | None, Counter[str]] = defaultdict(Counter)
    for key, code in zip(keys, labels):
        if _CODES[code] != DROPPED:
            per_class[key.stratum][_CODES[code]] += 1
    stats.strata = [
        {"class": c, "total": per_class[c][TRAIN] + per_class[c][TEST],
         TRAIN: per_class[c][TRAIN], TEST: per_class[c][TEST]}
        for c in sorted(per_class, key=_class_sort_key)
    ]
    stats.missing_stratum = sum(
        k.stratum is None and _CODES[code] != DROPPED for k, code in zip(keys, labels))
    stats.unsplittable_classes = [
        {"class": c, "records": r} for c, r in sorted(plan.unsplittable.items(),
                                                       key=lambda kv: _class_sort_key(kv[0]))
    ]


def _warnings(stats: SplitStats) -> list[str]:
    warnings = []
    for name, size in ((TRAIN, stats.train), (TEST, stats.test)):
        if size < MIN_EXAMPLES:
            warnings.append(f"{name} split has {size} examples; fine-tuning files need at "
                            f"least {MIN_EXAMPLES}")
    if stats.test != stats.target_test:
        why = "duplicates and groups are kept whole"
        if stats.unsplittable_classes:
            why += ", unsplittable classes stay in train"
        warnings.append(f"test split has {stats.test} examples for a target of "
                        f"{stats.target_test} ({why})")
    if stats.unsplittable_classes:
        names = [_display(u["class"]) for u in stats.unsplittable_classes]
        more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
        warnings.append(f"{len(names)} classes too small to split went to train: "
                        f"{', '.join(names[:_LISTED])}{more}")
    if stats.missing_stratum:
        warnings.append(f"{stats.missing_stratum} records have no "
                        f"{stats.options.stratify_by!r} value; they form their own class")
    if stats.missing_group:
        warnings.append(f"{stats.missing_group} records have no {stats.options.group_by!r} "
                        "value; each is its own group")
    if stats.tokens and any(stats.tokens["over_limit"].values()):
        over = stats.tokens["over_limit"]
        warnings.append(f"examples over the model's {stats.tokens['max_example_tokens']}-token "
                        f"limit: {over[TRAIN]} in train, {over[TEST]} in test")
    return warnings


def _display(label: str | None) -> str:
    return "(missing)" if label is None else label


__all__ = [
    "KeyExtractor",
    "Leakage",
    "RecordKey",
    "SplitOptions",
    "SplitResult",
    "SplitStats",
    "allocate_largest_remainder",
    "assign_split",
    "canonical_json",
    "check_leakage",
    "final_assistant_content",
    "get_json_path",
    "parse_json_path",
    "parse_test_size",
    "plan_split",
    "split_file",
]
