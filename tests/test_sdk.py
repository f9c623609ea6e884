"""TrainGPT (Python SDK) against the local OpenAI-compatible server: every method."""
from __future__ import annotations

from pathlib import Path

import pytest

from ftprep.count import count_file
from ftprep.errors import PlatformError, UsageError
from ftprep.platform.sdk import TrainGPT
from ftprep.platform.uploads import UploadState
from tests.conftest import FAKE_KEY
from tests.fake_openai import FakeOpenAI

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def tg(platform_env: FakeOpenAI) -> TrainGPT:
    return TrainGPT()


def finish(tg: TrainGPT, job_id: str) -> object:
    job = tg.get_job_details(job_id)
    while job.status not in ("succeeded", "failed", "cancelled"):
        job = tg.get_job_details(job_id)
    return job


def test_files_lifecycle(tg: TrainGPT, platform_env: FakeOpenAI, chat_file: Path) -> None:
    created = tg.create_file(chat_file)
    assert not created.reused and created.file_id in platform_env.files
    assert tg.create_file(chat_file).file_id == created.file_id  # same content: reused
    assert [f.id for f in tg.list_files()] == [created.file_id]
    assert tg.list_files(purpose="batch") == []
    details = tg.get_file_details(created.file_id)
    assert details.filename == created.filename and details.bytes == created.bytes
    deleted = tg.delete_file(created.file_id)
    assert deleted.deleted is True and platform_env.files == {}


def test_create_file_in_parts(tg: TrainGPT, platform_env: FakeOpenAI, chat_file: Path,
                              tmp_path: Path) -> None:
    result = tg.create_file(chat_file, part_threshold=1, part_size=100,
                            state=UploadState(tmp_path / "s.json"))
    assert result.method == "uploads"
    assert platform_env.contents[result.file_id] == chat_file.read_bytes()
    assert (tmp_path / "s.json").exists()


def test_training_jobs_events_cancel(tg: TrainGPT, platform_env: FakeOpenAI,
                                     chat_file: Path) -> None:
    file_id = tg.create_file(chat_file).file_id
    job = tg.start_training(file_id, model=BASE, epochs=2, suffix="sdk", metadata={"a": "b"})
    assert job.status == "validating_files" and job.training_file == file_id
    assert platform_env.jobs[job.id]["method"]["supervised"]["hyperparameters"] == {"n_epochs": 2}
    assert [j.id for j in tg.list_jobs()] == [job.id]
    done = finish(tg, job.id)
    assert done.status == "succeeded" and done.fine_tuned_model.endswith(job.id[-6:])
    messages = [e.message for e in tg.list_events(job.id, limit=100)]
    assert messages[0] == "The job has successfully completed"  # newest first, as the API
    second = tg.start_training(file_id, model=BASE)
    assert tg.cancel_job(second.id).status == "cancelled"
    with pytest.raises(PlatformError, match="conflict"):
        tg.cancel_job(second.id)


def test_start_training_sends_an_alias_as_its_snapshot(tg: TrainGPT, platform_env: FakeOpenAI,
                                                       chat_file: Path) -> None:
    job = tg.start_training(tg.create_file(chat_file).file_id, model="gpt-4o-mini")
    assert job.model == "gpt-4o-mini-2024-07-18"
    assert platform_env.jobs[job.id]["model"] == "gpt-4o-mini-2024-07-18"


def test_start_training_rejects_bad_combinations(tg: TrainGPT) -> None:
    with pytest.raises(UsageError, match="beta"):
        tg.start_training("file-x", model=BASE, beta=0.1)
    with pytest.raises(UsageError, match="preference"):
        tg.start_training("file-x", model=BASE, data_format="preference", method="supervised")


def test_models(tg: TrainGPT, platform_env: FakeOpenAI, chat_file: Path) -> None:
    file_id = tg.create_file(chat_file).file_id
    tuned = finish(tg, tg.start_training(file_id, model=BASE).id).fine_tuned_model
    assert {m.id for m in tg.list_models()} == set(platform_env.models)
    assert [m.id for m in tg.list_models(fine_tuned=True)] == [tuned]
    assert tuned not in {m.id for m in tg.list_models(fine_tuned=False)}
    assert [m.id for m in tg.list_models(owner="openai")] == ["davinci-002"]
    assert tg.list_models_summaries() == {"openai": 1, "org-fake": 1, "system": 3}
    by_owner = tg.list_models_by_owner()
    assert by_owner["org-fake"] == [tuned] and list(by_owner) == sorted(by_owner)
    assert tg.get_model_details(tuned).owned_by == "org-fake"
    assert tg.delete_model(tuned).deleted is True
    with pytest.raises(PlatformError, match="not found"):
        tg.get_model_details(tuned)


def test_errors_are_platform_errors_without_key(platform_env: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.setenv("SDK_TOKEN", "sdk-SECRET-value-99")
    tg = TrainGPT(api_key_env="SDK_TOKEN", max_retries=0)
    with pytest.raises(PlatformError) as info:
        tg.list_files()
    assert "401" in str(info.value) and "sdk-SECRET-value-99" not in str(info.value)
    monkeypatch.delenv("SDK_TOKEN")
    with pytest.raises(UsageError, match="SDK_TOKEN"):
        TrainGPT(api_key_env="SDK_TOKEN")


def test_explicit_base_url_and_azure(fake_openai: FakeOpenAI, monkeypatch,
                                     tmp_path: Path) -> None:
    monkeypatch.setenv("FTPREP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_KEY)
    azure = TrainGPT("azure", base_url=fake_openai.root, api_version="2024-10-21")
    assert len(azure.list_models()) == len(fake_openai.models)
    assert fake_openai.requests[-1].query["api-version"] == "2024-10-21"
    assert fake_openai.requests[-1].raw_path == "/openai/models"


def test_get_token_count_uses_the_counter(chat_file: Path) -> None:
    expected = count_file(chat_file, model=BASE).total_tokens
    assert TrainGPT.get_token_count(chat_file, BASE) == expected > 0
