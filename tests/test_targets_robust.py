"""`validate --target` on every malformed line validate copes with, for every target: findings,
never a traceback or an internal error."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from tests.test_validate_robust import NASTY

TARGETS = ["openai", "azure", "together", "fireworks", "bedrock", "vertex", "trl", "axolotl",
           "llama-factory"]


def by_format() -> dict[str, str]:
    """The corpus as one file text per record format (a line of another format than the
    file's is rejected before any check: grouping keeps every line checked)."""
    import json

    from ftprep.formats import detect_format

    groups: dict[str, list[str]] = {}
    for line in NASTY.values():
        try:
            fmt = detect_format(json.loads(line))
        except (ValueError, RecursionError):
            fmt = "unparsable"
        groups.setdefault(fmt, []).append(line)
    return {fmt: "".join(f"{line}\n" for line in lines) for fmt, lines in groups.items()}


@pytest.mark.parametrize("target", TARGETS)
def test_nasty_lines_never_crash_validate_target(target: str, tmp_path: Path) -> None:
    path = tmp_path / "nasty.jsonl"
    for fmt, text in by_format().items():
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        r = CliRunner().invoke(main, ["validate", str(path), "--target", target, "--format", "json"])
        assert r.exit_code in (0, 1), (fmt, r.output[-300:])
        assert "internal error" not in r.output, (fmt, r.output)
