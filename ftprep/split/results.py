"""What a split returns: `SplitStats` (the manifest, split.json, with its warnings),
`SplitResult`, and `Leakage` (what the re-read of the written files found)."""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.io.writer import FileDigest
from ftprep.split.assign import Assignment, class_sort_key
from ftprep.split.keys import RecordKey
from ftprep.split.options import (
    DROPPED,
    LABELS,
    MANIFEST_VERSION,
    MIN_EXAMPLES,
    TEST,
    TEST_FILE,
    TRAIN,
    TRAIN_FILE,
    SplitOptions,
)

_LISTED = 10  # how many class names a warning lists before "and N more"


@dataclass
class Leakage:
    """Recomputed from the written files: records/groups present in both splits."""

    duplicated_examples: int
    shared_groups: int
    train_records: int
    test_records: int
    same_prompt: int = 0  # test records whose prompt train has with another answer
    near_duplicates: int | None = None  # test records near-duplicating train (None: not checked)

    @property
    def ok(self) -> bool:
        return (self.duplicated_examples == 0 and self.shared_groups == 0
                and self.same_prompt == 0 and not self.near_duplicates)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "duplicated_examples": self.duplicated_examples,
                "shared_groups": self.shared_groups, "same_prompt": self.same_prompt,
                "near_duplicates": self.near_duplicates, "train_records": self.train_records,
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
    outputs: dict[str, FileDigest] = field(default_factory=dict)  # what was committed

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
            "run": self.run_id,
            "outputs": {name: d.to_dict() for name, d in self.outputs.items()},
        }

    @property
    def run_id(self) -> str:
        """Names the run by what it read, was asked and wrote (so the same run, the same
        bytes): the manifest and the files it describes are checked by their digests."""
        key = json.dumps([self.sha256, self.options.to_dict(),
                          {n: d.sha256 for n, d in sorted(self.outputs.items())}])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class SplitResult:
    """`labels[i]` is the split of the i-th record (blank lines not counted) as an index into
    ('train', 'test', 'dropped'); compact, one byte per record."""

    labels: bytearray
    stats: SplitStats
    out_dir: Path

    @property
    def assignment(self) -> list[str]:
        return [LABELS[c] for c in self.labels]

    @property
    def ok(self) -> bool:
        return self.stats.leakage.ok and self.stats.reconciled

    def to_dict(self) -> dict[str, Any]:
        return self.stats.to_dict()


def build_stats(path: str | Path, sha256: str, keys: Sequence[RecordKey], blank_lines: int,
                options: SplitOptions, plan: Assignment, labels: bytearray, dropped: set[int],
                leakage: Leakage, tokens: dict[str, Any] | None) -> SplitStats:
    """The manifest's numbers and warnings, from the scan, the plan and the written files."""
    counts = Counter(LABELS[c] for c in labels)
    stats = SplitStats(
        input_name=os.path.basename(str(path)), sha256=sha256, records=len(keys),
        blank_lines=blank_lines, options=options, target_test=plan.target,
        train=counts[TRAIN], test=counts[TEST], exact_duplicates=len(dropped),
        dropped_duplicates=counts[DROPPED], units=plan.units, largest_unit=plan.largest_unit,
        leakage=leakage, tokens=tokens,
    )
    if options.group_by is not None:
        groups = {k.group for k in keys if k.group is not None}
        stats.groups = len(groups)
        stats.missing_group = sum(k.group is None for k in keys)
    if options.stratify_by is not None:
        _add_strata(stats, keys, labels, plan)
    stats.warnings = _warnings(stats)
    return stats


def _add_strata(stats: SplitStats, keys: Sequence[RecordKey], labels: bytearray,
                plan: Assignment) -> None:
    per_class: dict[str | None, Counter[str]] = defaultdict(Counter)
    for key, code in zip(keys, labels, strict=True):
        if LABELS[code] != DROPPED:
            per_class[key.stratum][LABELS[code]] += 1
    stats.strata = [
        {"class": c, "total": per_class[c][TRAIN] + per_class[c][TEST],
         TRAIN: per_class[c][TRAIN], TEST: per_class[c][TEST]}
        for c in sorted(per_class, key=class_sort_key)
    ]
    stats.missing_stratum = sum(
        k.stratum is None and LABELS[code] != DROPPED for k, code in zip(keys, labels, strict=True))
    stats.unsplittable_classes = [
        {"class": c, "records": r} for c, r in sorted(plan.unsplittable.items(),
                                                       key=lambda kv: class_sort_key(kv[0]))
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
