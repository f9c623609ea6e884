"""The one client module: every call to a fine-tuning API (CLI and SDK alike) goes through
`PlatformClient`, which builds the official `openai` client for the chosen provider and turns
its exceptions into one-line, key-free PlatformErrors."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import openai

from ftprep.errors import PlatformError, UsageError
from ftprep.platform.config import AZURE, ProviderConfig
from ftprep.platform.errors import asked_wait, retryable, translate
from ftprep.platform.redact import redact
from ftprep.platform.shapes import broken, check, check_page, value_id

T = TypeVar("T")

# Owners that mean "a model OpenAI (or the provider) ships", as opposed to one you trained.
BASE_OWNERS = frozenset({"openai", "system", "openai-internal", "azure", ""})
EXTRA_JOB_FIELDS = ("trainingType",)  # job fields the openai SDK has no parameter for


class _RedactingFormatter(logging.Formatter):
    """--debug logs go through the same redaction as everything else we print."""

    def __init__(self, *secrets: str) -> None:
        super().__init__("ftprep[debug] %(name)s: %(message)s")
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), *self._secrets)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record (not at creation)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_DEBUG_LOGGERS = ("openai", "httpx", "httpx2")
_saved_levels: dict[str, tuple[int, bool]] = {}


def enable_debug_logging(*secrets: str) -> None:
    """Log the SDK's requests to stderr, redacted. Undo with `disable_debug_logging`."""
    disable_debug_logging()
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter(*secrets))
    handler._ftprep = True  # type: ignore[attr-defined]
    for name in _DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        _saved_levels[name] = (logger.level, logger.propagate)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False


_log = logging.getLogger("openai.ftprep")
_SECRET_HEADERS = {"authorization", "api-key", "openai-organization", "openai-project", "cookie"}


def _log_request(request: Any) -> None:
    """One line per request: method, URL and headers, secrets masked (the formatter redacts
    anything key-shaped that slips through as well)."""
    headers = {k: ("***" if k.lower() in _SECRET_HEADERS else v)
               for k, v in request.headers.items()}
    _log.debug("→ %s %s headers=%s", request.method, request.url, headers)


def _log_response(response: Any) -> None:
    _log.debug("← %s %s %s", response.status_code, response.request.method, response.request.url)


def disable_debug_logging() -> None:
    for name in _DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not getattr(h, "_ftprep", False)]
        if name in _saved_levels:
            logger.setLevel(_saved_levels[name][0])
            logger.propagate = _saved_levels.pop(name)[1]


def build_sdk_client(config: ProviderConfig) -> openai.OpenAI:
    """The official SDK client for this provider (AzureOpenAI for Azure)."""
    check_key(config.api_key, config.api_key_env)
    if config.debug:
        enable_debug_logging(*config.secrets)
    common: dict[str, Any] = {"max_retries": config.max_retries, "timeout": config.timeout}
    if config.debug:
        common["http_client"] = openai.DefaultHttpx2Client(
            event_hooks={"request": [_log_request], "response": [_log_response]})
    if config.provider == AZURE and config.api_version is None:  # the v1 endpoint
        return openai.OpenAI(api_key=config.api_key, base_url=config.base_url,
                             default_headers={"api-key": config.api_key}, **common)
    if config.provider == AZURE:
        return openai.AzureOpenAI(
            api_key=config.api_key,
            azure_endpoint=config.connect_url or config.base_url,
            api_version=config.api_version,
            **common,
        )
    return openai.OpenAI(
        api_key=config.api_key,
        base_url=config.connect_url or config.base_url,
        organization=config.organization,
        project=config.project,
        **common,
    )


def check_key(key: str, key_env: str) -> None:
    """A key with a newline or other control character cannot travel in an HTTP header; the
    SDK would report that as a connection failure. Say what is wrong instead."""
    bad = [c for c in key if ord(c) < 0x20 or ord(c) == 0x7F]
    if not bad:
        return
    where = "ends with" if key.rstrip() != key and key.strip() else "contains"
    what = "a newline" if "\n" in bad or "\r" in bad else f"the control character {bad[0]!r}"
    raise UsageError(f"the API key in ${key_env} {where} {what}, which an HTTP header cannot "
                     f"carry; remove it (e.g. export {key_env}=\"$(tr -d '\\r\\n' < KEYFILE)\")")


def is_fine_tuned(model: Any) -> bool:
    """A model you trained: `ft:` id or owned by your organisation rather than the provider."""
    owner = str(getattr(model, "owned_by", "") or "")
    return str(model.id).startswith("ft:") or owner.lower() not in BASE_OWNERS


class Unanswered(PlatformError):
    """A request that may or may not have taken effect: the connection dropped or timed out,
    or the server answered 429/5xx. Callers of `send_once` check the server before re-sending.
    `delay` is how long the server asked to wait (seconds), when it said."""

    def __init__(self, message: str, delay: float | None, may_land_late: bool) -> None:
        super().__init__(message)
        self.delay = delay
        # No answer at all, or a gateway's 502/504: the server may still be working on it.
        # (An application's own 429/500/503 came after it had finished with the request.)
        self.may_land_late = may_land_late


class PlatformClient:
    """Thin, typed operations over the SDK: every request the CLI and the SDK make goes
    through here, so errors are translated and response shapes checked in one place."""

    max_pages = 1000  # per listing: a server that always says has_more cannot loop forever

    def __init__(self, config: ProviderConfig, sdk: openai.OpenAI | None = None) -> None:
        self.config = config
        self._sdk = sdk

    @property
    def sdk(self) -> openai.OpenAI:
        if self._sdk is None:  # built lazily so --dry-run never needs a working endpoint
            self._sdk = build_sdk_client(self.config)
        return self._sdk

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call; any SDK error becomes a PlatformError without the key."""
        return self.request(getattr(fn, "__qualname__", "request"), fn, *args, **kwargs)

    def request(self, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call`, naming `endpoint` ("GET /files") when the answer is not even JSON."""
        try:
            return fn(*args, **kwargs)
        except (openai.OpenAIError, json.JSONDecodeError) as e:
            raise self._failure(endpoint, e) from None

    def send_once(self, endpoint: str, fn: Callable[[openai.OpenAI], T]) -> T:
        """One attempt at a request that must not be repeated blindly (it creates something
        billable or stored): `fn` gets an SDK client with retries off. Raises `Unanswered`
        when the request may have taken effect, so the caller can look before re-sending."""
        no_retry = self.sdk.with_options(max_retries=0)
        try:
            return fn(no_retry)
        except (openai.OpenAIError, json.JSONDecodeError) as e:
            failure = self._failure(endpoint, e)
            if isinstance(e, openai.OpenAIError) and retryable(e):
                wait = asked_wait(e) if isinstance(e, openai.APIStatusError) else None
                late = isinstance(e, openai.APIConnectionError) or (
                    isinstance(e, openai.APIStatusError) and e.status_code in (502, 504))
                raise Unanswered(str(failure), wait, late) from None
            raise failure from None

    def _failure(self, endpoint: str, exc: Exception) -> PlatformError:
        if isinstance(exc, json.JSONDecodeError):
            return broken(endpoint, f"the response is not valid JSON ({exc.msg} at character "
                                    f"{exc.pos})")
        return self.error(exc)

    def error(self, exc: Exception) -> PlatformError:
        """The one-line, key-free PlatformError for an SDK exception."""
        return translate(
            exc,
            secret=self.config.api_key,
            key_env=self.config.api_key_env,
            base_url=self.config.base_url,
            retries=self.config.max_retries,
        )

    def iterate(self, make_page: Callable[[], Any], *, kind: str | None = None,
                endpoint: str = "list") -> Iterator[Any]:
        """Every item of a paginated list (each page's shape checked when `kind` is given).
        Bounded: a cursor that does not move, or more than `max_pages` pages, is an error."""
        page = self.request(endpoint, make_page)
        cursors: set[str] = set()
        for number in range(1, self.max_pages + 1):
            if kind is not None:
                check_page(page, kind, endpoint)
            yield from page.data
            if not page.has_next_page():
                return
            if number == self.max_pages:
                break
            cursor = value_id(page.data[-1])
            if cursor in cursors:
                raise broken(endpoint, f"has_more is true but the page after {cursor!r} was "
                                       "already listed: the cursor does not move")
            cursors.add(cursor)
            page = self.request(endpoint, page.get_next_page)
        raise broken(endpoint, f"has_more is still true after {self.max_pages} pages; stopped")

    def _one(self, kind: str, endpoint: str, fn: Callable[..., Any], *args: Any,
             **kwargs: Any) -> Any:
        return check(self.request(endpoint, fn, *args, **kwargs), kind, endpoint)

    def _page(self, kind: str, endpoint: str, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> list[Any]:
        """The first page of a listing, checked (for calls that ask for `limit` items)."""
        return list(check_page(self.request(endpoint, fn, *args, **kwargs), kind, endpoint).data)

    # -- files -------------------------------------------------------------------------
    def list_files(self, purpose: str | None = None) -> list[Any]:
        files = self.sdk.files
        make = (lambda: files.list(purpose=purpose)) if purpose else files.list
        return list(self.iterate(make, kind="file", endpoint="GET /files"))

    def get_file(self, file_id: str) -> Any:
        return self._one("file", f"GET /files/{file_id}", self.sdk.files.retrieve, file_id)

    def delete_file(self, file_id: str) -> Any:
        return self._one("deleted", f"DELETE /files/{file_id}", self.sdk.files.delete, file_id)

    def file_content(self, file_id: str) -> bytes:
        # The SDK asks for application/binary only; the published spec declares the body as
        # application/json, so spec-strict servers (e.g. Prism) answer 406. Accept both.
        accept = {"Accept": "application/binary, application/json;q=0.9"}
        files = self.sdk.files
        return self.request(f"GET /files/{file_id}/content",
                            lambda: files.content(file_id, extra_headers=accept).read())

    # -- uploads (one attempt each; see uploads.py for the protocol around them) ----------
    def create_file_once(self, path: str | Path, filename: str, purpose: str,
                         mime_type: str) -> Any:
        """POST /files with the content of `path` sent as `filename`."""
        def send(sdk: openai.OpenAI) -> Any:
            with open(path, "rb") as f:
                return sdk.files.create(file=(filename, f, mime_type), purpose=cast(Any, purpose))

        return check(self.send_once("POST /files", send), "file", "POST /files")

    def create_upload(self, filename: str, size: int, purpose: str, mime_type: str) -> Any:
        return self._one("upload", "POST /uploads", self.sdk.uploads.create, bytes=size,
                         filename=filename, mime_type=mime_type, purpose=purpose)

    def add_upload_part(self, upload_id: str, data: bytes) -> Any:
        # Parts may be retried freely: only the ids listed in `complete` count.
        return self._one("upload part", f"POST /uploads/{upload_id}/parts",
                         self.sdk.uploads.parts.create, upload_id, data=data)

    def complete_upload_once(self, upload_id: str, part_ids: list[str]) -> Any:
        endpoint = f"POST /uploads/{upload_id}/complete"
        done = check(self.send_once(endpoint, lambda sdk: sdk.uploads.complete(
            upload_id, part_ids=part_ids)), "upload", endpoint)
        if done.file is None:
            raise PlatformError(f"upload {upload_id} completed without a file "
                                f"(status {done.status})")
        return check(done.file, "file", endpoint)

    # -- jobs --------------------------------------------------------------------------
    def create_job_once(self, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """POST /fine_tuning/jobs, one attempt (see jobs.create_job for the retries)."""
        endpoint = "POST /fine_tuning/jobs"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        # Fields the SDK does not know (Azure's trainingType) travel in the JSON body as given
        extra = {k: body[k] for k in EXTRA_JOB_FIELDS if k in body}
        known = {k: v for k, v in body.items() if k not in EXTRA_JOB_FIELDS}
        return check(self.send_once(endpoint, lambda sdk: sdk.fine_tuning.jobs.create(
            **known, extra_headers=headers, extra_body=extra or None)),
            "job", endpoint)

    def iterate_jobs(self) -> Iterator[Any]:
        """All jobs, newest first, page by page (bounded like every listing)."""
        jobs = self.sdk.fine_tuning.jobs
        return self.iterate(lambda: jobs.list(limit=100), kind="job",
                            endpoint="GET /fine_tuning/jobs")

    def list_jobs(self, limit: int = 20) -> list[Any]:
        return self._page("job", "GET /fine_tuning/jobs", self.sdk.fine_tuning.jobs.list,
                          limit=limit)

    def get_job(self, job_id: str) -> Any:
        return self._one("job", f"GET /fine_tuning/jobs/{job_id}",
                         self.sdk.fine_tuning.jobs.retrieve, job_id)

    def cancel_job(self, job_id: str) -> Any:
        return self._one("job", f"POST /fine_tuning/jobs/{job_id}/cancel",
                         self.sdk.fine_tuning.jobs.cancel, job_id)

    def pause_job(self, job_id: str) -> Any:
        return self._one("job", f"POST /fine_tuning/jobs/{job_id}/pause",
                         self.sdk.fine_tuning.jobs.pause, job_id)

    def resume_job(self, job_id: str) -> Any:
        return self._one("job", f"POST /fine_tuning/jobs/{job_id}/resume",
                         self.sdk.fine_tuning.jobs.resume, job_id)

    def list_events(self, job_id: str, limit: int = 50) -> list[Any]:
        """Newest events first, as the API returns them."""
        return self._page("event", f"GET /fine_tuning/jobs/{job_id}/events",
                          self.sdk.fine_tuning.jobs.list_events, job_id, limit=limit)

    def list_new_events(self, job_id: str, seen: set[str]) -> list[Any]:
        """Events not in `seen`, newest first: pages back only until a known event appears,
        so a busy job cannot push unseen events past a fixed page size."""
        fresh = []
        jobs = self.sdk.fine_tuning.jobs
        for event in self.iterate(lambda: jobs.list_events(job_id, limit=100), kind="event",
                                  endpoint=f"GET /fine_tuning/jobs/{job_id}/events"):
            if event.id in seen:
                break
            fresh.append(event)
        return fresh

    def list_checkpoints(self, job_id: str, limit: int = 10) -> list[Any]:
        return self._page("checkpoint", f"GET /fine_tuning/jobs/{job_id}/checkpoints",
                          self.sdk.fine_tuning.jobs.checkpoints.list, job_id, limit=limit)

    # -- models ------------------------------------------------------------------------
    def list_models(self) -> list[Any]:
        return list(self.iterate(self.sdk.models.list, kind="model", endpoint="GET /models"))

    def get_model(self, model_id: str) -> Any:
        return self._one("model", f"GET /models/{model_id}", self.sdk.models.retrieve, model_id)

    def delete_model(self, model_id: str) -> Any:
        return self._one("deleted", f"DELETE /models/{model_id}", self.sdk.models.delete,
                         model_id)

