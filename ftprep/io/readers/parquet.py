"""Parquet, read in record batches of `BATCH_ROWS` (rows have no line: `Row.line` is None)."""
from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers.input_format import PARQUET
from ftprep.io.readers.rows import Row, require_file, require_unique

BATCH_ROWS = 1024  # Parquet batch size: bounded memory whatever the file size


def parquet_rows(path: str, encoding: str | None) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    require_file(path, PARQUET)
    try:
        pf = pq.ParquetFile(path)
        columns = list(pf.schema_arrow.names)
        require_unique(columns, path, None)
        narrow = _narrow_float_columns(pf.schema_arrow)
        yield columns
        n = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            for values in batch.to_pylist():
                n += 1
                for name, code in narrow.items():
                    values[name] = _shortest_float(values[name], code)
                yield Row(n, None, values)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"cannot read Parquet: {e}", path=path) from None


def _narrow_float_columns(schema: Any) -> dict[str, str]:
    """Top-level float32/float16 columns → their struct format code ('f' / 'e')."""
    import pyarrow as pa

    out: dict[str, str] = {}
    for f in schema:
        if pa.types.is_float32(f.type):
            out[f.name] = "f"
        elif pa.types.is_float16(f.type):
            out[f.name] = "e"
    return out


def _shortest_float(value: Any, code: str) -> Any:
    """A float32 0.1 arrives as 0.10000000149011612; give back the shortest decimal that is
    the same float32 (0.1), which is what the table showed and what the text should say."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack(code, struct.pack(code, candidate))[0] == value:
            return candidate
    return value
