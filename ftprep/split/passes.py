"""The reads and writes of a split, and `split_file` which runs them: pass 1 takes a
`RecordKey` per record, pass 2 copies each record's original line to its split (a stream
digest proves the file did not change in between), then the leakage check re-reads the
written files."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftprep.errors import InputError, UsageError
from ftprep.io.jsonl import BLANK, iter_json_lines, iter_raw_lines, iter_records, parse_line
from ftprep.io.writer import OutputSet
from ftprep.split.assign import plan_split
from ftprep.split.keys import (
    KeyExtractor,
    NearDuplicateClusters,
    RecordKey,
    canonical_json,
    digest,
    prompt_digest,
)
from ftprep.split.options import (
    DROPPED,
    LABELS,
    MANIFEST_FILE,
    TEST,
    TEST_FILE,
    TRAIN,
    TRAIN_FILE,
    SplitOptions,
)
from ftprep.split.results import Leakage, SplitResult, build_stats


def split_file(path: str | Path, out_dir: str | Path, options: SplitOptions) -> SplitResult:
    """Split a JSONL file into out_dir/train.jsonl and out_dir/test.jsonl plus split.json."""
    if str(path) == "-":
        raise UsageError("split reads its input twice; give a file, not stdin")
    _refuse_non_regular(path)
    _refuse_output_over_input(path, Path(out_dir))
    extractor = KeyExtractor(options)
    scan = scan_keys(path, extractor)
    sha256 = sha256_file(path)
    n = len(scan.keys)
    if n == 0:
        raise InputError("no examples to split", path=str(path))
    dropped = later_copies(scan.keys)
    kept = [i for i in range(n) if i not in dropped] if options.dedupe else list(range(n))
    _refuse_free_text_classes([scan.keys[i] for i in kept], options)
    plan = plan_split([scan.keys[i] for i in kept], options)
    labels = bytearray([LABELS.index(DROPPED)]) * n
    for i, is_test in zip(kept, plan.is_test, strict=True):
        labels[i] = LABELS.index(TEST if is_test else TRAIN)
    out = Path(out_dir)
    train, test = out / TRAIN_FILE, out / TEST_FILE
    # train, test and the manifest describing them are one set (ftprep.io.writer): a kill or a
    # concurrent split leaves the old three or the new three, never train of one run and test
    # of another. The manifest is opened last, so it is committed last.
    with OutputSet() as outputs:
        tokens = write_splits(path, outputs.open(train), outputs.open(test), labels,
                              scan.stream_digest, options.model)
        digests = {name: outputs.finish(out / name) for name in (TRAIN_FILE, TEST_FILE)}
        leakage = check_leakage(outputs.temp_path(train), outputs.temp_path(test), extractor)
        stats = build_stats(path, sha256, scan.keys, scan.blank_lines, options, plan, labels,
                            dropped, leakage, tokens)
        stats.outputs = digests
        outputs.open(out / MANIFEST_FILE).write(
            json.dumps(stats.to_dict(), ensure_ascii=False, indent=2).encode() + b"\n")
    return SplitResult(labels, stats, out)


def _refuse_non_regular(path: str | Path) -> None:
    """A FIFO, socket or device can be read once: the second pass would wait forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the first pass words the real error (no such file, permission...)
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) \
            else "not a regular file"
        raise UsageError(f"{path} is {kind}; split reads its input twice, give a regular file")


MIN_PER_CLASS = 2  # fewer examples per class on average: the values are text, not labels
FREE_TEXT_MIN_CLASSES = 20  # ... when there are this many: 2 classes in 4 examples are labels


def _refuse_free_text_classes(keys: Sequence[RecordKey], options: SplitOptions) -> None:
    """Stratifying by near-unique values (free text) cannot keep proportions: most classes
    have one example, which stays in train, and the test split falls far short of its target.
    Refused with the numbers, before anything is written."""
    if options.stratify_by is None or len(keys) < 2 * MIN_PER_CLASS:
        return
    classes = len({k.stratum for k in keys if k.stratum is not None})
    if classes >= FREE_TEXT_MIN_CLASSES and classes * MIN_PER_CLASS >= len(keys):
        raise UsageError(
            f"{{stratify_by}} {options.stratify_by} gives {classes} classes for {len(keys)} "
            f"examples: that is free text, not a label (stratifying needs at least "
            f"{MIN_PER_CLASS} examples per class on average); stratify by a label such as "
            "metadata.label, or leave {stratify_by} out", mentions=("stratify_by",))


def _refuse_output_over_input(path: str | Path, out: Path) -> None:
    """`split data/train.jsonl -o data` would replace the input with its own train split.
    The atomic writer replaces the directory entry, so what matters is whether that entry
    is where the input's bytes live (the input with its symlinks resolved)."""
    source = Path(path).resolve()
    for name in (TRAIN_FILE, TEST_FILE, MANIFEST_FILE):
        if (out.resolve() / name) == source:
            raise UsageError(
                f"the output {out / name} would overwrite the input {path}; "
                "choose another {out_dir}", mentions=("out_dir",)
            )


@dataclass
class Scan:
    keys: list[RecordKey]
    blank_lines: int
    stream_digest: bytes


def sha256_file(path: str | Path) -> str:
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


def scan_keys(path: str | Path, extractor: KeyExtractor) -> Scan:
    """Pass 1: a RecordKey per record; fails on the first line that is not a JSON object."""
    keys: list[RecordKey] = []
    blank = 0
    stream = hashlib.blake2b(digest_size=16)
    threshold = extractor.near_dup_threshold
    near = NearDuplicateClusters(threshold) if threshold is not None else None
    for jl in iter_json_lines(path):
        stream.update(jl.raw + b"\n")
        if jl.error == BLANK:
            blank += 1
            continue
        if jl.error:  # not JSON, not UTF-8, not an object: worded as validate and count do
            raise InputError(f"{jl.detail} (run `ftprep validate` for all problems)",
                             path=str(path), line=jl.line)
        if near is not None:
            near.add(len(keys), jl.value)
        try:
            keys.append(extractor.key_of(jl.value))
        except RecursionError:  # parsed by the stdlib, too deep to serialise again
            raise InputError("JSON nested too deeply", path=str(path), line=jl.line) from None
    for i, cluster in (near.ids.items() if near else ()):
        keys[i] = dataclasses.replace(keys[i], near=cluster)
    return Scan(keys, blank, stream.digest())


def later_copies(keys: Sequence[RecordKey]) -> set[int]:
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


def write_splits(path: str | Path, train_f: IO[bytes], test_f: IO[bytes], labels: bytearray,
                 stream_digest: bytes, model: str | None) -> dict[str, Any] | None:
    """Copy each record's original line to its split, in input order."""
    counter = TokenTotals(model) if model else None
    test_code, train_code = LABELS.index(TEST), LABELS.index(TRAIN)
    for i, raw in enumerate(_records_raw(path, stream_digest)):
        if i >= len(labels):  # lines were appended since the first pass
            raise _changed(path)
        code = labels[i]
        if code == train_code:
            train_f.write(raw + b"\n")
        elif code == test_code:
            test_f.write(raw + b"\n")
        if counter is not None and code != LABELS.index(DROPPED):
            counter.add(LABELS[code], raw)
    return counter.to_dict() if counter else None


class TokenTotals:
    """Token totals per split for --model (token counting lives in ftprep.tokens/models)."""

    def __init__(self, model: str) -> None:
        # Imported here, not at the top: tiktoken is slow to import and only --model needs it.
        from ftprep.models import get_model
        from ftprep.tokens import count_example, get_encoding

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
    also occurs in train, whose prompt is asked in train with another answer, and (with a
    near-duplicate threshold) whose text is that similar to a train record. Independent of
    how the split was computed."""
    train_digests: set[bytes] = set()
    train_groups: set[bytes] = set()
    train_prompts: set[bytes] = set()
    threshold = extractor.near_dup_threshold if extractor else None
    near = _NearLeakage(threshold) if threshold is not None else None
    train_records = 0
    for _, record in iter_records(train_path):
        train_records += 1
        train_digests.add(digest(canonical_json(record)))
        prompt = prompt_digest(record)
        if prompt is not None:
            train_prompts.add(prompt)
        group = extractor.group_of(record) if extractor else None
        if group is not None:
            train_groups.add(group)
        if near is not None:
            near.add_train(record)
    duplicated = same_prompt = near_dups = test_records = 0
    shared: set[bytes] = set()
    for _, record in iter_records(test_path):
        test_records += 1
        copy = digest(canonical_json(record)) in train_digests
        duplicated += copy
        same_prompt += not copy and prompt_digest(record) in train_prompts
        group = extractor.group_of(record) if extractor else None
        if group is not None and group in train_groups:
            shared.add(group)
        near_dups += near is not None and not copy and near.in_train(record)
    return Leakage(duplicated, len(shared), train_records, test_records, same_prompt,
                   near_dups if near is not None else None)


class _NearLeakage:
    """Train signatures in an LSH index; a test record leaks when one is that similar."""

    def __init__(self, threshold: float) -> None:
        from ftprep.quality.neardup import NearDuplicateIndex

        self.index = NearDuplicateIndex(threshold)
        self.count = 0

    def add_train(self, record: Any) -> None:
        from ftprep.quality.neardup import signature

        self.index.add(self.count, signature(record))
        self.count += 1

    def in_train(self, record: Any) -> bool:
        from ftprep.quality.neardup import signature

        return self.index.matches(signature(record))
