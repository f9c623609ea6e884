"""`printable`: text from servers and data files cannot drive the terminal."""
from __future__ import annotations

import json

import pytest

from ftprep.text import json_printable, printable

HOSTILE = [
    ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),  # CSI: clear screen, recolour
    ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),  # OSC: retitle the terminal
    ("\x1b]8;;http://evil\x1b\\link", "\\x1b]8;;http://evil\\x1b\\link"),  # OSC 8 hyperlink
    ("ok\rforged", "ok\\rforged"),  # CR overwrites what was printed
    ("one\ntwo", "one\\ntwo"),  # a forged second line
    ("\x9b31m", "\\x9b31m"),  # the one-character C1 CSI
    ("a\x7fb\x00c", "a\\x7fb\\x00c"),
    ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_control_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_ordinary_text_is_unchanged() -> None:
    text = "café — 東京 🙂 tab-free 'quotes' \\ backslash"
    assert printable(text) == text


def test_none_is_empty_and_other_values_are_stringified() -> None:
    assert printable(None) == ""
    assert printable(42) == "42"


def test_keep_newlines_keeps_only_line_breaks() -> None:
    assert printable("a\nb\x1b[0m\r", keep_newlines=True) == "a\nb\\x1b[0m\\r"


def test_json_printable_keeps_the_value_and_escapes_what_json_leaves_raw() -> None:
    value = {"name": "a\x9b31m\x7f\u202eb\x1b"}
    dumped = json.dumps(value, ensure_ascii=False)
    safe = json_printable(dumped)
    assert json.loads(safe) == value
    assert not any(c in safe for c in "\x9b\x7f\u202e\x1b")
