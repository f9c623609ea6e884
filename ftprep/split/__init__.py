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

Modules: `options` (SplitOptions, --test size), `paths` (JSON paths, final assistant message),
`keys` (RecordKey, canonical JSON), `assign` (the pure, seeded choice of units),
`passes` (the two reads of the input), `leakage` (the re-read check), `token_totals`
(--model), `results` and `stats` (the manifest), `pipeline` (`split_file`). Everything public
is importable from `ftprep.split`.
"""
from __future__ import annotations

from ftprep.split.assign import Assignment as Assignment
from ftprep.split.assign import allocate_largest_remainder, assign_split, plan_split
from ftprep.split.constants import ASSISTANT as ASSISTANT
from ftprep.split.constants import DROPPED as DROPPED
from ftprep.split.constants import MANIFEST_FILE as MANIFEST_FILE
from ftprep.split.constants import MANIFEST_VERSION as MANIFEST_VERSION
from ftprep.split.constants import MIN_EXAMPLES as MIN_EXAMPLES
from ftprep.split.constants import TEST as TEST
from ftprep.split.constants import TEST_FILE as TEST_FILE
from ftprep.split.constants import TRAIN as TRAIN
from ftprep.split.constants import TRAIN_FILE as TRAIN_FILE
from ftprep.split.keys import KeyExtractor, RecordKey, canonical_json
from ftprep.split.leakage import Leakage, check_leakage
from ftprep.split.options import SplitOptions, parse_test_size
from ftprep.split.paths import final_assistant_content, get_json_path, parse_json_path
from ftprep.split.pipeline import split_file
from ftprep.split.results import SplitResult, SplitStats

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
