"""Shared pytest fixtures. Each area keeps its fixtures in its own clearly marked block."""
from __future__ import annotations

# ==== platform area (owner: platform) ======================================================
# A local OpenAI-compatible server and an environment pointing at it, with a recognisable fake
# key so tests can prove it never leaks. Nothing here is autouse: other areas are unaffected.
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

FAKE_KEY = "ftprep-FAKE-SECRET-7f3a9c"  # deliberately not sk-shaped: redaction must be exact


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=FAKE_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def platform_env(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeOpenAI:
    """OPENAI_* variables aimed at the fake server; upload state in tmp; fast retries."""
    for name in ("OPENAI_ORG_ID", "OPENAI_ORGANIZATION", "OPENAI_PROJECT_ID",
                 "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION",
                 "FTPREP_PROVIDER", "OPENAI_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("FTPREP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FTPREP_MAX_RETRIES", "2")
    monkeypatch.setenv("FTPREP_POLL_INTERVAL", "0")
    return fake_openai
# ==== end platform area ====================================================================
