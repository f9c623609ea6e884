"""Shared pytest fixtures. Each area keeps its fixtures in its own clearly marked block."""
from __future__ import annotations

# ==== platform area (owner: platform) ======================================================
# A local OpenAI-compatible server and an environment pointing at it, with a recognisable fake
# key so tests can prove it never leaks. Nothing here is autouse: other areas are unaffected.
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.fake_openai import FakeOpenAI

# ==== hypothesis ===========================================================================
# In CI (CI=true) property tests draw the same examples every run: a red build then means a
# change broke something, not that a new random example was drawn. Locally they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

FAKE_KEY = "ftprep-FAKE-SECRET-7f3a9c"  # deliberately not sk-shaped: redaction must be exact


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=FAKE_KEY).start()
    try:
        yield server
    finally:
        server.stop()
    assert server.server_errors == [], "the fake server failed while handling a request"


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


def _chat_lines(n: int, tag: str = "") -> str:
    return "".join(
        f'{{"messages": [{{"role": "user", "content": "question {tag}{i}"}}, '
        f'{{"role": "assistant", "content": "answer {tag}{i}"}}]}}\n'
        for i in range(n)
    )


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(_chat_lines(12), encoding="utf-8")
    return path


@pytest.fixture
def chat_valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "valid.jsonl"
    path.write_text(_chat_lines(10, "v"), encoding="utf-8")
    return path


@pytest.fixture
def preference_file(tmp_path: Path) -> Path:
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(
        f'{{"input": {{"messages": [{{"role": "user", "content": "q{i}"}}]}}, '
        f'"preferred_output": [{{"role": "assistant", "content": "good {i}"}}], '
        f'"non_preferred_output": [{{"role": "assistant", "content": "bad {i}"}}]}}\n'
        for i in range(12)), encoding="utf-8")
    return path


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "broken.jsonl"
    path.write_text(_chat_lines(11) + '{"messages": [\n', encoding="utf-8")
    return path


# ==== end platform area ====================================================================


# ==== open-model tokenizers (owner: opentok) ===============================================
# A real byte-level BPE tokenizer trained offline in a second, and model folders holding it with
# a Llama-3-style template (with {% generation %}) or a Qwen/ChatML one (without). Reusable by
# any area that needs an open model's tokenizer (targets/export round trips).


@pytest.fixture(scope="session")
def open_tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained byte-level BPE tokenizer.json with Llama-3 and ChatML special tokens."""
    pytest.importorskip("tokenizers", reason="the open extra (tokenizers) is not installed")
    from tests.open_models import build_tokenizer_json

    return build_tokenizer_json(tmp_path_factory.mktemp("open-tokenizer") / "tokenizer.json")


@pytest.fixture
def llama3_model_dir(open_tokenizer_json: Path, tmp_path: Path) -> Path:
    """Model folder: tokenizer.json + tokenizer_config.json with a Llama-3-style template."""
    from tests.open_models import LLAMA3_TEMPLATE, write_model_dir

    return write_model_dir(tmp_path / "llama3-tiny", open_tokenizer_json, LLAMA3_TEMPLATE)


@pytest.fixture
def chatml_model_dir(open_tokenizer_json: Path, tmp_path: Path) -> Path:
    """Model folder with a Qwen/ChatML template (no generation blocks, no bos token)."""
    from tests.open_models import CHATML_TEMPLATE, write_model_dir

    return write_model_dir(tmp_path / "chatml-tiny", open_tokenizer_json, CHATML_TEMPLATE,
                           bos=None, eos="<|im_end|>")


# ==== end open-model tokenizers ============================================================
