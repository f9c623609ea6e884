"""Batch-shaped functions for engines larger than one machine: Arrow record batches in,
Arrow record batches out, one row per record (see README, "Scaling out").

Each input batch holds the raw JSON lines in a string column (`spark.read.text` calls it
`value`, `ray.data.read_text` calls it `text`); the output has one row per input row, so the
engine can join or aggregate them. Only record-level work happens here: rules that need the
whole file (example count, duplicates) and totals are aggregated by the caller.
"""
from __future__ import annotations

from typing import Any

from ftprep.errors import UsageError
from ftprep.formats import CHAT, FORMATS, detect_format
from ftprep.io.jsonl import parse_line

LINE_COLUMNS = ("value", "text", "line")  # what Spark, Ray and pandas call a line column


def validate_batch(batch: Any, *, column: str | None = None, model: str | None = None,
                   target: str | None = None, first_line: int = 1) -> Any:
    """Per record: errors, warnings and the finding codes (JSON of the findings too), as a
    pyarrow RecordBatch aligned with `batch`."""
    import pyarrow as pa

    from ftprep.validate import validate_records

    lines = _lines(batch, column)
    findings = validate_records(lines, model=model, target=target, first_line=first_line)
    per_row: list[list[Any]] = [[] for _ in lines]
    for f in findings:
        if f.line >= first_line:
            per_row[f.line - first_line].append(f)
    return pa.RecordBatch.from_pydict({
        "line": list(range(first_line, first_line + len(lines))),
        "errors": [sum(f.severity == "error" for f in fs) for fs in per_row],
        "warnings": [sum(f.severity == "warning" for f in fs) for fs in per_row],
        "codes": [[f.code for f in fs] for fs in per_row],
        "findings": [[_finding_json(f) for f in fs] for fs in per_row],
    })


def count_batch(batch: Any, *, model: str, column: str | None = None,
                first_line: int = 1) -> Any:
    """Per record: total, trainable and message counts for `model` (an OpenAI model of the
    registry), null with an `error` for a line that is not an example."""
    import pyarrow as pa

    from ftprep.models import get_model
    from ftprep.tokens import count_record, plain_chat_counter

    encoding = get_model(model).encoding
    plain = plain_chat_counter(encoding)  # count's fast path for plain chat records
    out: dict[str, list[Any]] = {k: [] for k in ("line", "tokens", "trainable", "messages",
                                                 "error")}
    for i, raw in enumerate(_lines(batch, column)):
        parsed = parse_line(raw, first_line + i)
        fmt = detect_format(parsed.value) if not parsed.error else None
        out["line"].append(first_line + i)
        if fmt not in FORMATS:
            for key in ("tokens", "trainable", "messages"):
                out[key].append(None)
            out["error"].append(parsed.detail or "not a chat, preference or completion example")
            continue
        row = plain(parsed.value) if fmt == CHAT else None
        if row is None:
            counted = count_record(parsed.value, encoding, fmt)
            row = (counted.total, counted.trainable, counted.messages, counted.answer_start)
        out["tokens"].append(row[0])
        out["trainable"].append(row[1])
        out["messages"].append(row[2])
        out["error"].append(None)
    return pa.RecordBatch.from_pydict(out, schema=pa.schema([
        ("line", pa.int64()), ("tokens", pa.int64()), ("trainable", pa.int64()),
        ("messages", pa.int64()), ("error", pa.string())]))


def count_records(records: list[dict[str, Any]], model: str) -> list[Any]:
    """`ExampleTokens` of each decoded record for `model` (None for one that is no example)."""
    from ftprep.models import get_model
    from ftprep.tokens import count_record

    encoding = get_model(model).encoding
    out = []
    for record in records:
        fmt = detect_format(record)
        out.append(count_record(record, encoding, fmt) if fmt in FORMATS else None)
    return out


def _lines(batch: Any, column: str | None) -> list[bytes]:
    names = list(batch.schema.names)
    name = column or next((c for c in LINE_COLUMNS if c in names), names[0] if names else None)
    if name not in names:
        raise UsageError(f"column={name!r} is not in the batch (columns: {', '.join(names)})")
    return [b"" if v is None else v.encode("utf-8", "surrogatepass")
            for v in batch.column(names.index(name)).to_pylist()]


def _finding_json(finding: Any) -> str:
    import json

    return json.dumps(finding.to_dict(), ensure_ascii=False)
