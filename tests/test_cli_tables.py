"""Text tables of the platform commands show API times as UTC dates; JSON keeps the integers."""
from __future__ import annotations

from ftprep.cli.platform_cmd import _cell


def test_created_columns_render_unix_seconds_as_utc() -> None:
    assert _cell(1764000001, True) == "2025-11-24 16:00:01Z"
    assert _cell(1764000001, False) == "1764000001"
    assert _cell(None, True) == ""
    assert _cell("already text", True) == "already text"


def test_costs_under_a_cent_are_not_shown_as_zero() -> None:
    from ftprep.cli.common import usd

    assert usd(2.4) == "$2.40"
    assert usd(1234.5) == "$1,234.50"
    assert usd(0.0069) == "$0.0069"
    assert usd(0.01386) == "$0.01"
    assert usd(0.00001) == "<$0.0001"
    assert usd(0) == "$0.00"
