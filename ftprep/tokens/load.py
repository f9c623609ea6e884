"""Loading OpenAI's BPE tokenizers offline, verified (the loading half of `ftprep.tokens`).

tiktoken normally downloads its BPE files on first use. Here they are found offline, in order:

1. tiktoken's own cache (`TIKTOKEN_CACHE_DIR`, else `DATA_GYM_CACHE_DIR`, else
   ``$TMPDIR/data-gym-cache``), in the file named sha1(url) exactly as tiktoken names it;
2. the BPE files bundled by the `bpe-openai` package (``bpe_openai/data/<name>.tiktoken.gz``);
3. tiktoken's download, only when ``FTPREP_ALLOW_DOWNLOAD=1``.

Every source is checked against tiktoken's published sha256 before use; a file that fails the
check is refused. The regex pattern and special tokens come from tiktoken's own constructors in
`tiktoken_ext.openai_public`, so they can never drift from tiktoken's.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
import types
from pathlib import Path

import tiktoken

from ftprep.errors import UsageError

SUPPORTED_ENCODINGS = ("cl100k_base", "o200k_base", "p50k_base", "r50k_base")
ALLOW_DOWNLOAD_ENV = "FTPREP_ALLOW_DOWNLOAD"


class TokenizerUnavailable(UsageError):
    """No verified source for a tokenizer's BPE file."""


_encodings: dict[str, tiktoken.Encoding] = {}
_encodings_lock = threading.Lock()


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name`, built from verified local data (memoised, thread-safe)."""
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    if name not in SUPPORTED_ENCODINGS:
        raise UsageError(
            f"unknown tokenizer encoding {name!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})"
        )
    with _encodings_lock:
        if name not in _encodings:
            _encodings[name] = _build_encoding(name)
        return _encodings[name]


def clear_encodings() -> None:
    """Forget built encodings (tests; after changing sources)."""
    with _encodings_lock:
        _encodings.clear()


def _build_encoding(name: str) -> tiktoken.Encoding:
    from tiktoken_ext import openai_public

    constructor = openai_public.ENCODING_CONSTRUCTORS[name]
    # The constructor calls `load_tiktoken_bpe(url, expected_hash=...)` through its module
    # globals. A copy of the function with one global rebound sends that call to our offline
    # loader instead; the shared module is never patched, so this is thread-safe.
    offline = types.FunctionType(
        constructor.__code__,
        {**constructor.__globals__, "load_tiktoken_bpe": _load_bpe_offline},
        constructor.__name__,
        constructor.__defaults__,
        constructor.__closure__,
    )
    return tiktoken.Encoding(**offline())


def _load_bpe_offline(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """tiktoken's file format: one "base64(token) rank" pair per line."""
    from binascii import a2b_base64

    fields = read_bpe_bytes(url, expected_hash or "").split()
    # Whole-file split + map: about twice as fast as a per-line loop (start-up of every run).
    return dict(zip(map(a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def read_bpe_bytes(url: str, expected_sha256: str) -> bytes:
    """The verified bytes of the BPE file tiktoken would download from `url`."""
    name = url.rsplit("/", 1)[-1]
    problems: list[str] = []
    for source in (_from_tiktoken_cache, _from_bundled_package, _from_download):
        found = source(url, name)
        if found is None:
            continue
        where, data = found
        actual = hashlib.sha256(data).hexdigest()
        if actual == expected_sha256:
            return data
        problems.append(f"{where} failed its sha256 check (got {actual[:12]}…)")
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise TokenizerUnavailable(
        f"no verified tokenizer data for {name}{detail}",
        hint="install or reinstall the `bpe-openai` package (cl100k_base, o200k_base), or set "
        "TIKTOKEN_CACHE_DIR to a folder holding the file tiktoken caches for it, or set "
        f"{ALLOW_DOWNLOAD_ENV}=1 to let tiktoken download it",
    )


def _tiktoken_cache_dir() -> str:
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _from_tiktoken_cache(url: str, name: str) -> tuple[str, bytes] | None:
    cache_dir = _tiktoken_cache_dir()
    if not cache_dir:  # tiktoken treats "" as "caching disabled"
        return None
    path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    try:
        return f"cached {path}", path.read_bytes()
    except OSError:
        return None


def bundled_bpe_path(name: str) -> Path | None:
    """Where the `bpe-openai` package keeps `name` (e.g. cl100k_base.tiktoken), if installed.
    Uses the package's location only: importing it would load its large native library."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / f"{name}.gz"
        if path.is_file():
            return path
    return None


def _from_bundled_package(url: str, name: str) -> tuple[str, bytes] | None:
    path = bundled_bpe_path(name)
    if path is None:
        return None
    try:
        return f"bundled {path}", gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return f"bundled {path}", b""  # unreadable counts as corrupt: fails the hash check


def _from_download(url: str, name: str) -> tuple[str, bytes] | None:
    if os.environ.get(ALLOW_DOWNLOAD_ENV) != "1":
        return None
    from tiktoken.load import read_file_cached

    try:
        return f"download {url}", read_file_cached(url)
    except Exception:
        return None
