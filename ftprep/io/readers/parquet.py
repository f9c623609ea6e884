"""Parquet, read in record batches of `BATCH_ROWS` (rows have no line: `Row.line` is None).

`ArrowSource` is the open file: its columns, its record batches (for `convert`'s columnar path,
ftprep.convert.columnar) and the rows of a batch as `Row`s (for everything else)."""
from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Iterator
from typing import Any

from ftprep.errors import InputError
from ftprep.io.readers.input_format import PARQUET
from ftprep.io.readers.rows import Row, require_file, require_unique

BATCH_ROWS = 1024  # Parquet batch size: bounded memory whatever the file size
BATCH_BYTES = 16 << 20  # ...and fewer rows a batch where rows are large (uncompressed bytes)


class ArrowSource:
    """An open Parquet file. Errors while reading become InputError naming the file (and the
    row and column, for text that is not UTF-8)."""

    def __init__(self, path: str) -> None:
        import pyarrow.parquet as pq

        require_file(path, PARQUET)
        self.path = path
        with self._errors():
            self.file = pq.ParquetFile(path)
            self.schema = self.file.schema_arrow
        self.columns = list(self.schema.names)
        require_unique(self.columns, path, None)
        self.narrow = _narrow_float_columns(self.schema)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import pyarrow as pa

        try:
            yield
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"cannot read Parquet: {e}", path=self.path) from None

    def all_rows(self) -> Iterator[Row]:
        n = 1
        for batch in self.batches():
            yield from self.rows(batch, n)
            n += batch.num_rows

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[Any]:
        """The file's record batches (`pyarrow.RecordBatch`) of at most `rows` rows, and of
        about BATCH_BYTES where the file's rows average more than BATCH_BYTES / `rows`."""
        with self._errors():
            yield from self.file.iter_batches(batch_size=self._fitting(rows))

    def _fitting(self, rows: int) -> int:
        meta = self.file.metadata
        total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        per_row = total / meta.num_rows if meta.num_rows else 0
        return max(1, min(rows, int(BATCH_BYTES // per_row))) if per_row else rows

    def rows(self, batch: Any, first: int, indices: Any = None) -> Iterator[Row]:
        """The rows of `batch` as `Row`s: all, or those at `indices` (a pyarrow integer
        array); `first` is the 1-based number of the batch's first row in the file."""
        if indices is not None and not len(indices):
            return
        picked = batch if indices is None else batch.take(indices)
        try:
            values_list = picked.to_pylist()
        except UnicodeDecodeError:
            raise self._not_utf8(batch, first) from None
        numbers = range(first, first + batch.num_rows) if indices is None else \
            (first + i for i in indices.to_pylist())
        for n, values in zip(numbers, values_list, strict=True):
            for name, code in self.narrow.items():
                values[name] = _shortest_float(values[name], code)
            yield Row(n, None, values)

    def _not_utf8(self, batch: Any, first: int) -> InputError:
        """Which row and column hold text that is not UTF-8 (Parquet does not check it)."""
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            for i in range(len(column)):
                try:
                    column[i].as_py()
                except UnicodeDecodeError:
                    return InputError(f"row {first + i}: text that is not valid UTF-8",
                                      path=self.path, field=name)
        return InputError("text that is not valid UTF-8", path=self.path)


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
