"""Rules the engine itself checks while reading: lines that are not records, and the file
as a whole (size, JSON saved as .jsonl, formats mixed in one file)."""
from __future__ import annotations

from ftprep.findings import Severity
from ftprep.rules.base import rule

E, W = Severity.ERROR, Severity.WARNING

INVALID_JSON = rule(
    "FT101", "invalid-json", E, "The line is not valid JSON.",
    why="Each line of a JSONL file must be one complete JSON document; the platform rejects "
    "the file at the first line that is not.",
    fix="Fix the line (often an unescaped quote or newline, or a truncated write), or "
    "regenerate the file with `ftprep convert`.",
)
NOT_AN_OBJECT = rule(
    "FT102", "not-an-object", E, "The line is JSON but not an object.",
    why="Every example is a JSON object such as {\"messages\": [...]}; arrays, strings and "
    "numbers are not examples.",
    fix="Wrap the value in the expected object, or remove the line.",
)
BLANK_LINE = rule(
    "FT103", "blank-line", E, "The line is empty or only whitespace.",
    why="Blank lines are not valid JSONL; strict readers, including the platform's, reject them.",
    fix="Delete the blank lines (a trailing newline at the end of the file is fine).",
)
INVALID_UTF8 = rule(
    "FT104", "invalid-utf8", E, "The line is not valid UTF-8.",
    why="Training files must be UTF-8; other encodings turn into garbage or are rejected.",
    fix="Re-encode the source (`ftprep convert --encoding gb18030 ...` reads other encodings).",
)
JSON_ARRAY_FILE = rule(
    "FT105", "json-array-file", E, "The file is a JSON array, not JSON Lines.",
    why="JSONL has one example per line; a `[...]` document is read as one broken line.",
    fix="Convert it: `ftprep convert data.json -o data.jsonl`.",
)
PRETTY_PRINTED = rule(
    "FT106", "pretty-printed-json", E, "The file holds pretty-printed JSON spread over lines.",
    why="Each example must sit on a single line; indented JSON splits one example over many.",
    fix="Re-serialise one object per line (`ftprep convert data.json -o data.jsonl`).",
)
FILE_TOO_LARGE = rule(
    "FT108", "file-too-large", E, "The file is larger than the platform's 512 MB limit.",
    why="Training files above 512 MB are refused at upload.",
    fix="Split the data, deduplicate it, or trim long examples.",
)
MIXED_FORMATS = rule(
    "FT110", "mixed-formats", E, "This line's format differs from the file's format.",
    why="A file is chat, preference or completion data as a whole; the platform parses every "
    "line with one format and rejects the others.",
    fix="Move the line to a file of its own format, or convert it.",
)
