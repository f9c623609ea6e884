"""Validation rules. Every module in this package declares rules and checks on import;
`load_rules()` imports them all (sorted, so registration order is stable)."""
from __future__ import annotations

import functools
import importlib
import pkgutil

from ftprep.findings import Severity
from ftprep.rules.base import (
    FILE_CHECKS,
    PLAIN_SILENT,
    RECORD_CHECKS,
    RULES,
    Context,
    Hit,
    RecordCheck,
    Rule,
)

_loaded = False


def load_rules() -> dict[str, Rule]:
    """Import every rule module once and return the registry (code → Rule)."""
    global _loaded
    if not _loaded:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(sorted(RULES.items()))


@functools.cache
def _format_codes() -> frozenset[str]:
    return frozenset(c for c in load_rules() if not c.startswith("FT9"))


@functools.cache
def _record_checks(fmt: str) -> tuple[Context, tuple[RecordCheck, ...]]:
    """The record checks of one format and the context they run in (built once: `convert`
    checks every record it writes). No check keeps state in its context."""
    load_rules()
    # Secrets and personal data (FT9xx) are left to `validate` and `convert --redact`: whether
    # text may hold them is the user's call, and scanning here would double convert's cost.
    ctx = Context(line=0, format=fmt, enabled=_format_codes())
    return ctx, tuple(check for formats, check in RECORD_CHECKS if fmt in formats)


def record_errors(record: dict, fmt: str) -> list[Hit]:
    """The error-severity findings one record has on its own (schema and record rules, no
    token limits, no whole-file checks): what `convert` must never write."""
    from ftprep.rules.schema import schema_check  # jsonschema: only when records are checked

    ctx, checks = _record_checks(fmt)
    hits, plain = schema_check(record, fmt)
    for check in checks:
        if not (plain and check in PLAIN_SILENT):
            hits.extend(check(record, ctx))
    return [h for h in hits if RULES[h.code].severity is Severity.ERROR] if hits else hits


__all__ = [
    "FILE_CHECKS", "RECORD_CHECKS", "RULES", "Context", "Hit", "Rule", "load_rules",
    "record_errors",
]
