"""What a split is asked to do: the split names and file names, `SplitOptions`, the `--test`
size (fraction or count) and the JSON path syntax of --group-by / --stratify-by."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ftprep.errors import UsageError
from ftprep.rules.dataset import MIN_EXAMPLES as MIN_EXAMPLES  # one home: the FT107 rule

TRAIN, TEST, DROPPED = "train", "test", "dropped"
TRAIN_FILE, TEST_FILE, MANIFEST_FILE = "train.jsonl", "test.jsonl", "split.json"
ASSISTANT = "assistant"  # --stratify-by word: the final assistant message's content
MANIFEST_VERSION = 1
LABELS = (TRAIN, TEST, DROPPED)  # SplitResult.labels stores the index into this tuple

_PATH_RE = re.compile(r"[^.\[\]]+(?:\[-?\d+\])*(?:\.[^.\[\]]+(?:\[-?\d+\])*)*")
_STEP_RE = re.compile(r"\[(-?\d+)\]|([^.\[\]]+)")


def parse_json_path(path: str, *, option: str = "path") -> tuple[str | int, ...]:
    """`messages[0].content` → ('messages', 0, 'content'). UsageError naming the parameter
    `option` on bad syntax."""
    if not _PATH_RE.fullmatch(path or ""):
        raise UsageError("is not a JSON path (examples: label, metadata.user_id, "
                         "messages[0].content)", param=option, value=path)
    return tuple(int(i) if i else name for i, name in _STEP_RE.findall(path))


def parse_test_size(text: str | float) -> float | int:
    """`--test` value: an integer >= 1 is a count, 0 < x < 1 a fraction; else UsageError.
    A value written with a decimal point ("1.0", 1.0) is a fraction even when whole: 1.0 is all of
    the file, not one example."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError("is not a number (use 0.2 or 500)", param="test", value=text) from None
    if 0 < value < 1:
        return value
    if isinstance(text, float) or (isinstance(text, str) and "." in text):
        raise UsageError("as a fraction must be between 0 and 1 (0.2); 1.0 would leave nothing "
                         "for train (a count is written 500)", param="test", value=text)
    if value >= 1 and math.isfinite(value) and value.is_integer():
        return int(value)
    raise UsageError("must be a fraction between 0 and 1 (0.2) or a whole count >= 1 (500)",
                     param="test", value=text)


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
    near_dup_threshold: float | None = None  # keep near-duplicate clusters (MinHash) together

    def __post_init__(self) -> None:
        if isinstance(self.test, bool) or not isinstance(self.test, (int, float)):
            raise UsageError("must be a fraction in (0, 1) or an int >= 1", param="test",
                             value=self.test)
        object.__setattr__(self, "test", parse_test_size(self.test))  # 500.0 → count 500
        if self.near_dup_threshold is not None:
            from ftprep.quality.neardup import check_threshold

            check_threshold(self.near_dup_threshold)
        for name in ("stratify_by", "group_by"):
            value = getattr(self, name)
            if value is not None and not (name == "stratify_by" and value == ASSISTANT):
                parse_json_path(value, option=name)

    def target_test_size(self, n: int) -> int:
        """The number of test examples asked for, out of n."""
        if isinstance(self.test, int):
            if self.test >= n:
                raise UsageError(f"leaves nothing for train: there are {n} examples"
                                 + (" after dedupe" if self.dedupe else ""),
                                 param="test", value=self.test)
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
            "near_dup_threshold": self.near_dup_threshold,
        }
