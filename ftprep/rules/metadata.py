"""FT931: records with a top-level `metadata` object, said once per file. ftprep reads it
(split --group-by metadata.user_id, --stratify-by metadata.label; convert --metadata writes it)
and submit/export leave it out of what a platform that refuses it receives.

Whether OpenAI accepts it: the documented training record (the fine-tuning chat-input and
preference-input references) defines `messages`, `tools`, `parallel_tool_calls`, `functions`
and the preference keys, nothing else, and no OpenAI document says other keys are ignored; so
it is treated as refused (targets.toml: openai extra_keys = false)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftprep.findings import Severity
from ftprep.rules.base import Hit, file_check, rule
from ftprep.rules.schema import METADATA

METADATA_NOT_SENT = rule(
    "FT931", "metadata-not-sent", Severity.WARNING,
    "Records have a top-level `metadata`: ftprep uses it, platforms that refuse it do not "
    "receive it.",
    why="`metadata` carries what ftprep needs (user ids for `split --group-by`, labels for "
    "`--stratify-by`) but is not part of OpenAI's training record: `submit` and `export` send "
    "a copy without it and say so. Uploading the file by other means would send the key.",
    fix="Nothing for submit/export (or `--ignore FT931`). To upload by other means, drop it "
    "first with `ftprep export --to openai`.",
)


@file_check
class MetadataRecords:
    """Counts records with `metadata`; one finding at the end, naming the first line."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0
        self.not_objects = 0

    def key(self, record: Any) -> int:
        """0: none; 1: an object; 2: something else (split cannot read paths in it)."""
        if not isinstance(record, dict) or METADATA not in record:
            return 0
        return 1 if isinstance(record[METADATA], dict) else 2

    def feed(self, keys: list[int], lines: list[int]) -> Iterator[Hit]:
        if any(keys):
            for key, line in zip(keys, lines, strict=True):
                if key:
                    self.count += 1
                    self.first = self.first or line
                    self.not_objects += key == 2
        return iter(())

    def finish(self) -> Iterator[Hit]:
        if not self.count:
            return
        odd = (f"; {self.not_objects} of them not an object (split reads metadata.KEY from an "
               "object)") if self.not_objects else ""
        yield Hit(METADATA_NOT_SENT.code, METADATA,
                  f"{self.count} record(s) have `metadata` (first at line {self.first}); "
                  f"submit/export leave it out for platforms that refuse it{odd}", 0)
