"""`ftprep submit` as a library: check → estimate → upload (once) → create the job.

Checks and prices come from `ftprep.validate` and `ftprep.estimate`, with the model resolved
through the registry first (see `resolve_models`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftprep.errors import DataError, FtprepError, UsageError
from ftprep.estimate import estimate_file
from ftprep.findings import Severity
from ftprep.formats import FORMATS
from ftprep.models import check_can_fine_tune, get_model
from ftprep.plain import to_plain
from ftprep.platform.client import PlatformClient
from ftprep.platform.jobs import (
    CreatedJob,
    JobOptions,
    build_job_request,
    choose_method,
    create_job,
)
from ftprep.platform.shapes import as_dict
from ftprep.platform.uploads import (
    DEFAULT_PART_SIZE,
    SINGLE_REQUEST_LIMIT,
    FileDigest,
    UploadResult,
    UploadState,
    digest_file,
    upload_file,
)
from ftprep.validate import validate_file


def resolve_models(model: str, provider: str | None = None) -> tuple[str, str | None]:
    """The model id to send and the registry id to check the data against.

    Aliases become their snapshot (fine-tuning takes snapshot ids); fine-tuned names (`ft:`,
    Azure's `.ft-`) are sent as given (continuing a fine-tune) and checked as their base. For
    `provider="azure"` the registry's Azure row is used where there is one. A model the
    registry does not know (a custom model on an OpenAI-compatible server) is sent as given
    and checked without token limits or price: (model, None)."""
    try:
        info = get_model(model, provider=provider)
    except UsageError:
        return model, None
    fine_tuned = model.startswith("ft:") or ".ft-" in model
    return (model if fine_tuned else info.api_id), info.id


@dataclass
class SubmitPlan:
    """Everything decided before anything is sent."""

    train: FileDigest
    validation: FileDigest | None
    reports: list[Any]
    estimate: Any
    options: JobOptions
    data_format: str | None
    estimate_error: str | None = None  # why there is no estimate (only possible with --force)
    copies: list[Any] = field(default_factory=list)  # ExportResult of files sent without refused keys

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    def job_request(self, train_id: str, validation_id: str | None) -> dict[str, Any]:
        return build_job_request(train_id, validation_id, self.options, self.data_format)

    def dry_run(self, purpose: str = "fine-tune") -> dict[str, Any]:
        """The request bodies as they would be sent, with placeholders for unknown file ids."""
        uploads = [
            {"purpose": purpose, "filename": d.remote_name, "bytes": d.bytes, "sha256": d.sha256,
             "source": d.path}
            for d in (self.train, self.validation) if d is not None
        ]
        job = self.job_request(
            f"<file id of {self.train.remote_name}>",
            f"<file id of {self.validation.remote_name}>" if self.validation else None,
        )
        return {"uploads": uploads, "job": job}

    def to_dict(self) -> dict[str, Any]:
        return {
            "validation": [r.to_dict() for r in self.reports],
            "estimate": to_plain(self.estimate),
            "estimate_error": self.estimate_error,
            "format": self.data_format,
            "copies": [_copy_dict(c) for c in self.copies],
        }


@dataclass
class SubmitResult:
    job: Any
    uploads: list[UploadResult]
    plan: SubmitPlan
    next_commands: list[str] = field(default_factory=list)
    creation: CreatedJob | None = None  # how the job was created (request id, recovered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": as_dict(self.job),
            "files": {
                "training_file": self.uploads[0].to_dict(),
                "validation_file": self.uploads[1].to_dict() if len(self.uploads) > 1 else None,
            },
            "estimate": to_plain(self.plan.estimate),
            "job_request": None if self.creation is None else {
                "request_id": self.creation.request_id, "recovered": self.creation.recovered,
                "attempts": self.creation.attempts},
            "next": self.next_commands,
        }


def _copy_dict(copy: Any) -> dict[str, Any]:
    return {"source": copy.input, "copy": copy.output, "dropped_keys": copy.dropped_keys}


def plan_submission(
    train: str | Path, validation: str | Path | None, options: JobOptions, *, force: bool = False,
    today: dt.date | None = None, provider: str | None = None,
) -> SubmitPlan:
    """Validate both files (refusing on errors unless `force`) and estimate the cost.
    Sends nothing. Refuses (`FineTuningRefused`, unless `force`) a model whose fine-tuning is
    shut down or closed on `today`, or that does not support the method the data needs. With
    `force`, data too broken to estimate gets no estimate, and says why."""
    send_model, check_model = resolve_models(options.model, provider)
    options = replace(options, model=send_model)
    info = get_model(check_model) if check_model is not None and not force else None
    if info is not None:
        check_can_fine_tune(info, today=today)  # before reading the data: it cannot help
    paths = [train] if validation is None else [train, validation]
    reports = [validate_file(p, model=check_model) for p in paths]
    refuse_if_invalid(reports, force)
    if info is not None:
        fmt = getattr(reports[0], "format", None)
        check_can_fine_tune(info, choose_method(options.method, fmt), today)
    train, validation, copies = _without_refused_keys(train, validation)
    estimate, estimate_error = None, None
    if check_model is None:
        estimate_error = f"{send_model} is not in the model registry, so it has no price"
    else:
        try:
            estimate = estimate_file(train, model=check_model, epochs=options.epochs or "auto",
                                     validation=validation)
        except FtprepError as e:
            if not force:
                raise
            estimate_error = str(e)
    data_format = getattr(reports[0], "format", None)
    return SubmitPlan(
        train=digest_file(train),
        validation=digest_file(validation) if validation is not None else None,
        reports=reports,
        estimate=estimate,
        options=options,
        data_format=data_format if data_format in FORMATS else None,
        estimate_error=estimate_error,
        copies=copies,
    )


def _without_refused_keys(
    train: str | Path, validation: str | Path | None
) -> tuple[str | Path, str | Path | None, list[Any]]:
    """Keys ftprep allows but the platform refuses (a top-level `metadata`): the upload is a
    copy without them, made in the state directory, and the plan says so."""
    from ftprep.platform.uploads import state_dir
    from ftprep.targets.export import copy_without_refused_keys

    copies = []
    sent: list[str | Path | None] = []
    for i, path in enumerate((train, validation)):
        copy = None if path is None else copy_without_refused_keys(
            path, state_dir() / "upload-copies" / ("train" if i == 0 else "validation"))
        if copy is not None:
            copies.append(copy)
        sent.append(copy.output if copy is not None else path)
    assert sent[0] is not None
    return sent[0], sent[1], copies


def refuse_if_invalid(reports: list[Any], force: bool) -> None:
    """Errors in the data stop the submission (exit 1) unless --force."""
    if force or all(r.ok for r in reports):
        return
    problems = [
        f"{r.path}:{f.line} {f.code} {f.message}"
        for r in reports if not r.ok
        for f in r.findings if f.severity == Severity.ERROR
    ]
    more = f"; … {len(problems) - 3} more" if len(problems) > 3 else ""
    shown = "; ".join(problems[:3]) + more
    raise DataError(
        f"the data has {len(problems)} error(s), not submitting: {shown}",
        hint="fix them (ftprep validate FILE) or pass --force",
    )


def execute(
    client: PlatformClient,
    plan: SubmitPlan,
    *,
    part_threshold: int = SINGLE_REQUEST_LIMIT,
    part_size: int = DEFAULT_PART_SIZE,
    state: UploadState | None = None,
) -> SubmitResult:
    """Upload (deduplicated) and create the job."""
    state = state or UploadState()
    uploads = [
        upload_file(client, d.path, part_threshold=part_threshold, part_size=part_size,
                    state=state)
        for d in (plan.train, plan.validation) if d is not None
    ]
    body = plan.job_request(uploads[0].file_id, uploads[1].file_id if len(uploads) > 1 else None)
    created = create_job(client, body)
    return SubmitResult(created.job, uploads, plan, next_commands=next_commands(created.job.id),
                        creation=created)


def next_commands(job_id: str) -> list[str]:
    return [
        f"ftprep jobs watch {job_id}",
        f"ftprep jobs events {job_id}",
        f"ftprep jobs metrics {job_id}",
        f"ftprep jobs cancel {job_id}",
    ]
