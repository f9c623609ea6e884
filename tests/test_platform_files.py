"""`ftprep files ...` and the upload-once logic against the local OpenAI-compatible server."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ftprep.cli import main
from tests.fake_openai import FakeOpenAI, Fault


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def upload_json(path: Path, *extra: str) -> dict:
    result = run("files", "upload", str(path), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_upload_sends_hashed_name_with_fine_tune_purpose(platform_env: FakeOpenAI,
                                                         chat_file: Path) -> None:
    data = upload_json(chat_file)
    assert data["source"] == "uploaded" and data["method"] == "files"
    stored = platform_env.files[data["file_id"]]
    assert stored["purpose"] == "fine-tune"
    assert stored["filename"] == f"train.{data['sha256'][:12]}.jsonl"
    assert platform_env.contents[data["file_id"]] == chat_file.read_bytes()


def test_same_content_is_not_uploaded_twice(platform_env: FakeOpenAI, chat_file: Path,
                                            tmp_path: Path, monkeypatch) -> None:
    first = upload_json(chat_file)
    second = upload_json(chat_file)
    assert second["file_id"] == first["file_id"] and second["source"] == "state"
    # A fresh machine (no local state) still finds it through files.list by its hashed name.
    monkeypatch.setenv("FTPREP_STATE_DIR", str(tmp_path / "other-state"))
    third = upload_json(chat_file)
    assert third["file_id"] == first["file_id"] and third["source"] == "remote"
    assert len(platform_env.calls("POST", "/files")) == 1
    assert len(platform_env.files) == 1


def test_changed_content_is_uploaded_again(platform_env: FakeOpenAI, chat_file: Path) -> None:
    first = upload_json(chat_file)
    chat_file.write_text(chat_file.read_text() + chat_file.read_text().splitlines()[0] + "\n")
    second = upload_json(chat_file)
    assert second["file_id"] != first["file_id"] and second["source"] == "uploaded"


def test_file_deleted_remotely_is_uploaded_again(platform_env: FakeOpenAI,
                                                 chat_file: Path) -> None:
    first = upload_json(chat_file)
    assert run("files", "delete", first["file_id"]).exit_code == 0
    second = upload_json(chat_file)
    assert second["source"] == "uploaded" and second["file_id"] != first["file_id"]


def test_large_file_goes_through_uploads_api_in_parts(platform_env: FakeOpenAI,
                                                      chat_file: Path) -> None:
    size = chat_file.stat().st_size
    data = upload_json(chat_file, "--part-threshold", "100", "--part-size", "256")
    assert data["method"] == "uploads"
    parts = platform_env.calls("POST", r"/uploads/[^/]+/parts")
    assert len(parts) == -(-size // 256)  # ceil: every byte sent, in order
    assert platform_env.calls("POST", "/files") == []
    assert platform_env.contents[data["file_id"]] == chat_file.read_bytes()
    upload = next(iter(platform_env.uploads.values()))
    assert upload["status"] == "completed" and upload["bytes"] == size


def test_dropped_connection_after_store_does_not_duplicate(platform_env: FakeOpenAI,
                                                           chat_file: Path) -> None:
    platform_env.faults.append(Fault("POST", "/files", kind="drop"))
    data = upload_json(chat_file)
    assert data["source"] == "remote"  # recovered from files.list, not re-sent
    assert len(platform_env.calls("POST", "/files")) == 1
    assert len(platform_env.files) == 1


def test_dropped_complete_in_parts_path_does_not_duplicate(platform_env: FakeOpenAI,
                                                           chat_file: Path) -> None:
    platform_env.faults.append(Fault("POST", r"/uploads/[^/]+/complete", kind="drop"))
    data = upload_json(chat_file, "--part-threshold", "10", "--part-size", "512")
    assert data["source"] == "remote"
    assert len(platform_env.files) == 1
    assert len(platform_env.calls("POST", r"/uploads/[^/]+/complete")) == 1


def test_dropped_before_store_is_retried(platform_env: FakeOpenAI, chat_file: Path) -> None:
    # 500 = nothing stored; the SDK retries (retry-after-ms: 1) and the second try succeeds.
    platform_env.faults.append(Fault("POST", "/files", status=500))
    data = upload_json(chat_file)
    assert data["source"] == "uploaded"
    assert len(platform_env.files) == 1


def test_upload_of_missing_file_names_it(platform_env: FakeOpenAI, tmp_path: Path) -> None:
    result = run("files", "upload", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "nope.jsonl" in result.stderr and "no such file" in result.stderr.lower()


def test_list_get_content_delete(platform_env: FakeOpenAI, chat_file: Path,
                                 tmp_path: Path) -> None:
    file_id = upload_json(chat_file)["file_id"]
    platform_env.add_file("results.csv", b"step,train_loss\n1,2.0\n", "fine-tune-results")

    listed = run("files", "list", "--format", "json")
    assert listed.exit_code == 0
    assert {f["id"] for f in json.loads(listed.stdout)["data"]} == set(platform_env.files)
    only_ft = json.loads(run("files", "list", "--purpose", "fine-tune", "--format",
                             "json").stdout)["data"]
    assert [f["id"] for f in only_ft] == [file_id]
    text = run("files", "list")
    assert "FILENAME" in text.stdout and "train." in text.stdout

    got = run("files", "get", file_id, "--format", "json")
    assert json.loads(got.stdout)["bytes"] == chat_file.stat().st_size
    assert f"id: {file_id}" in run("files", "get", file_id).stdout

    out = tmp_path / "copy.jsonl"
    assert run("files", "content", file_id, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == chat_file.read_bytes()
    assert run("files", "content", file_id).stdout_bytes == chat_file.read_bytes()

    deleted = run("files", "delete", file_id, "--format", "json")
    assert json.loads(deleted.stdout) == {"id": file_id, "object": "file", "deleted": True}
    assert file_id not in platform_env.files
    gone = run("files", "get", file_id)
    assert gone.exit_code == 2 and "not found (404)" in gone.stderr


def test_files_list_follows_pagination(platform_env: FakeOpenAI, monkeypatch) -> None:
    for i in range(5):
        platform_env.add_file(f"f{i}.jsonl", b"{}\n")
    from ftprep.platform.client import PlatformClient
    from ftprep.platform.config import resolve_config

    client = PlatformClient(resolve_config())
    pages = []
    original = client.sdk.files.list
    monkeypatch.setattr(client.sdk.files, "list",
                        lambda **kw: pages.append(kw) or original(limit=2, **kw))
    assert len(client.list_files()) == 5
    assert len(platform_env.calls("GET", "/files")) == 3  # 2 + 2 + 1, via `after`
    assert "after" in platform_env.calls("GET", "/files")[-1].query


def test_gzip_is_refused_before_upload(platform_env: FakeOpenAI, chat_file: Path,
                                       tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "train.jsonl.gz"
    packed.write_bytes(gzip.compress(chat_file.read_bytes()))
    result = run("files", "upload", str(packed))
    assert result.exit_code == 2 and "gzip-compressed" in result.stderr
    assert str(packed) in result.stderr and platform_env.requests == []
