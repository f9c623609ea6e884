"""Send chat completion requests: concurrency, cache, retries and back-pressure.

Money is safe:
- A response that arrives is kept (cached at once when it is an answer) and never asked for
  again. Only refusals are retried: 429 and 5xx statuses, and connections that never opened.
  A timeout or a connection lost after the request went out is an error, not a retry: the
  server may have done (and billed) the work.
- Refusals honour `Retry-After` / `retry-after-ms`. Each one pauses every worker until the
  server's time has passed and halves the number of requests in flight (it grows back by one
  per success), so a server that keeps refusing slows the run down instead of failing it.
  Refusals have their own, larger budget (`REFUSAL_RETRIES`); other 5xx use `max_retries`.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import openai

from ftprep.eval.cache import ResponseCache, request_key
from ftprep.platform.client import PlatformClient
from ftprep.platform.config import ProviderConfig
from ftprep.platform.errors import asked_wait, translate
from ftprep.platform.shapes import broken

REFUSAL_RETRIES = 12  # 429s and 503s: the server asks us to wait, we wait (and slow down)
BACKOFF_BASE = 0.5  # seconds, doubled per attempt, jittered
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 120.0  # a longer Retry-After is waited out in steps of this (never failed)
CHAT_ENDPOINT = "POST /chat/completions"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: the client and the cache's name for it (no secret in it)."""

    client: PlatformClient
    max_retries: int

    @property
    def key(self) -> str:
        config = self.client.config
        version = f"?api-version={config.api_version}" if config.api_version else ""
        return f"{config.provider} {config.base_url}{version}"

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Endpoint:
        return cls(PlatformClient(config), config.max_retries)


@dataclass(frozen=True)
class Reply:
    """The outcome of one request. `message` is the assistant message (None on error)."""

    message: dict[str, Any] | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float | None = None
    error: str | None = None
    cached: bool = False
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Job:
    """A request to make: `body` is exactly what is sent; `tag` identifies it to the caller."""

    endpoint: Endpoint
    body: dict[str, Any]
    tag: Any = None


class Throttle:
    """Shared admission control: at most `allowed` requests in flight (halved on each refusal,
    +1 per success up to `limit`), and nobody starts before `pause_until`."""

    def __init__(self, limit: int) -> None:
        self.limit = self.allowed = max(1, limit)
        self.active = 0
        self.pause_until = 0.0
        self.refusals = 0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event) -> bool:
        with self._cond:
            while not stop.is_set():
                wait_for = self.pause_until - time.monotonic()
                if wait_for <= 0 and self.active < self.allowed:
                    self.active += 1
                    return True
                self._cond.wait(timeout=min(max(wait_for, 0.01), 1.0) if wait_for > 0 else 1.0)
            return False

    def release(self, success: bool) -> None:
        with self._cond:
            self.active -= 1
            if success and self.allowed < self.limit:
                self.allowed += 1
            self._cond.notify_all()

    def refused(self, delay: float) -> None:
        with self._cond:
            self.refusals += 1
            self.pause_until = max(self.pause_until, time.monotonic() + delay)
            self.allowed = max(1, self.allowed // 2)
            self._cond.notify_all()


@dataclass
class Sender:
    """Sends jobs through the cache and the throttle. `sent` counts requests that went out."""

    cache: ResponseCache | None
    concurrency: int = 4
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.concurrency)

    def cached(self, job: Job) -> Reply | None:
        if self.cache is None:
            return None
        hit = self.cache.get(request_key(job.endpoint.key, job.body))
        return None if hit is None else _reply_from_cache(hit)

    def send(self, job: Job) -> Reply:
        """One job: from the cache, else from the endpoint with retries."""
        hit = self.cached(job)
        if hit is not None:
            return hit
        reply = self._request(job)
        if reply.ok and self.cache is not None:
            self.cache.put(request_key(job.endpoint.key, job.body), job.endpoint.key,
                           str(job.body.get("model")), _cache_entry(reply))
        return reply

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Reply]]:
        """Send every job (cached ones first, without a thread), yielding (job, reply) as they
        finish. Identical requests in one run are sent once. Interrupting the consumer stops
        new requests; those in flight complete and are cached, so nothing paid for is lost."""
        pending: dict[str, list[Job]] = {}  # request key → the jobs that ask exactly that
        for job in jobs:
            hit = self.cached(job)
            if hit is None:
                pending.setdefault(request_key(job.endpoint.key, job.body), []).append(job)
            else:
                yield job, hit
        if not pending:
            return
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="ftprep-eval")
        finished = False
        try:
            futures = {pool.submit(self.send, same[0]): (i, same)
                       for i, same in enumerate(pending.values())}
            remaining: set[Future[Reply]] = set(futures)
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when="FIRST_COMPLETED")
                for future in sorted(done, key=lambda f: futures[f][0]):
                    reply = future.result()
                    for job in futures[future][1]:
                        yield job, reply
            finished = True
        finally:
            if not finished:  # interrupted: start nothing new; in-flight answers get cached
                self.stop.set()
            pool.shutdown(wait=finished, cancel_futures=True)

    # -- one request ---------------------------------------------------------------------
    def _request(self, job: Job) -> Reply:
        attempts = refusals = failures = 0
        client = job.endpoint.client
        sdk = client.sdk.with_options(max_retries=0)  # this loop retries (see module doc)
        while True:
            if not self.throttle.acquire(self.stop):
                return Reply(None, error="interrupted before it was sent", attempts=attempts)
            attempts += 1
            start = time.monotonic()
            success = False
            try:
                with self._lock:
                    self.sent += 1
                completion = sdk.chat.completions.create(**job.body)
                success = True
            except openai.APIStatusError as e:
                delay = asked_wait(e)
                delay = None if delay is None else min(max(delay, 0.0), RETRY_AFTER_CAP)
                refusal = e.status_code == 429 or (e.status_code == 503 and delay is not None)
                if refusal and refusals < REFUSAL_RETRIES:
                    refusals += 1
                    self.throttle.refused(delay if delay is not None else _backoff(refusals))
                    continue
                if e.status_code >= 500 and not refusal and failures < job.endpoint.max_retries:
                    failures += 1
                    self.throttle.refused(delay if delay is not None else _backoff(failures))
                    continue
                return _failed(client, e, attempts)
            except openai.APIConnectionError as e:
                if _never_connected(e) and failures < job.endpoint.max_retries:
                    failures += 1
                    time.sleep(_backoff(failures))
                    continue
                return _failed(client, e, attempts)
            except (openai.OpenAIError, json.JSONDecodeError) as e:  # an answer, but broken
                return _failed(client, e, attempts)
            finally:
                self.throttle.release(success)
            latency = (time.monotonic() - start) * 1000
            try:
                return _reply_from_completion(completion, latency, attempts)
            except (AttributeError, TypeError, ValueError) as e:  # the SDK checks no shapes
                problem = f"the response has an unexpected shape ({type(e).__name__}: {e})"
                return Reply(None, error=str(broken(CHAT_ENDPOINT, problem)), attempts=attempts)


def _failed(client: PlatformClient, exc: Exception, attempts: int) -> Reply:
    """The error Reply, worded by the platform's translation with the retries really made."""
    if isinstance(exc, json.JSONDecodeError):
        message = str(broken(CHAT_ENDPOINT, f"the response is not valid JSON ({exc.msg})"))
    else:
        config = client.config
        message = str(translate(exc, secret=config.api_key, key_env=config.api_key_env,
                                base_url=config.base_url, retries=attempts - 1))
    return Reply(None, error=message, attempts=attempts)


def _never_connected(exc: openai.APIConnectionError) -> bool:
    """True when the connection itself failed: nothing reached the server, so retrying is
    free. Any later failure (read timeout, dropped connection) may follow billed work."""
    return type(exc.__cause__).__name__ in ("ConnectError", "ConnectTimeout")


def _backoff(attempt: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def _reply_from_completion(completion: Any, latency_ms: float, attempts: int) -> Reply:
    choices = getattr(completion, "choices", None) or []
    usage = getattr(completion, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    output = int(getattr(usage, "completion_tokens", 0) or 0)
    if not choices:
        return Reply(None, prompt, output, latency_ms, error="the response has no choices",
                     attempts=attempts)
    # A malformed message (content a number...) is ftprep's to judge (answers.py says why);
    # pydantic's serializer warnings would print the raw server values on stderr.
    message = choices[0].message.to_dict(warnings=False)
    return Reply(message, prompt, output, round(latency_ms, 3), attempts=attempts)


def _cache_entry(reply: Reply) -> dict[str, Any]:
    return {"message": reply.message, "usage": {"prompt_tokens": reply.prompt_tokens,
                                                "completion_tokens": reply.completion_tokens},
            "latency_ms": reply.latency_ms}


def _reply_from_cache(entry: dict[str, Any]) -> Reply:
    usage = entry.get("usage") or {}
    return Reply(entry.get("message"), int(usage.get("prompt_tokens", 0)),
                 int(usage.get("completion_tokens", 0)), entry.get("latency_ms"), cached=True)
