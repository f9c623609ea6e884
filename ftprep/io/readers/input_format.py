"""Input format names and telling the format from a file name."""
from __future__ import annotations

from pathlib import Path

from ftprep.errors import UsageError

CSV, TSV, PARQUET, JSONL, JSON, XLSX = "csv", "tsv", "parquet", "jsonl", "json", "xlsx"
INPUT_FORMATS = (CSV, TSV, PARQUET, JSONL, JSON, XLSX)
TEXT_FORMATS = (CSV, TSV, JSONL, JSON)

_EXTENSIONS = {
    ".csv": CSV, ".tsv": TSV, ".tab": TSV, ".parquet": PARQUET, ".pq": PARQUET,
    ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON, ".xlsx": XLSX, ".xlsm": XLSX,
}


def detect_input_format(path: str | Path) -> str:
    """Input format from the extension (a trailing `.gz` is looked through)."""
    suffixes = [s.lower() for s in Path(str(path)).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise UsageError(
            f"cannot tell the input format of {path!s} from its extension",
            hint=f"use --input-format {'|'.join(INPUT_FORMATS)}",
        )
    return fmt
