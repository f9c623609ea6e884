"""What a split returns: `SplitStats` (the manifest, split.json) and `SplitResult`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.split.constants import (
    _CODES,
    MANIFEST_VERSION,
    TEST,
    TEST_FILE,
    TRAIN,
    TRAIN_FILE,
)
from ftprep.split.leakage import Leakage
from ftprep.split.options import SplitOptions


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
