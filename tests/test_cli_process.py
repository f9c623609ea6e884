"""Process-level behaviour of the installed `ftprep`: exit codes that do not depend on the
reader of stdout leaving early, and a dead worker process reported in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FTPREP = str(Path(sys.executable).with_name("ftprep"))
WAIT = 60

CLEAN = '{"messages":[{"role":"user","content":"hi %d"},{"role":"assistant","content":"yo"}]}\n'
NO_ANSWER = '{"messages":[{"role":"user","content":"hi %d"}]}\n'


def first_line_then_close(args: list[str]) -> tuple[int, bytes, str]:
    """`ftprep args | head -1`: read one line, close the pipe, return the exit code."""
    proc = subprocess.Popen([FTPREP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(WAIT), line, err


def test_the_verdict_survives_a_reader_that_leaves(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(NO_ANSWER % i for i in range(5000)))
    # json output is far bigger than a pipe's buffer: the write after `head` left fails
    rc, line, err = first_line_then_close(["validate", str(bad), "--format", "json"])
    assert (rc, line, err) == (1, b"{\n", "")
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(CLEAN % i for i in range(5000)))
    for args in (["count", "-m", "gpt-4o", str(clean)],
                 ["validate", str(clean), "--format", "json"]):
        rc, line, err = first_line_then_close(args)
        assert (rc, err) == (0, ""), args
        assert line


def test_a_worker_that_dies_is_one_line_and_exit_2(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(CLEAN % i for i in range(2000)))
    for command in (["count", "-m", "gpt-4o"], ["validate"]):
        proc = subprocess.run(
            [FTPREP, *command, str(clean), "--workers", "2"], capture_output=True, text=True,
            timeout=WAIT, env={**os.environ, "FTPREP_FAULT": "worker:start:kill"}, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("ftprep: error: a worker process died")
        assert proc.stderr.count("\n") == 1
        assert "internal error" not in proc.stderr
