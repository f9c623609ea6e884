"""Streaming table readers: CSV, TSV, Parquet, JSONL, JSON arrays and XLSX (and `.gz` of the
text formats), all yielding one `Row` at a time with its location so that errors and rejects
can name it. Nothing reads a whole file into memory.

Text formats are decoded incrementally (``--encoding``, default UTF-8; UTF-8/16/32 byte order
marks are honoured) so that a decode failure names the physical line and byte offset.

Layout: `table` opens an input (`open_table`) and hands it to the reader for its format:
`delimited` (CSV, TSV), `json_lines`, `json_array`, `parquet`, `xlsx`. They share `rows` (`Row`,
`Table`, header checks), `text_lines` (incremental decoding) and, for the two JSON readers,
`json_objects`. Tunables live in the module that uses them, so patch them there:
`text_lines.BLOCK`, `delimited.CSV_FIELD_LIMIT`, `parquet.BATCH_ROWS`.
"""
from ftprep.io.readers.input_format import INPUT_FORMATS, detect_input_format
from ftprep.io.readers.rows import Row, Table
from ftprep.io.readers.table import open_table
from ftprep.io.readers.text_lines import iter_text_lines
from ftprep.io.readers.xlsx import CellError

__all__ = [
    "INPUT_FORMATS",
    "CellError",
    "Row",
    "Table",
    "detect_input_format",
    "iter_text_lines",
    "open_table",
]
