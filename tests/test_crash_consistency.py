"""Outputs that belong together are committed together (ftprep.io.writer.OutputSet), and
signals clean up: real subprocesses of the installed `ftprep`, stopped at named points by
FTPREP_FAULT (ftprep.faults) and then killed, never timed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ftprep.errors import InputError
from ftprep.io.writer import JOURNAL, OutputSet, finish_interrupted_commit

FTPREP = str(Path(sys.executable).with_name("ftprep"))
WAIT = 60  # seconds: a bound on a stuck child, never a synchronisation


def start_paused(args: list[str], point: str, *, env: dict[str, str] | None = None
                 ) -> subprocess.Popen[bytes]:
    """Run `ftprep args` until it reaches `point`, where it waits for a signal."""
    proc = subprocess.Popen(
        [FTPREP, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "FTPREP_FAULT": f"{point}:pause"},
    )
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    if f"paused at {point}" not in line:
        proc.kill()
        proc.wait(WAIT)
        pytest.fail(f"never reached {point}: {line}{proc.stderr.read().decode()}")
    return proc


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FTPREP, *args], capture_output=True, text=True, check=False,
                          timeout=WAIT, env={**os.environ, **env})


def csv_input(path: Path, tag: str, n: int = 50) -> Path:
    # every 5th answer is empty: each run has both an output and a rejects file
    rows = ["q,a"] + [f"{tag} question {i},{'' if i % 5 == 0 else f'{tag} answer {i}'}"
                      for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def convert_args(src: Path, out: Path) -> list[str]:
    return ["convert", str(src), "-o", str(out), "--user", "q", "--assistant", "a"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, bytes], dict[str, bytes]]:
    """An output folder holding the old set; the new input; and both sets' contents."""
    out_dir, new_dir = tmp_path / "out", tmp_path / "reference"
    old_src = csv_input(tmp_path / "old.csv", "old")
    new_src = csv_input(tmp_path / "new.csv", "new", n=70)
    assert run(convert_args(old_src, out_dir / "data.jsonl")).returncode == 1
    assert run(convert_args(new_src, new_dir / "data.jsonl")).returncode == 1
    old, new = snapshot(out_dir), snapshot(new_dir)
    assert set(old) == set(new) == {"data.jsonl", "data.rejects.jsonl"}
    assert old != new
    return out_dir, new_src, tmp_path, old, new


COMMIT_POINTS = ["write:data.jsonl", "commit:start", "commit:journal", "commit:rename:1",
                 "commit:done"]
DECIDED = {"commit:journal", "commit:rename:1", "commit:rename:2", "commit:done"}


@pytest.mark.parametrize("point", COMMIT_POINTS)
def test_convert_killed_anywhere_leaves_the_old_set_or_the_new_one(
        two_sets: tuple[Path, Path, Path, dict[str, bytes], dict[str, bytes]], point: str
) -> None:
    out_dir, new_src, _, old, new = two_sets
    proc = start_paused(convert_args(new_src, out_dir / "data.jsonl"), point)
    proc.send_signal(signal.SIGKILL)
    proc.wait(WAIT)
    files = {k: v for k, v in snapshot(out_dir).items() if not k.endswith(".tmp")}
    journal_left = files.pop(JOURNAL, None) is not None
    # Straight after the kill: a consistent set, or a journal saying the commit is unfinished.
    assert files in (old, new) or journal_left
    # The next reader finishes a decided commit before it reads; the set is then whole.
    check = run(["count", "-m", "gpt-4o", str(out_dir / "data.jsonl")])
    assert check.returncode == 0, check.stderr
    assert ("finished the interrupted commit" in check.stderr) == journal_left
    expected = new if point in DECIDED else old
    assert {k: v for k, v in snapshot(out_dir).items() if not k.endswith(".tmp")} == expected
    # The killed run's temporaries (its pid is dead now) go with the next write there.
    assert run(convert_args(new_src, out_dir / "data.jsonl")).returncode == 1
    assert temporaries(out_dir) == []
    assert snapshot(out_dir) == new


def test_a_clean_run_removes_the_old_rejects_in_the_same_commit(tmp_path: Path) -> None:
    out = tmp_path / "out" / "data.jsonl"
    assert run(convert_args(csv_input(tmp_path / "old.csv", "old"), out)).returncode == 1
    clean = tmp_path / "clean.csv"
    clean.write_text("q,a\nhi,hello\n")
    proc = start_paused(convert_args(clean, out), "commit:rename:1")  # removal done, not yet
    proc.send_signal(signal.SIGKILL)                                   # the new output
    proc.wait(WAIT)
    assert finish_interrupted_commit(out.parent) is not None
    assert sorted(snapshot(out.parent)) == ["data.jsonl"]
    assert b"hello" in out.read_bytes()


def test_sigterm_and_sighup_remove_temporaries_like_ctrl_c(
        two_sets: tuple[Path, Path, Path, dict[str, bytes], dict[str, bytes]]) -> None:
    out_dir, new_src, _, old, _ = two_sets
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        proc = start_paused(convert_args(new_src, out_dir / "data.jsonl"),
                            "write:data.rejects.jsonl")
        assert len(temporaries(out_dir)) == 2  # output and rejects are being written
        proc.send_signal(sig)
        assert proc.wait(WAIT) == (130 if sig == signal.SIGINT else 128 + sig)
        assert proc.stderr is not None
        message = proc.stderr.read().decode()
        assert message.strip() == ("ftprep: interrupted" if sig == signal.SIGINT
                                   else f"ftprep: terminated by {sig.name}")
        assert temporaries(out_dir) == []
        assert snapshot(out_dir) == old


def _multiturn_csv(path: Path, rows: int) -> Path:
    lines = ["conv,role,text"] + [f"c{i // 2},{'user' if i % 2 == 0 else 'assistant'},t{i}"
                                  for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(WAIT)
    return child.pid


def test_sigterm_removes_the_spill_folder_and_the_next_run_removes_dead_ones(
        tmp_path: Path) -> None:
    spill_root = tmp_path / "tmpdir"
    spill_root.mkdir()
    src = _multiturn_csv(tmp_path / "turns.csv", 100)
    args = ["convert", str(src), "-o", str(tmp_path / "out.jsonl"), "--group-by", "conv",
            "--role-column", "role", "--content-column", "text", "--spill-threshold", "10"]
    proc = start_paused(args, "convert:spill", env={"TMPDIR": str(spill_root)})
    assert [p.name.startswith(f"ftprep-spill-{proc.pid}-") for p in spill_root.iterdir()] == [True]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(WAIT) == 128 + signal.SIGTERM
    assert list(spill_root.iterdir()) == []
    # A folder left by a SIGKILLed run (dead pid) goes; a live run's and foreign names stay.
    dead = spill_root / f"ftprep-spill-{_dead_pid()}-abc123"
    live = spill_root / f"ftprep-spill-{os.getpid()}-abc123"
    foreign = spill_root / "ftprep-spill-notapid"
    for folder in (dead, live, foreign):
        (folder / "sub").mkdir(parents=True)
    proc = start_paused(args, "convert:spill", env={"TMPDIR": str(spill_root)})
    proc.send_signal(signal.SIGUSR1)  # resume: run to the end
    assert proc.wait(WAIT) == 0
    assert sorted(p.name for p in spill_root.iterdir()) == sorted([live.name, foreign.name])


def test_stale_temporaries_of_dead_runs_are_removed_never_a_live_runs(tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    dead = tmp_path / f".data.jsonl.ftprep-{_dead_pid()}-k2j4h5.tmp"
    live = tmp_path / f".data.jsonl.ftprep-{os.getpid()}-k2j4h5.tmp"
    user_file = tmp_path / ".data.jsonl.backup.tmp"  # not ftprep's naming
    for p in (dead, live, user_file):
        p.write_text("x")
    clean = tmp_path / "clean.csv"
    clean.write_text("q,a\nhi,hello\n")
    assert run(convert_args(clean, out)).returncode == 0
    assert not dead.exists()
    assert live.exists() and user_file.exists()


def test_concurrent_commits_into_one_folder_end_as_one_whole_set(
        two_sets: tuple[Path, Path, Path, dict[str, bytes], dict[str, bytes]]) -> None:
    out_dir, new_src, tmp_path, _, new = two_sets
    old_src = tmp_path / "old.csv"
    # B has everything written; A, started later, holds the folder's lock in the middle of
    # its commit. B then asks for the lock, A finishes, B commits over A's whole set.
    b = start_paused(convert_args(new_src, out_dir / "data.jsonl"), "commit:start")
    a = start_paused(convert_args(old_src, out_dir / "data.jsonl"), "commit:rename:1")
    b.send_signal(signal.SIGUSR1)
    a.send_signal(signal.SIGUSR1)
    assert (a.wait(WAIT), b.wait(WAIT)) == (1, 1)
    assert snapshot(out_dir) == new  # B's commit could only start after A's ended


def test_reading_a_set_whose_commit_cannot_be_finished_is_an_error(tmp_path: Path) -> None:
    with OutputSet() as out:
        out.open(tmp_path / "a.jsonl").write(b"a\n")
        out.open(tmp_path / "b.jsonl").write(b"b\n")
        tmp_b = out.temp_path(tmp_path / "b.jsonl")
        out.finish(tmp_path / "b.jsonl")
        # what a kill after the journal leaves, with b's temporary then lost by hand
        out.commit = lambda: None  # type: ignore[method-assign]
    journal = {"ftprep_commit": 1, "run": "r1", "entries": [
        {"tmp": tmp_b.name, "path": "b.jsonl", "sha256": "0" * 64, "bytes": 2}]}
    (tmp_path / JOURNAL).write_text(json.dumps(journal))
    proc = run(["validate", str(tmp_path / "b.jsonl")])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "cannot be finished" in proc.stderr and "does not match its digest" in proc.stderr
    with pytest.raises(InputError, match="not one consistent set"):
        finish_interrupted_commit(tmp_path)
    assert (tmp_path / JOURNAL).exists()  # still reported next time, never made to look valid


def test_an_exception_discards_every_member(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"old a\n")
    with pytest.raises(RuntimeError), OutputSet() as out:
        out.open(tmp_path / "a.jsonl").write(b"new a\n")
        out.open(tmp_path / "b.jsonl").write(b"new b\n")
        raise RuntimeError("boom")
    assert snapshot(tmp_path) == {"a.jsonl": b"old a\n"}


def test_enospc_names_the_file_being_written(tmp_path: Path) -> None:
    src = csv_input(tmp_path / "in.csv", "x")
    proc = run(convert_args(src, tmp_path / "out" / "data.jsonl"),
               FTPREP_FAULT="write:data.rejects.jsonl:enospc")
    assert proc.returncode == 2
    assert proc.stderr == (f"ftprep: error: {tmp_path / 'out' / 'data.rejects.jsonl'}: "
                           "cannot write: No space left on device\n")
    assert list((tmp_path / "out").iterdir()) == []


# ---------------------------------------------------------------- split


def chat_jsonl(path: Path, tag: str, n: int) -> Path:
    line = '{"messages":[{"role":"user","content":"%s q%d"},{"role":"assistant","content":"a"}]}'
    path.write_text("".join(line % (tag, i) + "\n" for i in range(n)))
    return path


def split_args(src: Path, out: Path) -> list[str]:
    return ["split", str(src), "-o", str(out), "--test", "0.3"]


def assert_consistent_split(folder: Path) -> dict[str, bytes]:
    """The manifest describes exactly the train/test beside it (digests), and no record is in
    both: one run's set."""
    files = snapshot(folder)
    manifest = json.loads(files["split.json"])
    for name in ("train.jsonl", "test.jsonl"):
        import hashlib

        assert manifest["outputs"][name]["sha256"] == hashlib.sha256(files[name]).hexdigest()
    train, test = set(files["train.jsonl"].splitlines()), set(files["test.jsonl"].splitlines())
    assert not train & test
    return files


SPLIT_POINTS = ["write:train.jsonl", "commit:start", "commit:journal", "commit:rename:1",
                "commit:rename:2", "commit:done"]


@pytest.mark.parametrize("point", SPLIT_POINTS)
def test_split_killed_anywhere_leaves_the_old_set_or_the_new_one(tmp_path: Path,
                                                                  point: str) -> None:
    out = tmp_path / "out"
    old_src, new_src = chat_jsonl(tmp_path / "a.jsonl", "a", 60), chat_jsonl(
        tmp_path / "b.jsonl", "b", 90)
    assert run(split_args(old_src, out)).returncode == 0
    assert run(split_args(new_src, tmp_path / "ref")).returncode == 0
    old, new = assert_consistent_split(out), assert_consistent_split(tmp_path / "ref")
    proc = start_paused(split_args(new_src, out), point)
    proc.send_signal(signal.SIGKILL)
    proc.wait(WAIT)
    check = run(["validate", str(out / "test.jsonl")])  # any read finishes a decided commit
    assert check.returncode == 0, check.stderr
    after = {k: v for k, v in snapshot(out).items() if not k.endswith(".tmp")}
    assert after == (new if point in DECIDED | {"commit:rename:2"} else old)
    assert_consistent_split(out)


def test_concurrent_splits_into_one_folder_end_as_one_consistent_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sources = [chat_jsonl(tmp_path / f"{t}.jsonl", t, 50 + 10 * i)
               for i, t in enumerate("abc")]
    procs = [subprocess.Popen([FTPREP, *split_args(src, out)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for src in sources]
    assert [p.wait(WAIT) for p in procs] == [0, 0, 0]
    files = assert_consistent_split(out)
    assert temporaries(out) == [] and JOURNAL not in files
    # a paused writer in the middle of its commit: a second split waits for it, then wins
    b = start_paused(split_args(sources[1], out), "commit:start")
    a = start_paused(split_args(sources[0], out), "commit:rename:2")
    b.send_signal(signal.SIGUSR1)
    a.send_signal(signal.SIGUSR1)
    assert (a.wait(WAIT), b.wait(WAIT)) == (0, 0)
    files = assert_consistent_split(out)
    assert json.loads(files["split.json"])["input"]["name"] == "b.jsonl"


def test_split_refuses_a_fifo_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    proc = run(["split", str(fifo), "-o", str(tmp_path / "out")])
    assert proc.returncode == 2
    assert proc.stderr == (f"ftprep: error: {fifo} is a FIFO; split reads its input twice, "
                           "give a regular file\n")
