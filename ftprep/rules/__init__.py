"""Validation rules. Every module in this package declares rules and checks on import;
`load_rules()` imports them all (sorted, so registration order is stable)."""
from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from ftprep.findings import Severity
from ftprep.formats import CHAT
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
def _record_checks(fmt: str) -> tuple[Context, dict[str, tuple[RecordCheck, ...]], Any]:
    """The context record checks run in; by the kind of record, the checks to run: "all" of
    the format's, those a "plain" chat record needs (not `plain_silent`), and the "rest" a
    record `fastpath.clears` still needs (the checks it does not cover); and `clears` for
    chat (None otherwise). Built once: `convert` checks every record it writes. No check
    keeps state in its context."""
    load_rules()
    from ftprep.rules.fastpath import COVERED, clears

    # Secrets and personal data (FT9xx) are left to `validate` and `convert --redact`: whether
    # text may hold them is the user's call, and scanning here would double convert's cost.
    ctx = Context(line=0, format=fmt, enabled=_format_codes())
    checks = tuple(check for formats, check in RECORD_CHECKS if fmt in formats)
    plain = tuple(c for c in checks if c not in PLAIN_SILENT)
    rest = tuple(c for c in plain if c not in COVERED)
    return ctx, {"all": checks, "plain": plain, "rest": rest}, clears if fmt == CHAT else None


def record_errors(record: dict, fmt: str) -> list[Hit]:
    """The error-severity findings one record has on its own (schema and record rules, no
    token limits, no whole-file checks): what `convert` must never write. A plain chat
    record is cleared in one pass (`fastpath.clears`); any other gets every check."""
    ctx, checks, clears = _record_checks(fmt)
    if clears is not None and type(record) is dict and clears(record):
        hits: list[Hit] = []
        kind = "rest"
    else:
        from ftprep.rules.schema import schema_check

        hits, plain = schema_check(record, fmt)
        kind = "plain" if plain else "all"
    for check in checks[kind]:
        hits.extend(check(record, ctx))
    return [h for h in hits if RULES[h.code].severity is Severity.ERROR] if hits else hits


__all__ = [
    "FILE_CHECKS", "RECORD_CHECKS", "RULES", "Context", "Hit", "Rule", "load_rules",
    "record_errors",
]
