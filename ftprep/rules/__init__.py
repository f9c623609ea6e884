"""Validation rules. Every module in this package declares rules and checks on import;
`load_rules()` imports them all (sorted, so registration order is stable)."""
from __future__ import annotations

import importlib
import pkgutil

from ftprep.rules.base import FILE_CHECKS, RECORD_CHECKS, RULES, Context, Hit, Rule

_loaded = False


def load_rules() -> dict[str, Rule]:
    """Import every rule module once and return the registry (code → Rule)."""
    global _loaded
    if not _loaded:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(sorted(RULES.items()))


__all__ = ["FILE_CHECKS", "RECORD_CHECKS", "RULES", "Context", "Hit", "Rule", "load_rules"]
