"""Text that came from a server or a data file, made safe to print on a terminal.

A filename, an error message or an event text can carry ANSI/OSC escape sequences (recolour,
retitle or clear the terminal, forge hyperlinks), carriage returns that overwrite what was
printed, newlines that forge extra output lines, and bidi overrides that reorder what is
shown. `printable` makes each such character visible as a backslash escape instead; everything
else (accents, CJK, emoji) is kept as it is.
"""
from __future__ import annotations

# C0 controls, DEL and C1 controls (U+0080-U+009F; U+009B is a one-character CSI), plus the
# Unicode bidi embeddings/overrides/isolates and line/paragraph separators.
_FORMAT_CONTROLS = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0x200E,
                    0x200F, 0x061C]
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), *_FORMAT_CONTROLS]
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ONE_LINE = {code: _escape(code) for code in _CONTROLS}
_MULTI_LINE = {code: text for code, text in _ONE_LINE.items() if chr(code) != "\n"}
_JSON = {code: f"\\u{code:04x}" for code in _CONTROLS if code >= 0x7F}


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` (str() of anything, None → "") with every control character shown as an escape:
    no raw ESC, CR, newline, DEL, C1 control or bidi override reaches the terminal.
    `keep_newlines=True` keeps line breaks, for multi-line blocks such as a file's content."""
    if text is None:
        return ""
    table = _MULTI_LINE if keep_newlines else _ONE_LINE
    return str(text).translate(table)


def json_printable(dumped: str) -> str:
    """A JSON document (from json.dumps with ensure_ascii=False) with the control characters
    JSON leaves raw (DEL, C1, bidi) escaped as \\uXXXX: the same value, safe on a terminal.
    (json.dumps already escapes U+0000-U+001F inside strings.)"""
    return dumped.translate(_JSON)
