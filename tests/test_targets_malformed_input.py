"""`validate --target` on every malformed line validate copes with, for every target: findings,
never a traceback or an internal error."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from tests.malformed_corpus import by_format

TARGETS = ["openai", "azure", "together", "fireworks", "bedrock", "vertex", "trl", "axolotl",
           "llama-factory"]


@pytest.mark.parametrize("target", TARGETS)
def test_nasty_lines_never_crash_validate_target(target: str, tmp_path: Path) -> None:
    path = tmp_path / "nasty.jsonl"
    for fmt, text in by_format().items():
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        r = CliRunner().invoke(main, ["validate", str(path), "--target", target, "--format", "json"])
        assert r.exit_code in (0, 1), (fmt, r.output[-300:])
        assert "internal error" not in r.output, (fmt, r.output)
