"""The persistent response cache: re-running an eval costs nothing, an interrupted run resumes.

One SQLite file in the state directory. The key is a SHA-256 of the endpoint and the full
request body (the model is in the body), serialised canonically, so any change to what would be
sent (prompt, temperature, max tokens, tools...) is a different entry. Only successful
responses are stored, each committed as soon as it arrives: a run killed half-way keeps every
answer it already paid for. Errors are never cached. The folder is 0700 and the file 0600 (the
prompts and answers are the user's data), like the other state files.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.platform.uploads import private_dir

CACHE_FILE = "eval-cache.sqlite3"
_SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)"""


def request_key(endpoint: str, body: dict[str, Any]) -> str:
    """Canonical hash of where a request goes and exactly what it says."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class ResponseCache:
    """Thread-safe get/put of JSON responses by request key. Never holds a secret: keys are
    hashes and the endpoint column is the base URL only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        private_dir(self.path.parent)  # prompts and answers are the user's data: 0700 / 0600
        try:
            self.path.touch(mode=0o600, exist_ok=True)
            os.chmod(self.path, 0o600)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as e:
            raise UsageError(f"cache={self.path}: cannot open the response cache: {e}") from None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?",
                                   (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, endpoint: str, model: str, response: dict[str, Any]) -> None:
        text = json.dumps(response, ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                             (key, endpoint, model, text, time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
