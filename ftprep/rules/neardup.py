"""FT921: near-duplicate examples (opt-in). The engine computes a MinHash signature per record
(ftprep.quality.neardup) where the record is parsed and matches them in file order."""
from __future__ import annotations

from ftprep.findings import Severity
from ftprep.quality.neardup import DEFAULT_THRESHOLD
from ftprep.rules.base import rule

NEAR_DUPLICATE = rule(
    "FT921", "near-duplicate", Severity.WARNING,
    f"The example's text is at least {DEFAULT_THRESHOLD:.0%} similar (MinHash Jaccard over word "
    "3-grams) to an earlier example's.",
    why="Near-copies over-weight one example as exact copies do, and across a train/test split "
    "they leak the answer into training, so the evaluation overstates the model.",
    fix="Drop or rewrite the copies; `ftprep split` keeps near-duplicate clusters on one side. "
    "Tune with `validate --near-dup-threshold 0.9`.",
    default=False,
)
