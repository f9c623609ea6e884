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

Modules: `options` (split names, SplitOptions, the --test size, JSON path syntax), `keys`
(RecordKey, canonical JSON, the values --group-by and --stratify-by read), `assign` (the pure,
seeded choice of units), `passes` (`split_file`: the two reads of the input, the writes, token
totals for --model, the leakage re-read), `results` (SplitStats = the manifest, SplitResult,
Leakage). Everything public is importable from `ftprep.split`.
"""
from __future__ import annotations

from ftprep.split.assign import Assignment as Assignment
from ftprep.split.assign import allocate_largest_remainder, assign_split, plan_split
from ftprep.split.keys import (
    KeyExtractor,
    RecordKey,
    canonical_json,
    final_assistant_content,
    get_json_path,
)
from ftprep.split.options import ASSISTANT as ASSISTANT
from ftprep.split.options import DROPPED as DROPPED
from ftprep.split.options import MANIFEST_FILE as MANIFEST_FILE
from ftprep.split.options import MANIFEST_VERSION as MANIFEST_VERSION
from ftprep.split.options import MIN_EXAMPLES as MIN_EXAMPLES
from ftprep.split.options import TEST as TEST
from ftprep.split.options import TEST_FILE as TEST_FILE
from ftprep.split.options import TRAIN as TRAIN
from ftprep.split.options import TRAIN_FILE as TRAIN_FILE
from ftprep.split.options import SplitOptions, parse_json_path, parse_test_size
from ftprep.split.passes import check_leakage, split_file
from ftprep.split.results import Leakage, SplitResult, SplitStats

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
