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
