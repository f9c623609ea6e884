"""The one client module: every call to a fine-tuning API (CLI and SDK alike) goes through
`PlatformClient`, which builds the official `openai` client for the chosen provider and turns
its exceptions into one-line, key-free PlatformErrors."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import openai

from ftprep.errors import PlatformError
from ftprep.platform.config import AZURE, ProviderConfig
from ftprep.platform.errors import translate
from ftprep.platform.redact import redact

T = TypeVar("T")

# Owners that mean "a model OpenAI (or the provider) ships", as opposed to one you trained.
BASE_OWNERS = frozenset({"openai", "system", "openai-internal", "azure", ""})


class _RedactingFormatter(logging.Formatter):
    """--debug logs go through the same redaction as everything else we print."""

    def __init__(self, secret: str) -> None:
        super().__init__("ftprep[debug] %(name)s: %(message)s")
        self._secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secret)


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


def enable_debug_logging(secret: str) -> None:
    """Log the SDK's requests to stderr, redacted. Undo with `disable_debug_logging`."""
    disable_debug_logging()
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter(secret))
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
    if config.debug:
        enable_debug_logging(config.api_key)
    common: dict[str, Any] = {"max_retries": config.max_retries, "timeout": config.timeout}
    if config.debug:
        common["http_client"] = openai.DefaultHttpx2Client(
            event_hooks={"request": [_log_request], "response": [_log_response]})
    if config.provider == AZURE:
        return openai.AzureOpenAI(
            api_key=config.api_key,
            azure_endpoint=config.base_url,
            api_version=config.api_version,
            **common,
        )
    return openai.OpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        organization=config.organization,
        project=config.project,
        **common,
    )


def is_fine_tuned(model: Any) -> bool:
    """A model you trained: `ft:` id or owned by your organisation rather than the provider."""
    owner = str(getattr(model, "owned_by", "") or "")
    return str(model.id).startswith("ft:") or owner.lower() not in BASE_OWNERS


class PlatformClient:
    """Thin, typed operations over the SDK; every result is an SDK model with `to_dict()`."""

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
        try:
            return fn(*args, **kwargs)
        except openai.OpenAIError as e:
            raise self.error(e) from None

    def error(self, exc: Exception) -> PlatformError:
        """The one-line, key-free PlatformError for an SDK exception."""
        return translate(
            exc,
            secret=self.config.api_key,
            key_env=self.config.api_key_env,
            base_url=self.config.base_url,
            retries=self.config.max_retries,
        )

    def iterate(self, make_page: Callable[[], Any]) -> Iterator[Any]:
        """Iterate every item of a paginated list, translating errors on each page fetch."""
        page = self.call(make_page)
        while True:
            yield from page.data
            if not page.has_next_page():
                return
            page = self.call(page.get_next_page)

    # -- files -------------------------------------------------------------------------
    def list_files(self, purpose: str | None = None) -> list[Any]:
        if purpose:
            return list(self.iterate(lambda: self.sdk.files.list(purpose=purpose)))
        return list(self.iterate(lambda: self.sdk.files.list()))

    def get_file(self, file_id: str) -> Any:
        return self.call(self.sdk.files.retrieve, file_id)

    def delete_file(self, file_id: str) -> Any:
        return self.call(self.sdk.files.delete, file_id)

    def file_content(self, file_id: str) -> bytes:
        # The SDK asks for application/binary only; the published spec declares the body as
        # application/json, so spec-strict servers (e.g. Prism) answer 406. Accept both.
        accept = {"Accept": "application/binary, application/json;q=0.9"}
        return self.call(lambda: self.sdk.files.content(file_id, extra_headers=accept).read())

    # -- jobs --------------------------------------------------------------------------
    def create_job(self, body: dict[str, Any]) -> Any:
        return self.call(self.sdk.fine_tuning.jobs.create, **body)

    def list_jobs(self, limit: int = 20) -> list[Any]:
        return list(self.call(self.sdk.fine_tuning.jobs.list, limit=limit).data)

    def get_job(self, job_id: str) -> Any:
        return self.call(self.sdk.fine_tuning.jobs.retrieve, job_id)

    def cancel_job(self, job_id: str) -> Any:
        return self.call(self.sdk.fine_tuning.jobs.cancel, job_id)

    def pause_job(self, job_id: str) -> Any:
        return self.call(self.sdk.fine_tuning.jobs.pause, job_id)

    def resume_job(self, job_id: str) -> Any:
        return self.call(self.sdk.fine_tuning.jobs.resume, job_id)

    def list_events(self, job_id: str, limit: int = 50) -> list[Any]:
        """Newest events first, as the API returns them."""
        return list(self.call(self.sdk.fine_tuning.jobs.list_events, job_id, limit=limit).data)

    def list_new_events(self, job_id: str, seen: set[str]) -> list[Any]:
        """Events not in `seen`, newest first: pages back only until a known event appears,
        so a busy job cannot push unseen events past a fixed page size."""
        fresh = []
        jobs = self.sdk.fine_tuning.jobs
        for event in self.iterate(lambda: jobs.list_events(job_id, limit=100)):
            if event.id in seen:
                break
            fresh.append(event)
        return fresh

    def list_checkpoints(self, job_id: str, limit: int = 10) -> list[Any]:
        jobs = self.sdk.fine_tuning.jobs
        return list(self.call(jobs.checkpoints.list, job_id, limit=limit).data)

    # -- models ------------------------------------------------------------------------
    def list_models(self) -> list[Any]:
        return list(self.iterate(self.sdk.models.list))

    def get_model(self, model_id: str) -> Any:
        return self.call(self.sdk.models.retrieve, model_id)

    def delete_model(self, model_id: str) -> Any:
        return self.call(self.sdk.models.delete, model_id)
