"""What the split needs to know about a record: `RecordKey` (content digest, group digest,
class label), the canonical JSON those digests are taken over, and how --group-by and
--stratify-by find their value in a record (`get_json_path`, `final_assistant_content`)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ftprep.io.jsonl import canonical_json
from ftprep.split.options import ASSISTANT, SplitOptions, parse_json_path


def get_json_path(record: Any, steps: Sequence[str | int]) -> Any:
    """The value at `steps`, or None when any step is missing (null also counts as missing)."""
    value = record
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
        elif not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def final_assistant_content(record: Any) -> Any:
    """Content of the last assistant message: chat `messages`, else a preference record's
    `preferred_output`; a completion record's `completion`. None when there is none."""
    if not isinstance(record, dict):
        return None
    for key in ("messages", "preferred_output"):
        messages = record.get(key)
        if isinstance(messages, list):
            for message in reversed(messages):
                if isinstance(message, dict) and message.get("role") == "assistant":
                    return _text_of(message.get("content"))
    return record.get("completion")


def _text_of(content: Any) -> Any:
    # Content may be a list of parts; a class label is their text, joined.
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        strings = [t for t in texts if isinstance(t, str)]
        if texts and len(strings) == len(texts):
            return "".join(strings)
    return content


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


MAX_LABEL_CHARS = 200  # longer class labels are kept as their start and a digest
LABEL_HEAD_CHARS = 60


def _class_label(value: Any) -> str:
    # Strings are their own label (readable manifest); anything else its canonical JSON.
    return value if isinstance(value, str) else canonical_json(value).decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class RecordKey:
    """All `assign_split` needs to know about one record (never its content).

    digest: identity of the content (equal digests = exact duplicates, kept together);
    group: identity of the --group-by value, None = no group (the record is alone);
    stratum: class label for --stratify-by, None = missing."""

    digest: bytes
    group: bytes | None = None
    stratum: str | None = None
    prompt: bytes | None = None  # identity of everything before the final answer
    near: bytes | None = None  # near-duplicate cluster (--near-dup-threshold), None = alone


class KeyExtractor:
    """Builds the `RecordKey` of a parsed record according to the options."""

    def __init__(self, options: SplitOptions) -> None:
        self._labels: dict[str, str] = {}
        self.group_steps = parse_json_path(options.group_by) if options.group_by else None
        self.stratify_by = options.stratify_by
        self.near_dup_threshold = options.near_dup_threshold
        self.stratify_steps = (
            parse_json_path(options.stratify_by)
            if options.stratify_by and options.stratify_by != ASSISTANT
            else None
        )

    def group_of(self, record: Any) -> bytes | None:
        if self.group_steps is None:
            return None
        value = get_json_path(record, self.group_steps)
        return None if value is None else digest(canonical_json(value))

    def stratum_of(self, record: Any) -> str | None:
        if self.stratify_by is None:
            return None
        if self.stratify_steps is None:
            value = final_assistant_content(record)
        else:
            value = get_json_path(record, self.stratify_steps)
        if value is None:
            return None
        label = _class_label(value)
        if len(label) > MAX_LABEL_CHARS:
            # A class named by a whole answer (--stratify-by assistant on free text) would keep
            # every answer in memory: keep its start and a digest of the whole instead (equal
            # answers still give equal labels).
            whole = digest(label.encode("utf-8", "surrogatepass")).hex()[:16]
            label = f"{label[:LABEL_HEAD_CHARS]}… #{whole}"
        return self._labels.setdefault(label, label)  # one string per class, not per record

    def key_of(self, record: Any) -> RecordKey:
        return RecordKey(digest(canonical_json(record)), self.group_of(record),
                         self.stratum_of(record), prompt_digest(record))


def prompt_of(record: Any) -> Any:
    """What the model is asked: a chat record up to its final assistant message (with its
    tools), a preference record's input, a completion's prompt. None when there is no answer."""
    if not isinstance(record, dict):
        return None
    messages = record.get("messages")
    if isinstance(messages, list):
        last = next((i for i in range(len(messages) - 1, -1, -1)
                     if isinstance(messages[i], dict) and messages[i].get("role") == "assistant"),
                    None)
        if not last:  # no answer, or nothing asked before it
            return None
        return {"messages": messages[:last], "tools": record.get("tools"),
                "functions": record.get("functions")}
    if "input" in record and "preferred_output" in record:
        return record.get("input")
    return record.get("prompt")


def prompt_digest(record: Any) -> bytes | None:
    prompt = prompt_of(record)
    return None if prompt is None else digest(canonical_json(prompt))


class NearDuplicateClusters:
    """--near-dup-threshold: record i joins the cluster of its earliest near-duplicate.
    A cluster's id is its first record's index; `ids` holds it for every clustered record
    (roots included), so pass 1 can mark the keys once all records are seen."""

    def __init__(self, threshold: float) -> None:
        from ftprep.quality.neardup import NearDuplicateIndex

        self.index = NearDuplicateIndex(threshold)
        self.ids: dict[int, bytes] = {}

    def add(self, i: int, record: Any) -> None:
        from ftprep.quality.neardup import signature

        match = self.index.add(i, signature(record))
        if match is not None:
            cid = self.ids.setdefault(match.first, match.first.to_bytes(8, "big"))
            self.ids[i] = cid
