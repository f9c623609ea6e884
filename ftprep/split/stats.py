"""The manifest's numbers and warnings, from the scan, the plan and the written files."""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftprep.split.assign import Assignment, _class_sort_key
from ftprep.split.constants import _CODES, _LISTED, DROPPED, MIN_EXAMPLES, TEST, TRAIN
from ftprep.split.keys import RecordKey
from ftprep.split.leakage import Leakage
from ftprep.split.options import SplitOptions
from ftprep.split.passes import _Scan
from ftprep.split.results import SplitStats


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
    for key, code in zip(keys, labels, strict=True):
        if _CODES[code] != DROPPED:
            per_class[key.stratum][_CODES[code]] += 1
    stats.strata = [
        {"class": c, "total": per_class[c][TRAIN] + per_class[c][TEST],
         TRAIN: per_class[c][TRAIN], TEST: per_class[c][TEST]}
        for c in sorted(per_class, key=_class_sort_key)
    ]
    stats.missing_stratum = sum(
        k.stratum is None and _CODES[code] != DROPPED for k, code in zip(keys, labels, strict=True))
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
