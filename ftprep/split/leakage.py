"""The leakage check: re-read the written train and test files and count what is in both."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftprep.io.jsonl import iter_records
from ftprep.split.keys import KeyExtractor, _digest, canonical_json


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
