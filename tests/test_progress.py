"""Progress bars: the installed `ftprep` under a pseudo-terminal draws one on stderr; piped,
or with --quiet, stderr stays clean; the counting reader changes nothing that is read."""
from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from ftprep import progress
from ftprep.io.jsonl import iter_line_chunks, iter_raw_lines, open_binary
from tests.fake_openai import FakeOpenAI

FTPREP = str(Path(sys.executable).with_name("ftprep"))


def _env() -> dict[str, str]:
    """The environment now (fixtures may have set some), drawing from the first read."""
    return {**os.environ, "TERM": "xterm", progress.DELAY_ENV: "0"}


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~3 MB of chat lines: dozens of buffer refills, so the bar is drawn several times."""
    path = tmp_path_factory.mktemp("progress") / "big.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "question " * 40},
                                    {"role": "assistant", "content": "answer " * 60}]})
    path.write_text(f"{line}\n" * (3_000_000 // len(line)), encoding="utf-8")
    return path


def _under_pty(args: list[str]) -> tuple[int, str]:
    """Run `args` with stderr on a pseudo-terminal (stdout piped away); its stderr bytes."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=follower, env=_env())
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        out += data
    os.close(leader)
    return proc.wait(timeout=120), out.decode("utf-8", "replace")


@pytest.mark.parametrize("command", [["count", "--model", "gpt-4o-mini"], ["validate"]])
def test_a_terminal_gets_a_bar_with_bytes_rate_and_eta(big_file: Path,
                                                       command: list[str]) -> None:
    code, err = _under_pty([FTPREP, command[0], str(big_file), *command[1:]])
    assert code == 0, err
    draws = [d for d in err.split("\r") if d.startswith("big.jsonl [")]
    assert draws, repr(err[:500])
    assert "B/s " in draws[-1] and "ETA " in draws[-1] and "/3.0 MB " in draws[-1]
    assert err.endswith("\r\x1b[K")  # the line is cleared when the read ends


def test_piped_stderr_and_quiet_stay_clean(big_file: Path) -> None:
    r = subprocess.run([FTPREP, "count", str(big_file), "--model", "gpt-4o-mini"],
                       capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0 and r.stderr == ""
    code, err = _under_pty([FTPREP, "count", str(big_file), "--model", "gpt-4o-mini", "-q"])
    assert code == 0 and err == ""


def test_report_names_its_reads(big_file: Path, tmp_path: Path) -> None:
    code, err = _under_pty([FTPREP, "report", str(big_file), "-o", str(tmp_path / "r.html")])
    assert code == 0, err
    assert "\rvalidating and counting big.jsonl [" in err


def test_counted_reads_give_the_same_lines_and_count_every_byte(big_file: Path) -> None:
    plain_lines = list(iter_raw_lines(big_file))
    plain_chunks = list(iter_line_chunks(big_file, 1 << 16))
    stream = io.StringIO()
    with progress.session(True, stream):
        assert list(iter_raw_lines(big_file)) == plain_lines
        assert list(iter_line_chunks(big_file, 1 << 16)) == plain_chunks
        bar = progress._bar.get()
        assert bar is not None and bar.done == big_file.stat().st_size


def test_without_a_session_files_are_not_wrapped(big_file: Path) -> None:
    with open_binary(big_file) as f:
        assert type(f.raw) is io.FileIO  # the library alone pays nothing


def test_eval_request_bar_shows_on_a_terminal_and_quiet_turns_it_off(
        platform_env: FakeOpenAI, tmp_path: Path) -> None:
    from tests.fake_openai import reference_reply

    refs = {f"question {i}": f"answer {i}" for i in range(6)}
    test = tmp_path / "t.jsonl"
    test.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
        for q, a in refs.items()), encoding="utf-8")
    platform_env.add_chat_model("a", reference_reply(refs, set(refs)))
    args = [FTPREP, "eval", str(test), "--model", "a", "--metric", "exact", "--no-cache"]
    code, err = _under_pty(args)
    assert code == 0, err
    assert "6/6" in err  # eval's own bar: requests done of total
    code, err = _under_pty([*args, "--quiet"])
    assert code == 0 and "6/6" not in err and "eval: 6 examples" in err
