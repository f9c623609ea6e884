"""`validate`: every problem in a fine-tuning file, each with its line, JSON path and rule code.

Layer 1 is the JSON Schema of the file's format; layer 2 the semantic rules in `ftprep.rules`.
The file is streamed once; memory grows with the number of findings, not with the file size.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.findings import Finding, Severity
from ftprep.formats import CHAT, FORMATS, UNKNOWN, detect_format
from ftprep.io.jsonl import BAD_JSON, BAD_UTF8, BLANK, JsonLine, iter_json_lines
from ftprep.rules import FILE_CHECKS, RECORD_CHECKS, Context, Hit, load_rules
from ftprep.rules import lines as L
from ftprep.rules.base import select_codes
from ftprep.rules.schema import schema_hits

MAX_FILE_BYTES = 512 * 1024 * 1024  # the platform's limit for one training file
FORMAT_LOOKAHEAD = 100  # lines buffered to find the file's format before checking any
_LINE_ERRORS = {BLANK: L.BLANK_LINE.code, BAD_UTF8: L.INVALID_UTF8.code, BAD_JSON: L.INVALID_JSON.code}


@dataclass
class ValidationReport:
    """What `validate_file` found. `ok` is False when there is any error (or, with
    strict, any warning)."""

    path: str
    format: str
    examples: int
    lines: int
    findings: list[Finding]
    strict: bool = False
    model: str | None = None
    suppressed: int = 0  # line errors hidden behind a file-level finding (FT105/FT106)
    severities: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity is Severity.WARNING for f in self.findings)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and not (self.strict and self.warnings)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f.code for f in self.findings).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "path": self.path,
            "format": self.format,
            "examples": self.examples,
            "lines": self.lines,
            "model": self.model,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": self.counts(),
            "issues": [f.to_dict() for f in self.findings],
        }


def validate_file(
    path: str | Path,
    *,
    model: str | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    strict: bool = False,
    models_file: str | Path | None = None,
) -> ValidationReport:
    """Check a JSONL file against the schema and every selected rule.

    `model` adds the token rules (limit per example) for that model; `select`/`ignore` take
    rule codes or prefixes (`FT3` = all role rules)."""
    rules = load_rules()
    enabled = select_codes(rules, select, ignore)
    ctx_model, encoding = _model_and_encoding(model, models_file)
    run = _Run(str(path), enabled, ctx_model, encoding)
    size = _file_size(path)
    if size is not None and size > MAX_FILE_BYTES:
        run.add(Hit(L.FILE_TOO_LARGE.code, "", f"file is {size / 1e6:.0f} MB; the limit is 512 MB", 0))
    run.consume(iter_json_lines(path))
    findings = sorted(run.findings, key=lambda f: (f.line, f.path, f.code))
    return ValidationReport(
        path=str(path),
        format=run.format,
        examples=run.examples,
        lines=run.lines,
        findings=findings,
        strict=strict,
        model=getattr(ctx_model, "id", model),
        suppressed=run.suppressed,
        severities={c: r.severity.value for c, r in rules.items()},
    )


def _file_size(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_size if str(path) != "-" else None
    except OSError:
        return None  # reading will raise the proper InputError


def _model_and_encoding(model: str | None, models_file: str | Path | None) -> tuple[Any, Any]:
    if not model:
        return None, None
    from ftprep.models import get_model
    from ftprep.tokens import get_encoding

    info = get_model(model, models_file=models_file)
    return info, get_encoding(info.encoding)


class _Run:
    """The state of one validation pass."""

    def __init__(self, path: str, enabled: set[str], model: Any, encoding: Any) -> None:
        self.path, self.enabled, self.model, self.encoding = path, enabled, model, encoding
        self.rules = load_rules()
        self.findings: list[Finding] = []
        self.format = UNKNOWN
        self.examples = self.lines = self.suppressed = 0
        self.file_mode: str | None = None  # set when the whole file is JSON, not JSONL
        self.file_checks = [factory() for factory in FILE_CHECKS]

    def add(self, hit: Hit, line: int | None = None) -> None:
        if hit.code not in self.enabled:
            return
        rule = self.rules[hit.code]
        at = hit.line if hit.line is not None else (line or 0)
        self.findings.append(Finding(hit.code, rule.severity, at, _printable(hit.path),
                                     _printable(hit.message)))

    def consume(self, lines: Iterator[JsonLine]) -> None:
        pending: list[JsonLine] = []
        for jl in lines:
            self.lines = jl.line
            if self.format == UNKNOWN:
                pending.append(jl)
                if len(pending) == 1 and self._detect_json_file(jl):
                    continue
                self.format = _known_format(pending) if len(pending) < FORMAT_LOOKAHEAD else CHAT
                if self.format == UNKNOWN:
                    continue
                for buffered in pending:
                    self._check_line(buffered)
                pending.clear()
            else:
                self._check_line(jl)
        if pending:  # short file with no recognisable record: judge it as chat data
            self.format = CHAT
            for buffered in pending:
                self._check_line(buffered)
        if self.file_mode:  # not JSONL at all: counts and duplicates would only add noise
            return
        for check in self.file_checks:
            for hit in check.finish():
                self.add(hit)

    def _detect_json_file(self, first: JsonLine) -> bool:
        """A .json document saved as .jsonl: say so once instead of once per line."""
        head = first.raw.strip()
        if head.startswith(b"[") and (first.error or isinstance(first.value, list)):
            self.file_mode = L.JSON_ARRAY_FILE.code
            self.add(Hit(self.file_mode, "", "the file is a JSON array; JSONL needs one object per line", 1))
        elif head == b"{" or (first.error == BAD_JSON and head.startswith(b"{") and not head.endswith(b"}")):
            self.file_mode = L.PRETTY_PRINTED.code
            self.add(Hit(self.file_mode, "", "the file is pretty-printed JSON; each example must be on one line", 1))
        return False

    def _check_line(self, jl: JsonLine) -> None:
        if self.file_mode and (jl.error or not isinstance(jl.value, dict)):
            self.suppressed += 1
            return
        if jl.error:
            self.add(Hit(_LINE_ERRORS[jl.error], "", jl.detail), jl.line)
            return
        if not isinstance(jl.value, dict):
            self.add(Hit(L.NOT_AN_OBJECT.code, "", f"expected an object, got {_kind(jl.value)}"), jl.line)
            return
        self._check_record(jl.value, jl.line)

    def _check_record(self, record: dict, line: int) -> None:
        self.examples += 1
        own = detect_format(record)
        if own not in (UNKNOWN, self.format):
            self.add(Hit(L.MIXED_FORMATS.code, "", f"a {own} record in a {self.format} file"), line)
            return
        ctx = Context(line=line, format=self.format, model=self.model, encoding=self.encoding)
        for hit in schema_hits(record, self.format):
            self.add(hit, line)
        for formats, check in RECORD_CHECKS:
            if self.format in formats:
                for hit in check(record, ctx):
                    self.add(hit, line)
        for file_check in self.file_checks:
            for hit in file_check.feed(record, ctx):
                self.add(hit, line)


def _known_format(pending: list[JsonLine]) -> str:
    for jl in pending:
        fmt = detect_format(jl.value) if jl.ok else UNKNOWN
        if fmt in FORMATS:
            return fmt
    return UNKNOWN


def _printable(text: str) -> str:
    """Lone surrogates (legal in JSON, e.g. in a key) cannot be printed as UTF-8: escape them."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
