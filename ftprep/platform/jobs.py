"""Fine-tuning jobs: the create request, following a job to its end, and its loss metrics."""
from __future__ import annotations

import csv
import io
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import PlatformError, UsageError
from ftprep.formats import PREFERENCE
from ftprep.platform.client import PlatformClient, Unanswered
from ftprep.platform.resend import look_before_resend, resend_delay
from ftprep.platform.shapes import broken

SUPERVISED = "supervised"
DPO = "dpo"
SUPPORTED_METHODS = (SUPERVISED, DPO)  # the methods ftprep builds jobs for
# Azure OpenAI's training tiers (the job's `trainingType`), spelled as Azure's docs send them.
TRAINING_TYPES = ("Standard", "GlobalStandard", "developerTier")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class JobOptions:
    """What the user chose for the job; None means "let the API decide" (auto)."""

    model: str
    method: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None
    suffix: str | None = None
    seed: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    wandb_project: str | None = None
    training_type: str | None = None  # Azure OpenAI only: Standard | GlobalStandard | developerTier


def training_type_name(value: str) -> str:
    """`value` spelled as Azure expects it (case-insensitive match against TRAINING_TYPES)."""
    for name in TRAINING_TYPES:
        if value.lower() == name.lower():
            return name
    raise UsageError(f"training_type={value!r} is not one of {', '.join(TRAINING_TYPES)}")


def choose_method(requested: str | None, data_format: str | None) -> str:
    """Preference data trains with DPO, everything else supervised, unless told otherwise."""
    default = DPO if data_format == PREFERENCE else SUPERVISED
    method = requested or default
    if method not in SUPPORTED_METHODS:
        raise UsageError(f"unknown method {method!r}; use one of {', '.join(SUPPORTED_METHODS)}")
    if data_format == PREFERENCE and method != DPO:
        raise UsageError("preference data (preferred/non_preferred outputs) needs --method dpo")
    if data_format not in (None, PREFERENCE) and method == DPO:
        raise UsageError(f"--method dpo needs preference data, the file is {data_format}")
    return method


def build_job_request(
    training_file: str,
    validation_file: str | None,
    options: JobOptions,
    data_format: str | None = None,
) -> dict[str, Any]:
    """The body of POST /fine_tuning/jobs, with only the fields the user set."""
    method = choose_method(options.method, data_format)
    if options.beta is not None and method != DPO:
        raise UsageError("--beta only applies to --method dpo")
    hyper: dict[str, Any] = {
        "n_epochs": options.epochs,
        "batch_size": options.batch_size,
        "learning_rate_multiplier": options.learning_rate_multiplier,
    }
    if method == DPO:
        hyper["beta"] = options.beta
    hyper = {k: v for k, v in hyper.items() if v is not None}
    body: dict[str, Any] = {
        "model": options.model,
        "training_file": training_file,
        "method": {"type": method, method: {"hyperparameters": hyper} if hyper else {}},
    }
    optional = {
        "validation_file": validation_file,
        "suffix": options.suffix,
        "seed": options.seed,
        "metadata": dict(options.metadata) or None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if options.wandb_project:
        body["integrations"] = [{"type": "wandb", "wandb": {"project": options.wandb_project}}]
    if options.training_type:
        body["trainingType"] = training_type_name(options.training_type)
    return body


def parse_metadata(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`k=v` strings → dict; the API allows 16 keys (≤64 chars) with values ≤512 chars, and
    ftprep keeps one of them (REQUEST_ID_KEY) to make job creation idempotent."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metadata expects key=value, got {pair!r}")
        if len(key) > 64 or len(value) > 512:
            raise UsageError(f"--metadata {key[:20]!r}: key ≤64 and value ≤512 characters")
        if key.strip() == REQUEST_ID_KEY:
            raise UsageError(f"--metadata {REQUEST_ID_KEY} is set by ftprep (it makes job "
                             "creation idempotent); use another key")
        result[key.strip()] = value
    if len(result) > 15:
        raise UsageError("--metadata allows at most 15 keys (the API's 16th is ftprep's "
                         f"{REQUEST_ID_KEY})")
    return result


# -- creating a job exactly once -----------------------------------------------------------
REQUEST_ID_KEY = "ftprep_request_id"
JOB_LOOKBACK = 500  # newest jobs searched for a request id: a lost answer is seconds old


@dataclass(frozen=True)
class CreatedJob:
    """The one job a create request made. `recovered`: its answer was lost, and the job was
    found on the server by the request id in its metadata (no second job was created)."""

    job: Any
    request_id: str
    recovered: bool = False
    attempts: int = 1


def create_job(
    client: PlatformClient,
    body: dict[str, Any],
    *,
    request_id: str | None = None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CreatedJob:
    """POST the job once, idempotently. The body carries a client-made id in its metadata
    (and an Idempotency-Key header); the SDK's own retries are off. When an answer is lost
    (dropped connection, timeout, 5xx, 429) the server is searched for a job with that id,
    for a bounded time, before the request is sent again: never two billable jobs."""
    request_id = request_id or uuid.uuid4().hex
    body = {**body, "metadata": {**(body.get("metadata") or {}), REQUEST_ID_KEY: request_id}}
    attempts = (client.config.max_retries if attempts is None else attempts) + 1
    for attempt in range(1, attempts + 1):
        try:
            job = client.create_job_once(body, idempotency_key=request_id)
            return CreatedJob(job, request_id, attempts=attempt)
        except Unanswered as e:
            found = look_before_resend(lambda: find_job(client, request_id), e, sleep)
            if found is not None:
                return CreatedJob(found, request_id, recovered=True, attempts=attempt)
            delay = resend_delay(e, attempt)
            if attempt == attempts or delay is None:
                raise PlatformError(f"{e}; no job was created (none carries {REQUEST_ID_KEY}"
                                    f"={request_id})") from None
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


def find_job(client: PlatformClient, request_id: str) -> Any | None:
    """The job whose metadata carries `request_id`, among the newest JOB_LOOKBACK jobs."""
    for seen, job in enumerate(client.iterate_jobs(), start=1):
        if (job.metadata or {}).get(REQUEST_ID_KEY) == request_id:
            return job
        if seen >= JOB_LOOKBACK:
            break
    return None


# -- following a job ------------------------------------------------------------------------
@dataclass(frozen=True)
class WatchUpdate:
    """One thing that happened: a status change, an event, or a step's metrics."""

    kind: str  # "status" | "event" | "metrics"
    job: Any
    message: str = ""
    step: int | None = None
    total_steps: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["job"] = {"id": self.job.id, "status": self.job.status}
        return d


def watch_job(
    client: PlatformClient,
    job_id: str,
    *,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WatchUpdate]:
    """Poll until the job ends, yielding only what is new. The last update carries the
    terminal job. Stopping the iteration (Ctrl-C) leaves the job running: nothing is cancelled."""
    seen: set[str] = set()
    last_status = None
    while True:
        job = client.get_job(job_id)
        if job.status != last_status:
            last_status = job.status
            yield WatchUpdate("status", job, message=f"status: {job.status}")
        for event in sorted(client.list_new_events(job_id, seen), key=_event_order):
            seen.add(event.id)
            yield _event_update(job, event)
        if job.status in TERMINAL:
            return
        sleep(poll_interval)


def _event_order(event: Any) -> tuple[int, str]:
    return (event.created_at, event.id)


def _event_update(job: Any, event: Any) -> WatchUpdate:
    data = event.data if isinstance(getattr(event, "data", None), dict) else {}
    if getattr(event, "type", None) == "metrics" and "step" in data:
        return WatchUpdate(
            "metrics", job, message=event.message, step=int(data["step"]),
            total_steps=int(data["total_steps"]) if data.get("total_steps") else None,
            metrics={k: v for k, v in data.items() if k not in ("step", "total_steps")},
        )
    return WatchUpdate("event", job, message=f"[{event.level}] {event.message}")


# -- metrics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesSummary:
    name: str
    count: int
    first: float
    last: float
    min: float
    min_step: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MetricsSummary:
    """Loss summary of a job's result file (CSV: step,train_loss,valid_loss,...)."""

    job_id: str
    result_file: str
    steps: int
    series: dict[str, SeriesSummary]
    points: dict[str, list[tuple[int, float]]] = field(default_factory=dict, repr=False)
    skipped: int = 0  # cells that held no number (nan, inf, text): no points, but counted

    def to_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "result_file": self.result_file,
            "steps": self.steps,
            "series": {k: v.to_dict() for k, v in self.series.items()},
            "skipped": self.skipped,
        }


def summarise_results_csv(text: str, job_id: str = "", result_file: str = "") -> MetricsSummary:
    """Per numeric column (except step): first/last/min over the rows that have a value.
    Cells that are empty, not numbers, or not finite (nan, inf) are no points; they are
    counted in `skipped`. A row longer than the header is a broken file (PlatformError)."""
    where = f"GET /files/{result_file}/content" if result_file else "result file"
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    points: dict[str, list[tuple[int, float]]] = {}
    max_step, skipped = 0, 0
    try:
        for row in reader:
            if len(row) > len(header):
                raise broken(where, f"CSV line {reader.line_num} has {len(row)} fields, the "
                                    f"header has {len(header)}")
            cells = dict(zip(header, row, strict=False))
            step = _number(cells.get("step"))
            if step is None:
                skipped += sum(1 for cell in row if cell.strip())  # the row has no step
                continue
            max_step = max(max_step, int(step))
            for column, raw in cells.items():
                value = _number(raw)
                if column and column != "step" and value is not None:
                    points.setdefault(column, []).append((int(step), value))
                skipped += column != "step" and raw.strip() != "" and value is None
    except csv.Error as e:
        raise broken(where, f"not a readable CSV ({e})") from None
    series = {name: _summary(name, pts) for name, pts in points.items()}
    return MetricsSummary(job_id, result_file, max_step, series, points, skipped)


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _summary(name: str, pts: list[tuple[int, float]]) -> SeriesSummary:
    min_step, min_value = min(pts, key=lambda p: p[1])
    return SeriesSummary(name, len(pts), pts[0][1], pts[-1][1], min_value, min_step)


def job_metrics(client: PlatformClient, job_id: str) -> MetricsSummary:
    """Download the job's result file and summarise it."""
    job = client.get_job(job_id)
    if not job.result_files:
        raise UsageError(
            f"job {job_id} has no result file yet (status {job.status}); "
            f"metrics appear when it succeeds: ftprep jobs watch {job_id}"
        )
    file_id = job.result_files[0]
    data = client.file_content(file_id)
    try:
        if b"\x00" in data:
            raise UnicodeError("a NUL byte")
        text = data.decode("utf-8-sig")
    except UnicodeError as e:
        reason = e.reason if isinstance(e, UnicodeDecodeError) else str(e)
        raise broken(f"GET /files/{file_id}/content",
                     f"the result file is not a text CSV ({reason})") from None
    return summarise_results_csv(text, job_id=job_id, result_file=file_id)


def plot_metrics(summary: MetricsSummary, out: str | Path) -> Path:
    """Draw the loss curves to a PNG (matplotlib imported only here, headless)."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'ftprep[plot]'") from None

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from ftprep.io.writer import atomic_writer

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, pts in summary.points.items():
        if "loss" in name:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{summary.job_id} loss")
    ax.legend()
    with atomic_writer(out) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return Path(out)
