"""A hostile or broken OpenAI-compatible server (issue 12, items 4-10): every misbehaviour
ends in one honest line (exit 2) or the right result; loops are bounded; nothing is billed
twice. Loopback only: the fake server in tests/fake_openai with fault injection."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ftprep.cli import main
from tests.fake_openai import FakeOpenAI, Fault

FTPREP = str(Path(sys.executable).with_name("ftprep"))
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\rforged\nline\x9b31m"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_neutral(text: str) -> None:
    assert not any(c in text for c in "\x1b\x07\r\x9b"), repr(text)


# -- item 10: server text is printed neutralised -------------------------------------------
def test_server_filenames_cannot_drive_the_terminal(platform_env: FakeOpenAI) -> None:
    platform_env.add_file(f"evil{ESCAPES}.jsonl", b"{}\n")
    proc = subprocess.run([FTPREP, "files", "list"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert_neutral(proc.stdout)
    assert len(proc.stdout.splitlines()) == 2  # the header and one file: no forged line
    assert "evil\\x1b]0;pwned\\x07" in proc.stdout
    as_json = run("files", "list", "--format", "json")
    assert_neutral(as_json.stdout)
    assert json.loads(as_json.stdout)["data"][0]["filename"] == f"evil{ESCAPES}.jsonl"


def test_server_error_messages_are_one_neutral_line(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", r"/files/.*", status=400, message=ESCAPES))
    result = run("files", "get", "file-1")
    assert result.exit_code == 2
    assert_neutral(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1


def test_event_text_is_neutralised_in_events_and_watch(platform_env: FakeOpenAI,
                                                      chat_file: Path) -> None:
    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    created = platform_env.create_job(_job_request(train["id"]))
    platform_env._event(created["id"], f"hello{ESCAPES}")
    events = run("jobs", "events", created["id"])
    assert events.exit_code == 0, events.output
    assert_neutral(events.stdout)
    watch = run("jobs", "watch", created["id"])
    assert watch.exit_code == 0, watch.output
    assert_neutral(watch.output)
    assert "hello\\x1b]0;pwned" in watch.output


def _job_request(training_file: str):
    from tests.fake_openai.server import Request

    body = json.dumps({"model": "gpt-4o-mini-2024-07-18", "training_file": training_file})
    return Request("POST", "/fine_tuning/jobs", {}, {}, body.encode())


# -- item 4: a job whose creation answer was lost is not created twice ---------------------
def _client(**overrides):
    from ftprep.platform.client import PlatformClient
    from ftprep.platform.config import resolve_config

    return PlatformClient(resolve_config(**overrides))


def _no_sleep(_seconds: float) -> None:
    pass


def test_lost_job_creation_answer_is_recovered_not_resent(platform_env: FakeOpenAI,
                                                          chat_file: Path) -> None:
    from ftprep.platform.jobs import create_job

    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    # The server commits the job, then the connection drops before the answer arrives.
    platform_env.faults.append(Fault("POST", "/fine_tuning/jobs", kind="drop"))
    created = create_job(_client(), {"model": "gpt-4o-mini-2024-07-18",
                                     "training_file": train["id"]}, sleep=_no_sleep)
    assert created.recovered and len(platform_env.jobs) == 1
    assert created.job.id in platform_env.jobs
    assert len(platform_env.calls("POST", "/fine_tuning/jobs")) == 1  # never re-sent
    sent = platform_env.calls("POST", "/fine_tuning/jobs")[0]
    assert sent.headers["idempotency-key"] == created.request_id
    assert created.job.metadata["ftprep_request_id"] == created.request_id


def test_job_stored_after_the_timeout_is_found_by_waiting(platform_env: FakeOpenAI,
                                                         chat_file: Path) -> None:
    from ftprep.platform.jobs import create_job

    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    platform_env.faults.append(Fault("POST", "/fine_tuning/jobs", kind="late", hidden_lists=3))
    waits: list[float] = []
    created = create_job(_client(), {"model": "gpt-4o-mini-2024-07-18",
                                     "training_file": train["id"]}, sleep=waits.append)
    assert created.recovered and len(platform_env.jobs) == 1
    assert len(waits) == 3  # looked again three times before the job showed up


def test_submit_reports_the_one_job_when_its_answer_is_lost(platform_env: FakeOpenAI,
                                                            chat_file: Path) -> None:
    platform_env.faults.append(Fault("POST", "/fine_tuning/jobs", kind="drop"))
    result = run("submit", str(chat_file), "--model", "gpt-4o-mini", "--yes",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["job_request"]["recovered"] is True
    assert list(platform_env.jobs) == [data["job"]["id"]]


def test_a_job_creation_that_did_not_happen_is_sent_again(platform_env: FakeOpenAI,
                                                          chat_file: Path) -> None:
    from ftprep.platform.jobs import create_job

    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    platform_env.faults.append(Fault("POST", "/fine_tuning/jobs", status=503))
    created = create_job(_client(), {"model": "gpt-4o-mini-2024-07-18",
                                     "training_file": train["id"]}, sleep=_no_sleep)
    assert not created.recovered and created.attempts == 2 and len(platform_env.jobs) == 1


# -- item 5: an upload stored after ftprep's timeout is not uploaded again -----------------
def test_upload_stored_after_the_timeout_is_not_sent_twice(platform_env: FakeOpenAI,
                                                          chat_file: Path,
                                                          tmp_path: Path) -> None:
    from ftprep.platform.uploads import UploadState, upload_file

    platform_env.faults.append(Fault("POST", "/files", kind="late", hidden_lists=2))
    waits: list[float] = []
    result = upload_file(_client(), chat_file, state=UploadState(tmp_path / "u.json"),
                         sleep=waits.append)
    assert result.source == "remote" and len(platform_env.files) == 1
    assert len(platform_env.calls("POST", "/files")) == 1
    assert waits == [0.5, 1.0]


def test_upload_late_in_a_real_subprocess(platform_env: FakeOpenAI, chat_file: Path) -> None:
    platform_env.faults.append(Fault("POST", "/files", kind="late", hidden_lists=1))
    proc = subprocess.run([FTPREP, "files", "upload", str(chat_file), "--format", "json"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["source"] == "remote" and len(platform_env.files) == 1


# -- item 6: a remembered upload is verified before reuse -----------------------------------
def test_remembered_upload_in_error_state_is_not_reused(platform_env: FakeOpenAI,
                                                        chat_file: Path) -> None:
    first = json.loads(run("files", "upload", str(chat_file), "--format", "json").stdout)
    platform_env.files[first["file_id"]]["status"] = "error"
    second = run("files", "upload", str(chat_file), "--format", "json")
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["source"] == "uploaded" and again["file_id"] != first["file_id"]


def test_remembered_upload_reported_deleted_is_not_reused(platform_env: FakeOpenAI,
                                                          chat_file: Path) -> None:
    first = json.loads(run("files", "upload", str(chat_file), "--format", "json").stdout)
    platform_env.files[first["file_id"]]["status"] = "deleted"
    again = json.loads(run("files", "upload", str(chat_file), "--format", "json").stdout)
    assert again["source"] == "uploaded" and again["file_id"] != first["file_id"]


# -- item 7: pagination is bounded ----------------------------------------------------------
FOREVER_FILES = json.dumps({"object": "list", "has_more": True, "data": [
    {"id": "file-x", "object": "file", "bytes": 1, "created_at": 1, "filename": "a.jsonl",
     "purpose": "fine-tune", "status": "processed"}]}).encode()


def test_files_list_with_a_cursor_that_never_moves_stops(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/files", kind="body", status=200,
                                     body=FOREVER_FILES, times=1000))
    result = run("files", "list")
    assert result.exit_code == 2
    assert "GET /files" in result.stderr and "cursor does not move" in result.stderr
    assert len(platform_env.calls("GET", "/files")) == 2


def test_submit_dedupe_check_with_an_endless_list_stops(platform_env: FakeOpenAI,
                                                        chat_file: Path) -> None:
    platform_env.faults.append(Fault("GET", "/files", kind="body", status=200,
                                     body=FOREVER_FILES, times=1000))
    result = run("submit", str(chat_file), "--model", "gpt-4o-mini", "--yes")
    assert result.exit_code == 2 and "cursor does not move" in result.stderr
    assert platform_env.jobs == {} and platform_env.calls("POST", "/files") == []


def test_a_list_whose_cursor_moves_forever_is_bounded(platform_env: FakeOpenAI) -> None:
    counter = iter(range(10**6))

    def fresh_page(_req) -> bytes:
        page = json.loads(FOREVER_FILES)
        page["data"][0]["id"] = f"file-{next(counter)}"
        return json.dumps(page).encode()

    platform_env.faults.append(Fault("GET", "/files", kind="body", status=200,
                                     body=fresh_page, times=1000))
    client = _client()
    client.max_pages = 5
    from ftprep.errors import PlatformError

    try:
        client.list_files()
    except PlatformError as e:
        assert "after 5 pages" in str(e)
    else:
        raise AssertionError("an endless listing must stop")
    assert len(platform_env.calls("GET", "/files")) == 5


def test_job_events_that_page_forever_stop_the_watch(platform_env: FakeOpenAI,
                                                     chat_file: Path) -> None:
    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    job = platform_env.create_job(_job_request(train["id"]))
    event = {"object": "fine_tuning.job.event", "id": "ev-1", "created_at": 1,
             "level": "info", "message": "again", "data": {}, "type": "message"}
    body = json.dumps({"object": "list", "data": [event], "has_more": True}).encode()
    platform_env.faults.append(Fault("GET", r"/fine_tuning/jobs/.*/events", kind="body",
                                     status=200, body=body, times=1000))
    result = run("jobs", "watch", job["id"])
    assert result.exit_code == 2 and "cursor does not move" in result.stderr


# -- item 8: broken answers are one line naming the endpoint, exit 2 -----------------------
BROKEN = [
    (b'{"id": "file-1", "obj', "application/json", "not valid JSON"),
    (b"<!doctype html><html><body>Sign in</body></html>", "text/html", "not JSON but text"),
    (b"[1, 2]", "application/json", "expected a file object, got array"),
    (b'{"id": 5, "filename": "a"}', "application/json", "has id number 5, expected a string"),
    (b'{"id": "file-1", "bytes": 3}', "application/json", "has filename null"),
]


def test_broken_answers_are_one_line_naming_the_endpoint(platform_env: FakeOpenAI) -> None:
    for body, ctype, problem in BROKEN:
        platform_env.faults.append(Fault("GET", "/files/file-1", kind="body", status=200,
                                         body=body, content_type=ctype))
        result = run("files", "get", "file-1")
        assert result.exit_code == 2, (body, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "internal error" not in lines[0], lines
        assert "GET /files/file-1" in lines[0] and problem in lines[0], lines[0]


def test_broken_list_answers_in_a_real_subprocess(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", kind="body", status=200,
                                     body=b'{"data": "nope"}'))
    proc = subprocess.run([FTPREP, "models", "list"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ftprep: error: GET /models: expected a list")


def _finished_job(server: FakeOpenAI, chat_file: Path, csv_bytes: bytes) -> str:
    train = server.add_file("train.jsonl", chat_file.read_bytes())
    job = server.create_job(_job_request(train["id"]))
    result = server.add_file("step_metrics.csv", csv_bytes, "fine-tune-results")
    server.jobs[job["id"]].update(status="succeeded", result_files=[result["id"]])
    return str(job["id"])


def test_result_csv_with_nan_gives_valid_json(platform_env: FakeOpenAI,
                                              chat_file: Path) -> None:
    job = _finished_job(platform_env, chat_file,
                        b"step,train_loss,valid_loss\n1,nan,inf\n2,1.5,NaN\n3,1.0,2.0\n")
    result = run("jobs", "metrics", job, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # strict JSON: no NaN literal reached the output
    assert data["series"]["train_loss"]["count"] == 2 and data["skipped"] == 3


def test_result_csv_with_extra_columns_or_binary_is_one_line(platform_env: FakeOpenAI,
                                                            chat_file: Path) -> None:
    for content, problem in [(b"step,train_loss\n1,2.0,7,8\n", "CSV line 2 has 4 fields"),
                             (b"step,loss\n1,\x00\x01\x02\n", "not a text CSV"),
                             (b"\xff\xfe\x00s\x00t", "not a text CSV")]:
        job = _finished_job(platform_env, chat_file, content)
        result = run("jobs", "metrics", job)
        assert result.exit_code == 2, result.output
        assert problem in result.stderr and "/content" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_events_with_string_steps_or_null_times_are_one_line(platform_env: FakeOpenAI,
                                                            chat_file: Path) -> None:
    train = platform_env.add_file("train.jsonl", chat_file.read_bytes())
    job = platform_env.create_job(_job_request(train["id"]))
    platform_env._event(job["id"], "step", data={"step": "three", "total_steps": 6})
    watch = run("jobs", "watch", job["id"])
    assert watch.exit_code == 2 and "step the string 'three'" in watch.stderr, watch.output
    platform_env.events[job["id"]][-1].update(created_at=None, data={})
    events = run("jobs", "events", job["id"])
    assert events.exit_code == 2 and "created_at null" in events.stderr, events.output
    assert f"GET /fine_tuning/jobs/{job['id']}/events" in events.stderr


# -- item 9: say what happened ----------------------------------------------------------------
def test_a_long_retry_after_says_no_retry_was_made(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", status=429,
                                     headers={"retry-after": "3600"}, times=5))
    result = run("models", "list", "--max-retries", "3")
    assert result.exit_code == 2
    assert "after 3 retries" not in result.stderr
    assert "asks to wait 3600 s" in result.stderr and "did not retry" in result.stderr
    assert len(platform_env.calls("GET", "/models")) == 1


def test_retries_reported_are_the_retries_made(platform_env: FakeOpenAI) -> None:
    platform_env.faults.append(Fault("GET", "/models", status=502, times=1))
    platform_env.faults.append(Fault("GET", "/models", status=400, times=1))
    result = run("models", "list", "--max-retries", "3")
    assert result.exit_code == 2 and "request rejected (400)" in result.stderr
    platform_env.faults.append(Fault("GET", "/models", status=500, times=10))
    result = run("models", "list", "--max-retries", "2")
    assert "server error (500) after 2 retries" in result.stderr


def test_a_key_with_a_trailing_newline_is_named_not_unreachable(platform_env: FakeOpenAI,
                                                               monkeypatch) -> None:
    from tests.conftest import FAKE_KEY

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY + "\n")
    result = run("files", "list")
    assert result.exit_code == 2
    assert "cannot reach" not in result.stderr
    assert "$OPENAI_API_KEY ends with a newline" in result.stderr
    assert FAKE_KEY not in result.stderr and platform_env.requests == []


# -- item 10: private state, no credentials in URLs stored or shown -------------------------
def test_state_files_are_private(platform_env: FakeOpenAI, chat_file: Path,
                                 tmp_path: Path) -> None:
    assert run("files", "upload", str(chat_file)).exit_code == 0
    state = tmp_path / "state"
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "uploads.json").stat().st_mode & 0o777 == 0o600


def test_credentials_in_the_base_url_are_never_stored_or_shown(platform_env: FakeOpenAI,
                                                               chat_file: Path,
                                                               tmp_path: Path) -> None:
    import openai

    from ftprep.platform.client import PlatformClient
    from ftprep.platform.config import resolve_config
    from ftprep.platform.uploads import UploadState, upload_file
    from tests.conftest import FAKE_KEY

    url = platform_env.url.replace("http://", "http://alice:hunter2secret@")
    config = resolve_config(base_url=url)
    assert config.base_url == platform_env.url and "hunter2secret" not in repr(config)
    assert config.connect_url == url  # still used to connect (httpx sends it as Basic auth)
    # The SDK here connects without the userinfo (the fake server wants the bearer key).
    sdk = openai.OpenAI(api_key=FAKE_KEY, base_url=platform_env.url)
    state_file = tmp_path / "state" / "uploads.json"
    upload_file(PlatformClient(config, sdk), chat_file, state=UploadState(state_file))
    stored = state_file.read_text()
    assert "hunter2secret" not in stored and "alice" not in stored
    assert platform_env.url in stored
    dry = run("submit", str(chat_file), "--model", "gpt-4o-mini", "--dry-run", "--base-url", url)
    assert dry.exit_code == 0 and "hunter2secret" not in dry.output
    assert platform_env.url in dry.output
    dead = "http://alice:hunter2secret@127.0.0.1:9/v1"  # nothing listens on port 9
    failed = run("files", "list", "--base-url", dead, "--max-retries", "0", "--debug")
    assert failed.exit_code == 2 and "cannot reach http://127.0.0.1:9/v1" in failed.stderr
    assert "hunter2secret" not in failed.output


def test_odd_fields_ftprep_does_not_read_are_shown_as_sent(platform_env: FakeOpenAI) -> None:
    job = {"object": "fine_tuning.job", "id": "ftjob-1", "status": "running", "model": "m",
           "created_at": 10**20, "hyperparameters": "x", "result_files": [], "error": None}
    page = json.dumps({"object": "list", "data": [job], "has_more": False}).encode()
    platform_env.faults.append(Fault("GET", "/fine_tuning/jobs", kind="body", status=200,
                                     body=page, times=2))
    table = run("jobs", "list")
    assert table.exit_code == 0, table.output
    assert "100000000000000000000" in table.stdout and "Pydantic" not in table.output
    as_json = run("jobs", "list", "--format", "json")
    assert json.loads(as_json.stdout)["data"][0]["hyperparameters"] == "x"
    assert "Pydantic" not in as_json.output
    checkpoint = {"object": "fine_tuning.job.checkpoint", "id": "c", "step_number": 1,
                  "fine_tuned_model_checkpoint": "ft:x", "metrics": None}
    platform_env.faults.append(Fault(
        "GET", r"/fine_tuning/jobs/.*/checkpoints", kind="body", status=200,
        body=json.dumps({"object": "list", "data": [checkpoint], "has_more": False}).encode()))
    checkpoints = run("jobs", "checkpoints", "ftjob-1")
    assert checkpoints.exit_code == 0 and "ft:x" in checkpoints.stdout, checkpoints.output


def test_only_a_lost_answer_or_gateway_error_waits_for_a_late_store() -> None:
    from ftprep.platform.client import Unanswered
    from ftprep.platform.resend import look_before_resend

    for may_land_late, looks in ((False, 1), (True, 5)):
        seen: list[int] = []
        found = look_before_resend(lambda seen=seen: seen.append(1), Unanswered("x", None,
                                   may_land_late), _no_sleep)
        assert found is None and len(seen) == looks
