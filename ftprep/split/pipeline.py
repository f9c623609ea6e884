"""`split_file`: scan, plan, write, check for leakage, write the manifest."""
from __future__ import annotations

import json
from pathlib import Path

from ftprep.errors import InputError, UsageError
from ftprep.io.writer import atomic_writer
from ftprep.split.assign import plan_split
from ftprep.split.constants import (
    _CODES,
    DROPPED,
    MANIFEST_FILE,
    TEST,
    TEST_FILE,
    TRAIN,
    TRAIN_FILE,
)
from ftprep.split.keys import KeyExtractor
from ftprep.split.leakage import check_leakage
from ftprep.split.options import SplitOptions
from ftprep.split.passes import _later_copies, _scan, _sha256_file, _write_splits
from ftprep.split.results import SplitResult
from ftprep.split.stats import _stats


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
    for i, is_test in zip(kept, plan.is_test, strict=True):
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
