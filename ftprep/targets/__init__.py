"""Targets: the platforms and trainers a dataset can go to, as data (`ftprep/data/targets.toml`),
the rules they add to `validate --target` (FT8xx, in `ftprep.rules.targets`), and the writers
of `export --to` (one small module per target family)."""
from __future__ import annotations

from ftprep.targets.registry import DEFAULT_TARGET, TargetInfo, get_target, list_targets

__all__ = ["DEFAULT_TARGET", "TargetInfo", "get_target", "list_targets"]
