"""Upload a training file exactly once.

The content's sha256 is the identity: a local state file remembers (base URL, sha256) → file id,
and the uploaded name carries the hash (`<stem>.<sha256[:12]>.jsonl`) so `files.list` can prove
an upload already happened — even one whose response was lost to a dropped connection.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ftprep import progress
from ftprep.errors import InputError, PlatformError
from ftprep.io.writer import atomic_writer
from ftprep.platform.client import PlatformClient, Unanswered
from ftprep.platform.resend import look_before_resend, resend_delay

SINGLE_REQUEST_LIMIT = 512 * 1024 * 1024  # the Files API's per-request maximum
DEFAULT_PART_SIZE = 64 * 1024 * 1024  # the Uploads API's per-part maximum
_READ_CHUNK = 1024 * 1024
MIME_JSONL = "text/jsonl"


@dataclass(frozen=True)
class UploadResult:
    """Which remote file holds the content, and how we got it."""

    path: str
    file_id: str
    filename: str
    sha256: str
    bytes: int
    source: str  # "uploaded" | "state" (known locally) | "remote" (found in files.list)
    method: str  # "files" | "uploads" (multipart) | "none" (reused)

    @property
    def reused(self) -> bool:
        return self.source != "uploaded"

    def to_dict(self) -> dict:
        return {**asdict(self), "reused": self.reused}


@dataclass(frozen=True)
class FileDigest:
    path: str
    sha256: str
    bytes: int
    remote_name: str


def digest_file(path: str | Path) -> FileDigest:
    """sha256 and size, read in chunks (memory does not grow with the file)."""
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                # The API trains on plain JSONL; a gzip would be stored and then fail to train.
                raise InputError("is gzip-compressed; the API needs plain JSONL (gunzip it "
                                 "first)", path=str(path))
            f.seek(0)
            while chunk := f.read(_READ_CHUNK):
                h.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise InputError(e.strerror or str(e), path=str(path)) from None
    digest = h.hexdigest()
    return FileDigest(str(path), digest, size, remote_name(path, digest))


def remote_name(path: str | Path, sha256: str) -> str:
    """`data/train.jsonl` → `train.<sha256[:12]>.jsonl`: the name proves the content."""
    stem = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        stem = stem.removesuffix(suffix)
    return f"{stem}.{sha256[:12]}.jsonl"


def state_dir() -> Path:
    explicit = os.environ.get("FTPREP_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "ftprep"


class UploadState:
    """Small JSON map `"<base_url> <sha256>" → {file_id, filename, bytes}`, written atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "uploads.json"
        self._data: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a corrupt cache only costs a files.list lookup; never fatal
        return data if isinstance(data, dict) else {}

    @staticmethod
    def key(base_url: str, sha256: str) -> str:
        return f"{base_url} {sha256}"

    def get(self, base_url: str, sha256: str) -> dict[str, Any] | None:
        return self._data.get(self.key(base_url, sha256))

    def forget(self, base_url: str, sha256: str) -> None:
        if self._data.pop(self.key(base_url, sha256), None) is not None:
            self._save()

    def remember(self, base_url: str, result: UploadResult) -> None:
        self._data[self.key(base_url, result.sha256)] = {
            "file_id": result.file_id,
            "filename": result.filename,
            "bytes": result.bytes,
        }
        self._save()

    def _save(self) -> None:
        """Private to the user: the folder 0700 (so the file is never readable by others,
        even before its mode is set), the file 0600."""
        private_dir(self.path.parent)
        with atomic_writer(self.path) as f:
            f.write(json.dumps(self._data, indent=2, sort_keys=True).encode("utf-8"))
        try:
            os.chmod(self.path, 0o600)
        except OSError as e:
            raise InputError(f"cannot make private: {e.strerror or e}", path=str(self.path)) \
                from None


def private_dir(directory: Path) -> None:
    """Create `directory` (mode 0700), or take group/other access away from it."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_mode & 0o077:
            os.chmod(directory, 0o700)
    except OSError as e:
        raise InputError(f"cannot create a private folder: {e.strerror or e}",
                         path=str(directory)) from None


def find_existing(
    client: PlatformClient, digest: FileDigest, state: UploadState, purpose: str
) -> UploadResult | None:
    """An earlier upload of the same content: from the local state, else from files.list."""
    known = state.get(client.config.base_url, digest.sha256)
    if known:
        try:
            remote = client.get_file(known["file_id"])
        except PlatformError:
            remote = None  # deleted meanwhile (or unreachable): fall back to files.list
        if remote is not None and _reusable(remote, digest, purpose):
            return _result(digest, remote.id, "state")
        # Deleted, failed processing (status "error"), or not this content: upload afresh.
        state.forget(client.config.base_url, digest.sha256)
    found = _find_remote(client, digest, purpose)
    if found is not None:
        state.remember(client.config.base_url, found)
    return found


def _find_remote(client: PlatformClient, digest: FileDigest, purpose: str) -> UploadResult | None:
    for f in client.list_files(purpose=purpose):
        if f.filename == digest.remote_name and _reusable(f, digest, purpose):
            return _result(digest, f.id, "remote")
    return None


UNUSABLE = frozenset({"error", "deleted", "deleting"})


def _reusable(remote: Any, digest: FileDigest, purpose: str) -> bool:
    """A remote file that can stand in for this content: same size and purpose, and neither
    deleted nor failed (a file whose processing ended in `error` cannot train)."""
    return (remote.bytes == digest.bytes and remote.status not in UNUSABLE
            and remote.purpose in (None, purpose) and getattr(remote, "deleted", None) is not True)


def _result(digest: FileDigest, file_id: str, source: str, method: str = "none") -> UploadResult:
    return UploadResult(
        digest.path, file_id, digest.remote_name, digest.sha256, digest.bytes, source, method
    )


def upload_file(
    client: PlatformClient,
    path: str | Path,
    *,
    purpose: str = "fine-tune",
    part_threshold: int = SINGLE_REQUEST_LIMIT,
    part_size: int = DEFAULT_PART_SIZE,
    state: UploadState | None = None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadResult:
    """Upload `path` unless the same content is already there; returns the remote file id.
    Files above `part_threshold` bytes go through the Uploads API in `part_size` parts.
    `attempts` = retries of the final request (default: the client's max_retries). A retry is
    sent only after the server, looked at for a while, shows no file of this content."""
    state = state or UploadState()
    digest = digest_file(path)
    existing = find_existing(client, digest, state, purpose)
    if existing is not None:
        return existing
    method = "uploads" if digest.bytes > part_threshold else "files"
    attempts = (client.config.max_retries if attempts is None else attempts) + 1
    for attempt in range(1, attempts + 1):
        try:
            file_id = _send(client, digest, purpose, method, part_size)
            break
        except Unanswered as e:
            # The server may have stored the file before the connection dropped, or store
            # it after our timeout: look (for a while) before re-sending, never two copies.
            found = look_before_resend(lambda: _find_remote(client, digest, purpose), e, sleep)
            if found is not None:
                state.remember(client.config.base_url, found)
                return found
            delay = resend_delay(e, attempt)
            if attempt == attempts or delay is None:
                raise PlatformError(f"{e}; not uploaded (no copy of {digest.remote_name} "
                                    "on the server)") from None
            sleep(delay)
    result = _result(digest, file_id, "uploaded", method)
    state.remember(client.config.base_url, result)
    return result


def _send(
    client: PlatformClient, digest: FileDigest, purpose: str, method: str, part_size: int
) -> str:
    """One attempt; the final request is sent once (Unanswered if its answer is lost)."""
    if method == "files":
        return str(client.create_file_once(digest.path, digest.remote_name, purpose,
                                           MIME_JSONL).id)
    upload = client.create_upload(digest.remote_name, digest.bytes, purpose, MIME_JSONL)
    part_ids = []
    with progress.watch(open(digest.path, "rb"), digest.path) as f:  # the CLI's bar, if shown
        while chunk := f.read(part_size):
            part_ids.append(client.add_upload_part(upload.id, chunk).id)
    return str(client.complete_upload_once(upload.id, part_ids).id)
