"""pandas DataFrames in and out, for notebooks: `from_dataframe` converts a DataFrame with the
same mapping options as `convert`; reports offer `to_pandas()` (findings, per-example counts).

pandas is imported only here and only when called: the CLI never loads it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.convert import ConvertOptions
from ftprep.convert.records import Converted, Rejected
from ftprep.errors import UsageError
from ftprep.io.readers import Row, Table

FRAME_BATCH_ROWS = 4096  # rows turned into Python values at a time
DATAFRAME = "dataframe"


@dataclass
class FrameConversion:
    """The records a DataFrame became, and the rows that could not (`row` is the position
    in the frame + 1, so `df.iloc[reject.row - 1]` is the source row)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    rows: int = 0

    @property
    def written(self) -> int:
        return len(self.records)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def reasons(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.rejects).items()))

    def to_jsonl(self, path: str | Path) -> None:
        """Write the records as JSONL, atomically."""
        import orjson

        from ftprep.io.writer import atomic_writer

        with atomic_writer(str(path)) as out:
            for record in self.records:
                out.write(orjson.dumps(record) + b"\n")

    def rejects_frame(self) -> Any:
        """The rejects as a DataFrame: row, field, reason, detail."""
        pd = _pandas()

        return pd.DataFrame([{"row": r.row, "field": r.field, "reason": r.reason,
                              "detail": r.detail} for r in self.rejects],
                            columns=["row", "field", "reason", "detail"])


def from_dataframe(df: Any, options: ConvertOptions | None = None, **mapping: Any) -> FrameConversion:
    """Convert a DataFrame's rows like `convert` converts a file's: `options` or the same
    keyword arguments (`user="question", assistant="answer"`, `group_by=...`). Missing values
    (None, NaN, pd.NA, NaT and the usual spellings) follow the same rule; every row is either
    a record or a reject (read = written + rejected)."""
    from ftprep.convert import _outcomes  # the same pipeline as files: rules and limits too
    from ftprep.convert.plan import plan_table

    if options is not None and mapping:
        raise UsageError("give options= or mapping keywords, not both")
    options = options or ConvertOptions(**mapping)
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        raise UsageError("df has repeated column names: each column must be named once")
    plan = plan_table(Table(DATAFRAME, DATAFRAME, columns, _frame_rows(df, columns)), options)
    out = FrameConversion()
    for outcome in _outcomes(plan, options):
        if isinstance(outcome, Converted):
            out.records.append(outcome.record)
        else:
            out.rejects.append(outcome)
    out.rows = plan.rows_seen
    return out


def _frame_rows(df: Any, columns: list[str]) -> Iterator[Row]:
    import pandas as pd

    for start in range(0, len(df), FRAME_BATCH_ROWS):
        batch = df.iloc[start:start + FRAME_BATCH_ROWS].astype(object)
        batch = batch.where(pd.notna(batch), None)  # NaN, pd.NA, NaT → None: one "missing"
        for offset, values in enumerate(batch.itertuples(index=False, name=None)):
            yield Row(start + offset + 1, None, dict(zip(columns, values, strict=True)))


def findings_frame(findings: list[Any]) -> Any:
    """Findings (`Finding.to_dict()` each) as a DataFrame, one row per finding."""
    pd = _pandas()

    rows = [f.to_dict() for f in findings]
    return pd.DataFrame(rows) if rows else pd.DataFrame(
        columns=["code", "severity", "line", "path", "message"])


def counts_frame(counts: Any, limit: int | None) -> Any:
    """Per-example token counts (`CountReport.counts`) as a DataFrame."""
    import numpy as np

    pd = _pandas()
    frame = pd.DataFrame({name: np.array(getattr(counts, name), dtype=np.int64)
                          for name in ("lines", "tokens", "trainable", "messages")})
    frame = frame.rename(columns={"lines": "line"})
    frame["over_limit"] = frame["tokens"] > limit if limit is not None else False
    return frame


def _pandas() -> Any:
    try:
        import pandas
    except ModuleNotFoundError:
        raise UsageError("to_pandas() needs pandas: pip install 'ftprep[pandas]'") from None
    return pandas
