"""Every malformed line validate copes with, exported to every target: a reject with a
reason (or a one-line usage error), never a traceback or an internal error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from tests.malformed_corpus import by_format

TARGETS = ["openai", "azure", "together", "fireworks", "bedrock", "vertex", "trl", "axolotl",
           "llama-factory"]


@pytest.mark.parametrize("target", TARGETS)
def test_nasty_lines_never_crash_export(target: str, tmp_path: Path) -> None:
    for fmt, text in by_format().items():
        path = tmp_path / f"nasty-{fmt}.jsonl"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        r = CliRunner().invoke(main, ["export", str(path), "--to", target, "-o",
                                      str(tmp_path / f"out-{fmt}.jsonl"), "--weight0", "drop-example",
                                      "--format", "json"])
        assert r.exit_code in (0, 1, 2), (fmt, r.output[-300:])
        if r.exit_code != 2:  # a summary: exit 1 exactly when something was rejected
            assert (r.exit_code == 1) == (json.loads(r.output)["rejected"] > 0), fmt
        assert "Traceback" not in r.output and "internal error" not in r.output, (fmt, r.output)
