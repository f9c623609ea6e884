"""ftprep: fine-tuning datasets that are right the first time.

The library is the product; the `ftprep` command is a thin layer over these functions::

    from ftprep import convert, validate_file, count_file, split_file, estimate_file, TrainGPT
    from ftprep import evaluate, Candidate  # eval: did the fine-tune work?

Names are imported lazily so that `import ftprep` (and the CLI) start fast.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "convert": "ftprep.convert",
    "ConvertOptions": "ftprep.convert",
    "validate_file": "ftprep.validate",
    "ValidationReport": "ftprep.validate",
    "count_file": "ftprep.count",
    "count_example": "ftprep.tokens",
    "get_encoding": "ftprep.tokens",
    "get_model": "ftprep.models",
    "estimate_file": "ftprep.estimate",
    "split_file": "ftprep.split",
    "export_file": "ftprep.targets.export",
    "ExportResult": "ftprep.targets.export",
    "SplitOptions": "ftprep.split",
    "TrainGPT": "ftprep.platform.sdk",
    "from_dataframe": "ftprep.frames",
    "validate_records": "ftprep.validate",
    "count_records": "ftprep.batches",
    "validate_batch": "ftprep.batches",
    "count_batch": "ftprep.batches",
    "evaluate": "ftprep.eval.pipeline",
    "EvalReport": "ftprep.eval.results",
    "Candidate": "ftprep.eval.candidates",
    "Finding": "ftprep.findings",
    "Severity": "ftprep.findings",
}

__all__ = [  # noqa: RUF022 - grouped by pipeline step, like _EXPORTS
    "__version__",
    "convert", "ConvertOptions", "validate_file", "ValidationReport", "count_file",
    "count_example", "get_encoding", "get_model", "estimate_file", "split_file", "SplitOptions",
    "export_file", "ExportResult",
    "TrainGPT", "evaluate", "EvalReport", "Candidate", "Finding", "Severity",
    "from_dataframe", "validate_records", "count_records", "validate_batch", "count_batch",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
