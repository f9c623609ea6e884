"""Reading inputs in batches and writing outputs atomically."""
from ftprep.io.jsonl import JsonLine, iter_json_lines, open_binary
from ftprep.io.writer import atomic_writer, write_jsonl

__all__ = ["JsonLine", "atomic_writer", "iter_json_lines", "open_binary", "write_jsonl"]
