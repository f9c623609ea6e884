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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import openai

from ftprep.errors import InputError, PlatformError
from ftprep.io.writer import atomic_writer
from ftprep.platform.client import PlatformClient

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
        with atomic_writer(self.path) as f:
            f.write(json.dumps(self._data, indent=2, sort_keys=True).encode("utf-8"))


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
        if remote is not None and remote.bytes == digest.bytes:
            return _result(digest, remote.id, "state")
        state.forget(client.config.base_url, digest.sha256)
    found = _find_remote(client, digest, purpose)
    if found is not None:
        state.remember(client.config.base_url, found)
    return found


def _find_remote(client: PlatformClient, digest: FileDigest, purpose: str) -> UploadResult | None:
    for f in client.list_files(purpose=purpose):
        if f.filename == digest.remote_name and f.bytes == digest.bytes and f.status != "error":
            return _result(digest, f.id, "remote")
    return None


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
) -> UploadResult:
    """Upload `path` unless the same content is already there; returns the remote file id.
    Files above `part_threshold` bytes go through the Uploads API in `part_size` parts.
    `attempts` = retries of the final request (default: the client's max_retries)."""
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
        except _RETRYABLE as e:
            # The server may have stored the file before the connection dropped (or before
            # answering 5xx): look before re-sending, so a retry never creates a duplicate.
            found = _find_remote(client, digest, purpose)
            if found is not None:
                state.remember(client.config.base_url, found)
                return found
            if attempt == attempts:
                raise client.error(e) from None
            time.sleep(_retry_delay(e, attempt))
    result = _result(digest, file_id, "uploaded", method)
    state.remember(client.config.base_url, result)
    return result


_RETRYABLE = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


def _retry_delay(exc: Exception, attempt: int) -> float:
    """Honour the server's retry-after(-ms) like the SDK does; else exponential backoff."""
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            value = float(headers.get(header, "")) / divisor
        except ValueError:
            continue
        if 0 <= value <= 60:
            return value
    return min(0.5 * 2 ** (attempt - 1), 8.0)


def _send(
    client: PlatformClient, digest: FileDigest, purpose: str, method: str, part_size: int
) -> str:
    """One attempt. Connection errors escape untranslated so the caller can check files.list;
    the SDK's own retries are off for the final request for the same reason."""
    no_retry = client.sdk.with_options(max_retries=0)
    if method == "files":
        with open(digest.path, "rb") as f:
            created = _status_call(
                client, no_retry.files.create,
                file=(digest.remote_name, f, MIME_JSONL), purpose=purpose,
            )
        return created.id
    upload = client.call(
        client.sdk.uploads.create,
        bytes=digest.bytes, filename=digest.remote_name, mime_type=MIME_JSONL, purpose=purpose,
    )
    part_ids = []
    with open(digest.path, "rb") as f:
        while chunk := f.read(part_size):
            # Parts may be retried freely: only the ids listed in `complete` count.
            part = client.call(client.sdk.uploads.parts.create, upload.id, data=chunk)
            part_ids.append(part.id)
    done = _status_call(client, no_retry.uploads.complete, upload.id, part_ids=part_ids)
    if done.file is None:
        raise PlatformError(f"upload {upload.id} completed without a file (status {done.status})")
    return done.file.id


def _status_call(client: PlatformClient, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Translate HTTP status errors, but let retryable ones through to the dedupe check."""
    try:
        return fn(*args, **kwargs)
    except _RETRYABLE:
        raise
    except openai.OpenAIError as e:
        raise client.error(e) from None
