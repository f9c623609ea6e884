"""Local OpenAI-compatible API (files, uploads, fine-tuning jobs, models, chat completions)
on 127.0.0.1.

Faithful to the OpenAPI spec's shapes (object types, list envelopes with first_id/last_id/
has_more, `after`/`limit` pagination). Deterministic: a job advances exactly one state per
GET of the job, so tests never sleep to synchronise. Faults are injected per test.
Accepts both `/v1/...` and Azure's `/openai/...?api-version=` URL shapes.
"""
from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIFECYCLE = ["validating_files", "queued", "running", "succeeded"]
TERMINAL = {"succeeded", "failed", "cancelled"}
TOTAL_STEPS = 6
BASE_MODELS = [
    ("gpt-4o-mini-2024-07-18", "system"),
    ("gpt-4.1-mini-2025-04-14", "system"),
    ("gpt-4o-2024-08-06", "system"),
    ("davinci-002", "openai"),
]


@dataclass
class Fault:
    """Misbehave on matching requests. kind: "status" (answer `status` with `error`),
    "drop" (do the work, then close the connection without answering), "slow" (wait `delay`
    seconds, then answer normally), "body" (answer `status` with the raw `body` bytes as
    `content_type`: truncated JSON, an HTML page, a wrong shape), "late" (do the work but keep
    the object it creates out of the next `hidden_lists` list calls, then drop the connection:
    the server stored it after the client gave up). `times` = how many matching requests it
    affects."""

    method: str
    path: str  # regex matched against the path without /v1 or /openai prefix
    kind: str = "status"
    status: int = 500
    code: str | None = None
    message: str = "injected failure"
    headers: dict[str, str] = field(default_factory=lambda: {"retry-after-ms": "1"})
    delay: float = 0.0
    times: int = 1
    body: bytes | Callable[[Request], bytes] = b""  # or made per request
    content_type: str = "application/json"
    hidden_lists: int = 0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""  # as sent, with its /v1 or /openai prefix


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 type_: str = "invalid_request_error", param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.type, self.param = (
            status, message, code, type_, param)
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


class FakeOpenAI:
    """State + HTTP server. Use `.url` (OpenAI base URL) or `.root` (Azure endpoint)."""

    def __init__(self, api_key: str = "sk-test-key", port: int = 0) -> None:
        self.api_key = api_key
        self.lock = threading.RLock()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.hidden: dict[str, int] = {}  # object id → list calls it stays out of ("late")
        self.requests: list[Request] = []
        self.fail_jobs = False  # new jobs end in "failed" instead of "succeeded"
        self.chat_models: dict[str, ChatModel] = {"echo": ChatModel(echo_reply)}
        # Called with (request body, number of chat requests so far) before each chat answer.
        self.on_chat: Callable[[dict, int], None] | None = None
        self._counter = 0
        self._clock = 1_764_000_000
        for model_id, owner in BASE_MODELS:
            self.models[model_id] = self._model(model_id, owner)
        self._httpd = _QuietServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def server_errors(self) -> list[str]:
        """Unexpected exceptions raised inside request handlers (should stay empty)."""
        return self._httpd.errors

    @property
    def root(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    # -- helpers -------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:06d}"

    def _now(self) -> int:
        self._clock += 1
        return self._clock

    @staticmethod
    def _model(model_id: str, owner: str) -> dict:
        return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": owner}

    def calls(self, method: str, path_regex: str) -> list[Request]:
        return [r for r in self.requests
                if r.method == method and re.fullmatch(path_regex, r.path)]

    def add_file(self, filename: str, content: bytes, purpose: str = "fine-tune") -> dict:
        with self.lock:
            file_id = self._id("file")
            obj = {"id": file_id, "object": "file", "bytes": len(content),
                   "created_at": self._now(), "filename": filename, "purpose": purpose,
                   "status": "processed", "expires_at": None, "status_details": None}
            self.files[file_id] = obj
            self.contents[file_id] = content
            return obj

    def hide(self, payload: Any, list_calls: int) -> None:
        """Keep the object a request created out of the next `list_calls` listings."""
        with self.lock:
            created = payload.get("file") or payload if isinstance(payload, dict) else None
            if created and list_calls > 0:
                self.hidden[created["id"]] = list_calls

    def _visible(self, items: list[dict]) -> list[dict]:
        shown = [i for i in items if self.hidden.get(i["id"], 0) <= 0]
        for object_id in [i["id"] for i in items if i not in shown]:
            self.hidden[object_id] -= 1
        return shown

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.fullmatch(fault.path, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- dispatch ------------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON-able body or raw bytes, extra headers)."""
        chat = re.fullmatch(r"(?:/deployments/(?P<deployment>[^/]+))?/chat/completions", req.path)
        if chat and req.method == "POST":  # not under the lock: a slow model must not block
            return 200, self.chat_completion(req, chat.group("deployment")), {}
        routes = [
            ("GET", r"/models", self.list_models),
            ("GET", r"/models/(?P<id>[^/]+)", self.get_model),
            ("DELETE", r"/models/(?P<id>[^/]+)", self.delete_model),
            ("POST", r"/files", self.create_file),
            ("GET", r"/files", self.list_files),
            ("GET", r"/files/(?P<id>[^/]+)", self.get_file),
            ("DELETE", r"/files/(?P<id>[^/]+)", self.delete_file),
            ("GET", r"/files/(?P<id>[^/]+)/content", self.file_content),
            ("POST", r"/uploads", self.create_upload),
            ("POST", r"/uploads/(?P<id>[^/]+)/parts", self.add_part),
            ("POST", r"/uploads/(?P<id>[^/]+)/complete", self.complete_upload),
            ("POST", r"/uploads/(?P<id>[^/]+)/cancel", self.cancel_upload),
            ("POST", r"/fine_tuning/jobs", self.create_job),
            ("GET", r"/fine_tuning/jobs", self.list_jobs),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)", self.get_job),
            ("POST", r"/fine_tuning/jobs/(?P<id>[^/]+)/cancel", self.cancel_job),
            ("POST", r"/fine_tuning/jobs/(?P<id>[^/]+)/pause", self.pause_job),
            ("POST", r"/fine_tuning/jobs/(?P<id>[^/]+)/resume", self.resume_job),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)/events", self.list_events),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints", self.list_checkpoints),
        ]
        for method, pattern, fn in routes:
            m = re.fullmatch(pattern, req.path)
            if m and method == req.method:
                with self.lock:
                    return 200, fn(req, **m.groupdict()), {}
        raise ApiError(404, f"Invalid URL ({req.method} {req.path})")

    # -- lists ---------------------------------------------------------------------------
    @staticmethod
    def _page(items: list[dict], query: dict[str, str], default_limit: int) -> dict:
        """Cursor pagination as in the spec: `after` = id of the last item seen."""
        after = query.get("after")
        if after:
            ids = [i["id"] for i in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(query.get("limit") or default_limit)
        page = items[:limit]
        return {"object": "list", "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > limit}

    # -- models --------------------------------------------------------------------------
    def list_models(self, req: Request) -> dict:
        return {"object": "list", "data": list(self.models.values())}

    def _find_model(self, model_id: str) -> dict:
        model = self.models.get(unquote(model_id))
        if model is None:
            raise ApiError(404, f"The model '{unquote(model_id)}' does not exist",
                           "model_not_found")
        return model

    def get_model(self, req: Request, id: str) -> dict:
        return self._find_model(id)

    def delete_model(self, req: Request, id: str) -> dict:
        model = self._find_model(id)
        if model["owned_by"] in ("system", "openai"):
            raise ApiError(403, "You do not have permission to delete this model",
                           "insufficient_permissions")
        del self.models[model["id"]]
        return {"id": model["id"], "object": "model", "deleted": True}

    # -- files ---------------------------------------------------------------------------
    def create_file(self, req: Request) -> dict:
        fields = _multipart(req)
        if "file" not in fields or "purpose" not in fields:
            raise ApiError(400, "'file' and 'purpose' are required", param="file")
        filename, content = fields["file"]
        return self.add_file(filename or "upload.jsonl", content, fields["purpose"][1].decode())

    def list_files(self, req: Request) -> dict:
        items = sorted(self._visible(list(self.files.values())), key=lambda f: f["created_at"],
                       reverse=req.query.get("order", "desc") == "desc")
        if req.query.get("purpose"):
            items = [f for f in items if f["purpose"] == req.query["purpose"]]
        return self._page(items, req.query, 10_000)

    def _find_file(self, file_id: str) -> dict:
        if file_id not in self.files:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return self.files[file_id]

    def get_file(self, req: Request, id: str) -> dict:
        return self._find_file(id)

    def delete_file(self, req: Request, id: str) -> dict:
        self._find_file(id)
        del self.files[id]
        del self.contents[id]
        return {"id": id, "object": "file", "deleted": True}

    def file_content(self, req: Request, id: str) -> bytes:
        self._find_file(id)
        return self.contents[id]

    # -- uploads -------------------------------------------------------------------------
    def create_upload(self, req: Request) -> dict:
        body = json.loads(req.body)
        upload_id = self._id("upload")
        self.uploads[upload_id] = {
            "id": upload_id, "object": "upload", "bytes": body["bytes"],
            "created_at": self._now(), "expires_at": self._clock + 3600,
            "filename": body["filename"], "purpose": body["purpose"], "status": "pending",
            "file": None,
        }
        return self.uploads[upload_id]

    def _pending_upload(self, upload_id: str) -> dict:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise ApiError(404, f"No such Upload: {upload_id}")
        if upload["status"] != "pending":
            raise ApiError(400, f"Upload {upload_id} is already {upload['status']}")
        return upload

    def add_part(self, req: Request, id: str) -> dict:
        self._pending_upload(id)
        _, data = _multipart(req)["data"]
        part_id = self._id("part")
        self.parts[part_id] = data
        return {"id": part_id, "object": "upload.part", "created_at": self._now(),
                "upload_id": id}

    def complete_upload(self, req: Request, id: str) -> dict:
        upload = self._pending_upload(id)
        content = b"".join(self.parts[p] for p in json.loads(req.body)["part_ids"])
        if len(content) != upload["bytes"]:
            raise ApiError(400, f"parts total {len(content)} bytes, expected {upload['bytes']}")
        upload["file"] = self.add_file(upload["filename"], content, upload["purpose"])
        upload["status"] = "completed"
        return upload

    def cancel_upload(self, req: Request, id: str) -> dict:
        upload = self._pending_upload(id)
        upload["status"] = "cancelled"
        return upload

    # -- fine-tuning jobs ----------------------------------------------------------------
    def create_job(self, req: Request) -> dict:
        body = json.loads(req.body)
        for key in ("training_file", "validation_file"):
            if body.get(key) and body[key] not in self.files:
                raise ApiError(400, f"invalid {key}: {body[key]}", param=key)
        if body.get("model") not in self.models:
            raise ApiError(400, f"Model {body.get('model')} is not available for fine-tuning",
                           "model_not_available", param="model")
        job_id = self._id("ftjob")
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        hyper = (method.get(method["type"]) or {}).get("hyperparameters") or {}
        job = {
            "object": "fine_tuning.job", "id": job_id, "model": body["model"],
            "created_at": self._now(), "finished_at": None, "fine_tuned_model": None,
            "organization_id": "org-fake", "result_files": [], "status": "validating_files",
            "validation_file": body.get("validation_file"),
            "training_file": body["training_file"], "trained_tokens": None, "error": None,
            "hyperparameters": {"n_epochs": hyper.get("n_epochs", "auto"),
                                "batch_size": hyper.get("batch_size", "auto"),
                                "learning_rate_multiplier":
                                    hyper.get("learning_rate_multiplier", "auto")},
            "method": method, "seed": body.get("seed", 42), "suffix": body.get("suffix"),
            "metadata": body.get("metadata"), "integrations": body.get("integrations"),
            "estimated_finish": None, "user_provided_suffix": body.get("suffix"),
            "_fail": self.fail_jobs,
        }
        self.jobs[job_id] = job
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return _public(job)

    def _event(self, job_id: str, message: str, level: str = "info",
               data: dict | None = None) -> None:
        self.events[job_id].append({
            "object": "fine_tuning.job.event", "id": self._id("ftevent"),
            "created_at": self._now(), "level": level, "message": message,
            "data": data or {}, "type": "metrics" if data else "message"})

    def _find_job(self, job_id: str) -> dict:
        if job_id not in self.jobs:
            raise ApiError(404, f"Could not find fine tune: {job_id}", "fine_tune_not_found")
        return self.jobs[job_id]

    def list_jobs(self, req: Request) -> dict:
        items = sorted(self._visible(list(self.jobs.values())), key=lambda j: j["created_at"],
                       reverse=True)
        return self._page([_public(j) for j in items], req.query, 20)

    def get_job(self, req: Request, id: str) -> dict:
        job = self._find_job(id)
        self._advance(job)
        return _public(job)

    def _advance(self, job: dict) -> None:
        """One step of the lifecycle per poll: validating_files → queued → running → end."""
        if job["status"] in TERMINAL or job["status"] == "paused":
            return
        if job["status"] == "running" and job["_fail"]:
            job.update(status="failed", finished_at=self._now(),
                       error={"code": "invalid_training_file", "param": "training_file",
                              "message": "The job failed due to an invalid training file."})
            self._event(job["id"], "The job failed due to an invalid training file.", "error")
            return
        job["status"] = LIFECYCLE[LIFECYCLE.index(job["status"]) + 1]
        self._event(job["id"], {"queued": "Files validated, moving job to queued state",
                                "running": "Fine-tuning job started",
                                "succeeded": "The job has successfully completed"}[job["status"]])
        if job["status"] == "running":
            for step in range(1, TOTAL_STEPS + 1):
                loss = self._loss(step)
                self._event(job["id"], f"Step {step}/{TOTAL_STEPS}: training loss={loss:.4f}",
                            data={"step": step, "train_loss": self._loss(step),
                                  "total_steps": TOTAL_STEPS})
        if job["status"] == "succeeded":
            self._succeed(job)

    @staticmethod
    def _loss(step: int) -> float:
        return round(2.0 / step, 4)

    def _succeed(self, job: dict) -> None:
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for step in range(1, TOTAL_STEPS + 1):
            valid = f"{self._loss(step) + 0.1:.4f}" if step % 2 == 0 else ""
            rows.append(f"{step},{self._loss(step):.4f},{0.5 + step / 20:.3f},{valid},")
        result = self.add_file("step_metrics.csv", ("\n".join(rows) + "\n").encode(),
                               "fine-tune-results")
        suffix = job["suffix"] or "custom"
        model_id = f"ft:{job['model']}:org-fake:{suffix}:{job['id'][-6:]}"
        job.update(result_files=[result["id"]], fine_tuned_model=model_id,
                   finished_at=self._now(), trained_tokens=12345)
        self.models[model_id] = self._model(model_id, "org-fake")
        self.checkpoints[job["id"]].append({
            "object": "fine_tuning.job.checkpoint", "id": self._id("ftckpt"),
            "created_at": self._now(),
            "fine_tuned_model_checkpoint": f"{model_id}:ckpt-step-{TOTAL_STEPS}",
            "fine_tuning_job_id": job["id"], "step_number": TOTAL_STEPS,
            "metrics": {"step": TOTAL_STEPS, "train_loss": self._loss(TOTAL_STEPS)}})

    def cancel_job(self, req: Request, id: str) -> dict:
        job = self._find_job(id)
        if job["status"] in TERMINAL:
            raise ApiError(409, f"Job {id} has already {job['status']} and cannot be cancelled",
                           "job_not_cancellable")
        job.update(status="cancelled", finished_at=self._now())
        self._event(id, "Fine-tuning job cancelled")
        return _public(job)

    def pause_job(self, req: Request, id: str) -> dict:
        job = self._find_job(id)
        if job["status"] != "running":
            raise ApiError(409, f"Job {id} is {job['status']}; only running jobs can be paused")
        job["status"] = "paused"
        self._event(id, "Fine-tuning job paused")
        return _public(job)

    def resume_job(self, req: Request, id: str) -> dict:
        job = self._find_job(id)
        if job["status"] != "paused":
            raise ApiError(409, f"Job {id} is {job['status']}; only paused jobs can be resumed")
        job["status"] = "running"
        self._event(id, "Fine-tuning job resumed")
        return _public(job)

    def list_events(self, req: Request, id: str) -> dict:
        self._find_job(id)
        return self._page(list(reversed(self.events[id])), req.query, 20)

    def list_checkpoints(self, req: Request, id: str) -> dict:
        self._find_job(id)
        return self._page(list(reversed(self.checkpoints[id])), req.query, 10)


    # -- chat completions ----------------------------------------------------------------
    def add_chat_model(self, name: str, reply: Callable[[dict], dict], *, delay: float = 0.0,
                       refusals: int = 0, retry_after: str = "0") -> ChatModel:
        """Serve `name`: `reply(request body)` → the assistant message. The first `refusals`
        requests get 429 with `Retry-After: retry_after`; each answer waits `delay` seconds."""
        model = ChatModel(reply, delay, refusals, retry_after)
        with self.lock:
            self.chat_models[name] = model
        return model

    def chat_calls(self, model: str | None = None) -> list[dict]:
        """Bodies of the chat completion requests received (for `model`, or all)."""
        bodies = [json.loads(r.body) for r in self.calls("POST", r"(/deployments/[^/]+)?/chat/completions")]
        return [b for b in bodies if model is None or b.get("model") == model]

    def chat_completion(self, req: Request, deployment: str | None = None) -> Any:
        body = json.loads(req.body or b"{}")
        name = deployment or body.get("model")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ApiError(400, "'messages' is required", param="messages")
        with self.lock:
            model = self.chat_models.get(str(name))
            if model is None:
                raise ApiError(404, f"The model '{name}' does not exist", "model_not_found")
            count = len(self.calls("POST", r"(/deployments/[^/]+)?/chat/completions"))
            refuse = model.refusals > 0
            if refuse:
                model.refusals -= 1
        if refuse:
            raise ApiError(429, "Rate limit reached for requests", "rate_limit_exceeded",
                           "requests", headers={"retry-after": model.retry_after})
        if self.on_chat:
            self.on_chat(body, count)
        if model.delay:
            time.sleep(model.delay)
        message = {"role": "assistant", "content": None, "refusal": None, **model.reply(body)}
        with self.lock:
            completion_id = self._id("chatcmpl")
            created = self._now()
        usage = _chat_usage(body["messages"], message)
        if body.get("stream"):
            return _event_stream(completion_id, created, str(name), message, usage,
                                 bool((body.get("stream_options") or {}).get("include_usage")))
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return {"id": completion_id, "object": "chat.completion", "created": created,
                "model": name, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": finish}],
                "usage": usage}


@dataclass
class ChatModel:
    """A deterministic chat model of the fake server (see FakeOpenAI.add_chat_model)."""

    reply: Callable[[dict], dict]
    delay: float = 0.0
    refusals: int = 0
    retry_after: str = "0"


class EventStream(bytes):
    """A text/event-stream body (server-sent events), sent as it is."""


def last_user_text(body: dict) -> str:
    """The content of the last user message of a chat request (the question asked)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def echo_reply(body: dict) -> dict:
    return {"content": f"echo: {last_user_text(body)}"}


def reference_reply(references: dict[str, Any], knows: Collection[str],
                    fallback: str = "I don't know.") -> Callable[[dict], dict]:
    """A model that gives the reference (text, or a message dict with tool calls) for the
    questions in `knows` and `fallback` for the others. `references` maps the question (the
    last user message) to its reference."""
    def reply(body: dict) -> dict:
        question = last_user_text(body)
        if question in knows and question in references:
            ref = references[question]
            return {"content": ref} if isinstance(ref, str) else dict(ref)
        return {"content": fallback}
    return reply


def tool_call_reply(body: dict) -> dict:
    """Calls the request's first tool with the question as its argument."""
    tools = body.get("tools") or []
    if not tools:
        return {"content": "no tools"}
    name = tools[0]["function"]["name"]
    return {"tool_calls": [{"id": "call_1", "type": "function", "function": {
        "name": name, "arguments": json.dumps({"query": last_user_text(body)})}}]}


def _chat_usage(messages: list, message: dict) -> dict:
    """Deterministic stand-in for token counts: words + 3 per message."""
    prompt = sum(len(str(m.get("content") or "").split()) + 3 for m in messages)
    completion = len(str(message.get("content") or "").split()) + 5 * len(
        message.get("tool_calls") or [])
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _event_stream(completion_id: str, created: int, model: str, message: dict, usage: dict,
                  include_usage: bool) -> EventStream:
    """The answer as chat.completion.chunk events: the role, the content a word at a time,
    then the finish reason (and usage when asked), then [DONE]."""
    def chunk(delta: dict, finish: str | None = None, with_usage: dict | None = None) -> bytes:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_fake",
                "choices": [] if with_usage else [{"index": 0, "delta": delta,
                                                   "logprobs": None, "finish_reason": finish}]}
        if with_usage:
            data["usage"] = with_usage
        return b"data: " + json.dumps(data).encode() + b"\n\n"
    parts = [chunk({"role": "assistant", "content": ""})]
    words = re.findall(r"\S+\s*|\s+", message.get("content") or "")
    parts += [chunk({"content": w}) for w in words]
    if message.get("tool_calls"):
        parts.append(chunk({"tool_calls": [{"index": i, **c} for i, c in
                                           enumerate(message["tool_calls"])]}))
    parts.append(chunk({}, "tool_calls" if message.get("tool_calls") else "stop"))
    if include_usage:
        parts.append(chunk({}, with_usage=usage))
    return EventStream(b"".join(parts) + b"data: [DONE]\n\n")


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _multipart(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, bytes) from a multipart/form-data body."""
    head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        raise ApiError(400, "expected multipart/form-data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class _QuietServer(ThreadingHTTPServer):
    """Keeps the test output clean: a client hanging up (the SDK closing a keep-alive
    connection, a dropped-connection fault) is normal and ignored; any other error in a
    handler is kept in `errors` for the fixture to fail on, instead of printed to stderr."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.errors: list[str] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            self.errors.append(f"{type(exc).__name__}: {exc}")


def _handler_for(api: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path, azure = _strip_prefix(split.path)
            req = Request(self.command, path, query, headers, body, split.path)
            with api.lock:
                api.requests.append(req)
            try:
                v1 = split.path.startswith("/openai/v1/")  # Azure's versionless endpoint
                if azure and not v1 and "api-version" not in query:
                    raise ApiError(404, "Resource not found (missing api-version)")
                self._authenticate(headers, azure)
                fault = api.take_fault(self.command, path)
                if fault and fault.kind == "slow":
                    time.sleep(fault.delay)
                if fault and fault.kind == "body":
                    data = fault.body(req) if callable(fault.body) else fault.body
                    self._send_raw(fault.status, data, fault.content_type, fault.headers)
                    return
                if fault and fault.kind == "status":
                    self._send(fault.status, ApiError(fault.status, fault.message, fault.code,
                                                      "api_error").body(), fault.headers)
                    return
                status, payload, extra = api.handle(req)
                if fault and fault.kind == "late":
                    api.hide(payload, fault.hidden_lists)
                if fault and fault.kind in ("drop", "late"):
                    self._drop()
                    return
                self._send(status, payload, extra)
            except ApiError as e:
                # State conflicts are final; tell the SDK not to retry them (it would on 409).
                self._send(e.status, e.body(), {"x-should-retry": "false"} if e.status == 409
                           else e.headers)

        def _authenticate(self, headers: dict[str, str], azure: bool) -> None:
            bearer = headers.get("authorization", "").removeprefix("Bearer ")
            given = headers.get("api-key", "") if azure else bearer
            if given != api.api_key:
                # Like the real API, the message quotes the key: the client must redact it.
                raise ApiError(401, f"Incorrect API key provided: {given}.",
                               "invalid_api_key")

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            if isinstance(payload, EventStream):
                data, ctype = bytes(payload), "text/event-stream"
            elif isinstance(payload, bytes):
                data, ctype = payload, "application/octet-stream"
            else:
                data, ctype = json.dumps(payload).encode(), "application/json"
            self._send_raw(status, data, ctype, headers)

        def _send_raw(self, status: int, data: bytes, ctype: str,
                      headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    return Handler


def _strip_prefix(path: str) -> tuple[str, bool]:
    """('/v1/files', '/openai/files' or Azure's '/openai/v1/files') → ('/files', is_azure)."""
    if path.startswith("/openai/v1/"):
        return path[len("/openai/v1"):], True
    if path.startswith("/openai/"):
        return path[len("/openai"):], True
    return path.removeprefix("/v1"), False
