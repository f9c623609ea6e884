"""Atomic output: one file, or several files that belong together.

`atomic_writer(path)` writes one file: a temporary beside the target, flushed, fsynced, then
renamed over it. A crash leaves the old file or the new one, never half of one.

`OutputSet` writes files that belong together (split's train/test/split.json, convert's output
and rejects). POSIX renames one file atomically, never several, so a set commits through a
journal, the way a database does:

1. every member is written to a temporary in its target's folder (`.<name>.ftprep-<pid>-*.tmp`),
   hashed (sha256) on the way, flushed and fsynced;
2. under an exclusive lock (flock) of the folders involved, a journal `.ftprep-commit.json`
   naming the run, each temporary → target rename with its sha256 and size, and each file to
   remove is written, fsynced and renamed into place: from here the new set is decided;
3. the renames and removals are applied in order (a manifest, opened last, is renamed last),
   and the folders are fsynced;
4. the journal is removed.

A kill before step 2 leaves the old set; the temporaries it leaves are removed by the next run
(`ftprep.io.temps`). A kill after step 2 leaves the journal: the next ftprep that opens a file in
that folder for reading or writing first finishes the commit, checking every temporary against
its digest, and reports that it did. So a set is seen old or new, never a mix, and a set that
cannot be finished (a temporary deleted by hand) is reported on every read, never shown as valid.
Concurrent runs writing one set serialise their commits on the lock: the last one wins whole.

Limit: the journal lives in the folder of the set's first file; a member in another folder (a
`--rejects` elsewhere) is finished only when that first folder is read or written.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftprep.errors import InputError
from ftprep.faults import fault_point
from ftprep.io.jsonl import dumps_line
from ftprep.io.temps import remove_stale_temps, temp_prefix

JOURNAL = ".ftprep-commit.json"
_BUFFER = 1 << 20
_log = logging.getLogger("ftprep.io")


@dataclass(frozen=True)
class FileDigest:
    """What a committed file must contain: its sha256 and size."""

    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}


def write_error(e: OSError, path: str | Path) -> InputError:
    """One line naming the file being written (ENOSPC, EIO, EDQUOT, EACCES...)."""
    return InputError(f"cannot write: {e.strerror or e}", path=str(path))


class _HashingFile(io.RawIOBase):
    """The temporary of one member: counts and hashes what passes, names the target on error."""

    def __init__(self, target: Path) -> None:
        self.target = target
        try:
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp",
                                       dir=target.parent)
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 is not what open() would give
        except OSError as e:
            raise write_error(e, target) from None
        self.tmp = Path(tmp)
        self.fd = fd
        self.sha = hashlib.sha256()
        self.size = 0
        self.discarded = False  # then writes are dropped: closing must not flush into it

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.discarded:
            return len(view)
        try:
            if self.size == 0:
                fault_point(f"write:{self.target.name}")
            n = os.write(self.fd, view)
        except OSError as e:
            raise write_error(e, self.target) from None
        self.sha.update(view[:n])
        self.size += n
        return n

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def sync(self) -> FileDigest:
        try:
            os.fsync(self.fd)
        except OSError as e:
            raise write_error(e, self.target) from None
        return FileDigest(self.sha.hexdigest(), self.size)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


class _Member:
    def __init__(self, target: Path) -> None:
        self.target = target
        self.raw = _HashingFile(target)
        self.file = io.BufferedWriter(self.raw, _BUFFER)
        self.digest: FileDigest | None = None

    def finish(self) -> FileDigest:
        if self.digest is None:
            try:
                self.file.flush()
            except OSError as e:
                raise write_error(e, self.target) from None
            self.digest = self.raw.sync()
            self.file.close()
        return self.digest

    def discard(self) -> None:
        self.raw.discarded = True
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.raw.tmp)


class OutputSet:
    """Files committed together or not at all (see the module docstring).

        with OutputSet() as out:
            f = out.open("out/train.jsonl"); ...
            out.remove("out/old.jsonl")      # must not exist once the set is committed
        # committed here; any exception discards every temporary instead

    `'-'` opens stdout, which is outside the set (a stream cannot be taken back)."""

    def __init__(self) -> None:
        self._members: dict[Path, _Member] = {}
        self._removals: list[Path] = []
        self._dirs_seen: set[Path] = set()
        self.committed = False

    def open(self, path: str | Path) -> IO[bytes]:
        if str(path) == "-":
            return sys.stdout.buffer
        target = Path(path)
        if target in self._members:
            raise ValueError(f"{path} is already open in this set")
        self._prepare(target.parent)
        member = _Member(target)
        self._members[target] = member
        return member.file

    def remove(self, path: str | Path) -> None:
        if str(path) != "-":
            self._prepare(Path(path).parent)
            self._removals.append(Path(path))

    def temp_path(self, path: str | Path) -> Path:
        """Where a member's bytes are until the commit (to read them back before it)."""
        return self._members[Path(path)].raw.tmp

    def finish(self, path: str | Path) -> FileDigest:
        """Close a member (flushed, fsynced) and return its digest; it can be read back."""
        return self._members[Path(path)].finish()

    def commit(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.buffer.flush()
        digests = {target: m.finish() for target, m in self._members.items()}
        fault_point("commit:start")
        if len(digests) == 1 and not self._removals:
            [(target, member)] = self._members.items()
            _replace(member.raw.tmp, target)
            _fsync_dir(target.parent)
        elif digests or self._removals:
            self._commit_journaled(digests)
        self.committed = True

    def discard(self) -> None:
        for member in self._members.values():
            member.discard()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.discard()
        elif not self.committed:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise

    # ------------------------------------------------------------ internals

    def _prepare(self, directory: Path) -> None:
        """Once per folder: create it, finish a commit a killed run left, remove dead runs'
        temporaries (after the commit: a journal's temporaries are still needed)."""
        directory = directory if str(directory) else Path(".")
        if directory in self._dirs_seen:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(e, directory) from None
        finish_interrupted_commit(directory)
        remove_stale_temps(directory)
        self._dirs_seen.add(directory)

    def _commit_journaled(self, digests: dict[Path, FileDigest]) -> None:
        primary = _folder(next(iter(self._members), None) or self._removals[0])
        entries: list[dict[str, Any]] = [
            {"tmp": _rel(self._members[t].raw.tmp, primary), "path": _rel(t, primary),
             **d.to_dict()}
            for t, d in digests.items()
        ]
        # Removals go first: the manifest (the last member opened) must be the last change.
        entries[:0] = [{"remove": _rel(p, primary)} for p in self._removals]
        folders = {_folder(t) for t in digests} | {_folder(p) for p in self._removals}
        with _locked(folders):
            _finish(primary)  # a killed run's commit, before this one starts
            _write_journal(primary, {"ftprep_commit": 1, "run": _run_id(), "entries": entries})
            fault_point("commit:journal")
            _apply(primary, entries, verify=False)
            for folder in folders:
                _fsync_dir(folder)
            os.unlink(primary / JOURNAL)
            _fsync_dir(primary)
        fault_point("commit:done")


# ---------------------------------------------------------------- the journal


@dataclass(frozen=True)
class FinishedCommit:
    """A commit that a killed run had decided and this process completed."""

    folder: str
    run: str
    files: list[str]


def finish_interrupted_commit(folder: str | Path) -> FinishedCommit | None:
    """Complete the commit a killed run left in `folder`, if any (cheap when there is none:
    one stat). Raises InputError when it cannot be completed: the set is then not valid."""
    folder = Path(folder) if str(folder) else Path(".")
    if not (folder / JOURNAL).exists():
        return None
    with _locked({folder}):
        finished = _finish(folder)
    if finished is not None:
        _log.warning("finished the interrupted commit of %s (run %s) in %s",
                     ", ".join(finished.files), finished.run, finished.folder)
    return finished


def _finish(folder: Path) -> FinishedCommit | None:
    """Apply a journal found in `folder`; the caller holds the lock."""
    try:
        journal = json.loads((folder / JOURNAL).read_bytes())
        entries = journal["entries"]
    except FileNotFoundError:
        return None  # another process finished it while this one waited for the lock
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"unreadable commit journal ({e}); remove it and rerun the command "
                         "that wrote this folder", path=str(folder / JOURNAL)) from None
    _apply(folder, entries, verify=True)
    for sub in {(folder / e.get("path", e.get("remove", ""))).parent for e in entries}:
        _fsync_dir(sub)
    os.unlink(folder / JOURNAL)
    _fsync_dir(folder)
    files = [str(e.get("path") or e.get("remove")) for e in entries]
    return FinishedCommit(str(folder), str(journal.get("run", "?")), files)


def _apply(folder: Path, entries: list[dict[str, Any]], *, verify: bool) -> None:
    """Renames and removals of a journal, in order. Idempotent: a rename already done (the
    temporary gone) is checked against its digest instead, when `verify`."""
    for i, entry in enumerate(entries, start=1):
        if "remove" in entry:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / entry["remove"])
        else:
            _rename_entry(folder, entry, verify=verify)
        fault_point(f"commit:rename:{i}")


def _rename_entry(folder: Path, entry: dict[str, Any], *, verify: bool) -> None:
    tmp, target = folder / entry["tmp"], folder / entry["path"]
    expected = FileDigest(entry["sha256"], entry["bytes"])
    if tmp.exists():
        if verify and _digest(tmp) != expected:
            raise _unfinishable(folder, f"{tmp.name} does not match its digest")
        _replace(tmp, target)
    elif verify and (not target.exists() or _digest(target) != expected):
        raise _unfinishable(folder, f"{entry['path']} is missing or changed")


def _unfinishable(folder: Path, why: str) -> InputError:
    return InputError(f"a killed run's commit cannot be finished: {why}; the files here are "
                      "not one consistent set, rerun the command that wrote them",
                      path=str(folder / JOURNAL))


def _write_journal(folder: Path, journal: dict[str, Any]) -> None:
    target = folder / JOURNAL
    raw = _HashingFile(target)
    try:
        with io.BufferedWriter(raw) as f:
            f.write(json.dumps(journal, indent=1).encode() + b"\n")
            f.flush()
            raw.sync()
        _replace(raw.tmp, target)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(raw.tmp)
        raise


def _digest(path: Path) -> FileDigest:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_BUFFER), b""):
            sha.update(chunk)
            size += len(chunk)
    return FileDigest(sha.hexdigest(), size)


@contextlib.contextmanager
def _locked(folders: Iterable[Path]) -> Iterator[None]:
    """flock every folder, in one global order (no deadlock between two sets)."""
    fds: list[int] = []
    try:
        for folder in sorted({f.resolve() for f in folders}):
            fd = os.open(folder, os.O_RDONLY)
            fds.append(fd)
            with contextlib.suppress(OSError):  # a filesystem without flock: best effort
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing releases the lock


def _replace(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as e:
        raise write_error(e, target) from None


def _fsync_dir(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after return keeps them)."""
    try:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _rel(path: Path, folder: Path) -> str:
    return os.path.relpath(path, folder)


def _run_id() -> str:
    return f"{os.getpid()}-{os.urandom(4).hex()}"


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; restored at once
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- one file


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file handle; on success the content replaces `path` atomically.
    `path == '-'` writes to stdout (not atomic, by nature)."""
    with OutputSet() as out:
        yield out.open(path)


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    n = 0
    with atomic_writer(path) as f:
        for record in records:
            f.write(dumps_line(record))
            n += 1
    return n
