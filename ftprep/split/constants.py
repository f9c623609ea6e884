"""Names shared by the split modules: split labels, output file names, limits."""
from __future__ import annotations

TRAIN, TEST, DROPPED = "train", "test", "dropped"
TRAIN_FILE, TEST_FILE, MANIFEST_FILE = "train.jsonl", "test.jsonl", "split.json"
ASSISTANT = "assistant"  # --stratify-by word: the final assistant message's content
MIN_EXAMPLES = 10  # the platform's minimum number of examples in a training file
MANIFEST_VERSION = 1
_CODES = (TRAIN, TEST, DROPPED)  # SplitResult.labels stores the index into this tuple
_LISTED = 10  # how many class names a warning lists before "and N more"
