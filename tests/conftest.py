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


def _real_backend_works(module: str, attr: str, call: str) -> bool:
    """True when another area's function exists and runs on a small chat file."""
    import importlib
    import tempfile

    try:
        fn = getattr(importlib.import_module(module), attr)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "probe.jsonl"
            path.write_text(_chat_lines(12), encoding="utf-8")
            eval(call, {"fn": fn, "path": path})  # noqa: S307 - fixed local expressions
        return True
    except (ImportError, AttributeError):
        return False


@pytest.fixture
def submit_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """`submit` validates with ftprep.validate and estimates with ftprep.estimate (other
    areas). Where one is not merged yet, a faithful stand-in replaces the adapter; the returned
    dict says which real functions are in use, so tests can assert their specific output."""
    from ftprep.platform import submit as submit_mod

    real = {
        "validate": _real_backend_works(
            "ftprep.validate", "validate_file", "fn(path, model='gpt-4o-mini-2024-07-18')"),
        "estimate": _real_backend_works(
            "ftprep.estimate", "estimate_file",
            "fn(path, model='gpt-4o-mini-2024-07-18', epochs=None, validation=None)"),
    }
    if not real["validate"]:
        monkeypatch.setattr(submit_mod, "validate_adapter", _standin_validate)
    if not real["estimate"]:
        monkeypatch.setattr(submit_mod, "estimate_adapter", _standin_estimate)
    return real


def _standin_validate(path: str | Path, model: str) -> object:
    from dataclasses import dataclass, field

    from ftprep.findings import Finding, Severity
    from ftprep.formats import detect_format
    from ftprep.io.jsonl import iter_json_lines

    @dataclass
    class Report:
        path: str
        format: str = "unknown"
        examples: int = 0
        findings: list = field(default_factory=list)

        @property
        def errors(self) -> int:
            return sum(f.severity == Severity.ERROR for f in self.findings)

        warnings = 0

        @property
        def ok(self) -> bool:
            return self.errors == 0

        def to_dict(self) -> dict:
            return {"path": self.path, "format": self.format, "examples": self.examples,
                    "ok": self.ok, "findings": [f.to_dict() for f in self.findings]}

    report = Report(str(path))
    for jl in iter_json_lines(path):
        if jl.error:
            report.findings.append(Finding("FT001", Severity.ERROR, jl.line, "", jl.detail))
            continue
        report.examples += 1
        report.format = detect_format(jl.value)
    return report


def _standin_estimate(path: str | Path, model: str, epochs: int | None,
                      validation: str | Path | None) -> object:
    from types import SimpleNamespace

    tokens = Path(path).stat().st_size // 4 * (epochs or 3)
    return SimpleNamespace(
        cost_usd=tokens * 3e-6, billed_tokens=tokens, epochs=epochs or 3, warnings=[],
        to_dict=lambda: {"cost_usd": tokens * 3e-6, "billed_tokens": tokens,
                         "epochs": epochs or 3, "warnings": []})
# ==== end platform area ====================================================================
