"""CLI: hand-off to a fine-tuning API — `submit`, and the `files`, `jobs`, `models` groups.
Thin layers over ftprep.platform; all talking to the API goes through PlatformClient."""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click

from ftprep.cli import common
from ftprep.cli.common import emit_json, format_option, quiet_option, usd
from ftprep.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ftprep.platform.client import PlatformClient, is_fine_tuned
from ftprep.platform.config import AZURE, PROVIDERS, ProviderConfig, resolve_config
from ftprep.platform.jobs import (
    TERMINAL,
    TRAINING_TYPES,
    JobOptions,
    job_metrics,
    parse_metadata,
    watch_job,
)
from ftprep.platform.shapes import as_dict
from ftprep.platform.uploads import DEFAULT_PART_SIZE, SINGLE_REQUEST_LIMIT, upload_file
from ftprep.text import printable

_SETTINGS = ("provider", "base_url", "api_key_env", "api_version", "max_retries", "timeout",
             "debug")


@dataclass(frozen=True)
class Connection:
    """The provider options of one command; the client is built only when first needed."""

    settings: dict[str, Any]

    def config(self, require_key: bool = True) -> ProviderConfig:
        return resolve_config(**self.settings, require_key=require_key)

    @functools.cached_property
    def client(self) -> PlatformClient:
        config = self.config()
        if config.debug:  # --debug lasts for this command only
            from ftprep.platform.client import disable_debug_logging

            click.get_current_context().call_on_close(disable_debug_logging)
        return PlatformClient(config)


def platform_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Provider options shared by every platform command; the command gets `conn`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = {name: kwargs.pop(name) for name in _SETTINGS}
        return fn(*args, conn=Connection(settings), **kwargs)

    options = [
        click.option("--provider", type=click.Choice(PROVIDERS), default=None,
                     help="openai (default), azure (AZURE_OPENAI_*), or compatible (--base-url)."),
        click.option("--base-url", default=None,
                     help="API base URL (OPENAI_BASE_URL; for Azure the resource endpoint, or "
                          "its v1 endpoint https://RESOURCE.openai.azure.com/openai/v1/)."),
        click.option("--api-key-env", default=None, metavar="NAME",
                     help="Read the API key from this environment variable."),
        click.option("--api-version", default=None, help="Azure API version (OPENAI_API_VERSION)."),
        click.option("--max-retries", type=click.IntRange(0), default=None,
                     help="Retries on 429/5xx/timeouts, with backoff (FTPREP_MAX_RETRIES, 3)."),
        click.option("--timeout", type=click.FloatRange(min=0.001), default=None,
                     help="Seconds per request (600)."),
        click.option("--debug", is_flag=True, help="Log requests to stderr (keys redacted)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


# -- output helpers ------------------------------------------------------------------------
def _emit_list(items: Iterable[Any]) -> None:
    emit_json({"data": [as_dict(i) for i in items]})


def _emit_items(items: list[Any], fmt: str, headers: list[str],
                row: Callable[[Any], list[Any]]) -> None:
    """A listing: {"data": [...]} as JSON, or a text table with one `row(item)` per item."""
    if fmt == "json":
        _emit_list(items)
    else:
        _table([row(item) for item in items], headers)


def _table(rows: list[list[Any]], headers: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    when = [h.startswith("CREATED") for h in headers]  # API times are Unix seconds
    cells = [headers] + [[_cell(c, is_time) for c, is_time in zip(row, when, strict=True)] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any, is_time: bool) -> str:
    if value is None:
        return ""
    if is_time and isinstance(value, int):
        try:
            return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return str(value)  # a time no calendar can show: the number as sent
    return printable(value)  # ids, names and messages come from the server


def _show(obj: Any, fmt: str) -> None:
    """One object: JSON, or `key: value` lines (nested values as compact JSON)."""
    data = as_dict(obj)
    if fmt == "json":
        emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        click.echo(f"{printable(key)}: {printable(value)}")


def _poll_interval(value: float | None) -> float:
    if value is not None:
        return value
    raw = os.environ.get("FTPREP_POLL_INTERVAL")
    try:
        return float(raw) if raw else 10.0
    except ValueError:
        raise UsageError(f"FTPREP_POLL_INTERVAL must be a number, got {raw!r}") from None


poll_option = click.option("--poll-interval", type=click.FloatRange(min=0), default=None,
                           help="Seconds between status polls (FTPREP_POLL_INTERVAL, 10).")


# -- files ---------------------------------------------------------------------------------
@click.group()
def files() -> None:
    """Upload, list, inspect and delete files on the API."""


@files.command("upload")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--purpose", default="fine-tune", show_default=True)
@click.option("--part-threshold", type=click.IntRange(1), default=SINGLE_REQUEST_LIMIT,
              show_default=True, help="Bytes above which the Uploads API is used, in parts.")
@click.option("--part-size", type=click.IntRange(1), default=DEFAULT_PART_SIZE,
              show_default=True, help="Bytes per part for the Uploads API.")
@quiet_option
@format_option
@platform_options
def files_upload(path: str, purpose: str, part_threshold: int, part_size: int, fmt: str,
                 conn: Connection) -> None:
    """Upload PATH once: the same content again reuses the earlier file."""
    result = upload_file(conn.client, path, purpose=purpose, part_threshold=part_threshold,
                         part_size=part_size)
    if fmt == "json":
        emit_json(result.to_dict())
        return
    how = {"state": "already uploaded (local record)", "remote": "already uploaded (found on "
           "the server)"}.get(result.source, f"uploaded via {result.method} API")
    click.echo(f"{printable(result.file_id)}  {printable(result.filename)}  {result.bytes} "
               f"bytes  {how}")


@files.command("list")
@click.option("--purpose", default=None, help="Only files with this purpose.")
@format_option
@platform_options
def files_list(purpose: str | None, fmt: str, conn: Connection) -> None:
    """List files."""
    items = conn.client.list_files(purpose)
    _emit_items(items, fmt, ["ID", "FILENAME", "BYTES", "PURPOSE", "STATUS", "CREATED_AT"],
                lambda f: [f.id, f.filename, f.bytes, f.purpose, f.status, f.created_at])


def _id_command(group: click.Group, name: str, argument: str, doc: str,
                action: Callable[[PlatformClient, str], Any],
                line: Callable[[Any], str] | None = None) -> click.Command:
    """`GROUP NAME ID`: one API call on one object; prints it (json / key: value) or, with
    `line`, a one-line confirmation."""

    @group.command(name, help=doc)
    @click.argument(argument)
    @format_option
    @platform_options
    def command(fmt: str, conn: Connection, **kwargs: str) -> None:
        result = action(conn.client, kwargs[argument])
        if fmt == "json" or line is None:
            _show(result, fmt)
        else:
            click.echo(line(result))

    return command


def _deleted(result: Any) -> str:
    return f"deleted {printable(result.id)}"


def _job_state(job: Any) -> str:
    return printable(f"{job.id}: {job.status}")


_id_command(files, "get", "file_id", "Show one file.", PlatformClient.get_file)
_id_command(files, "delete", "file_id", "Delete a file.", PlatformClient.delete_file, _deleted)


@files.command("content")
@click.argument("file_id")
@click.option("-o", "--output", default="-", show_default=True, help="Write here ('-' = stdout).")
@platform_options
def files_content(file_id: str, output: str, conn: Connection) -> None:
    """Download a file's content (e.g. a job's result CSV)."""
    from ftprep.io.writer import atomic_writer

    data = conn.client.file_content(file_id)
    with atomic_writer(output) as f:
        f.write(data)


# -- jobs ----------------------------------------------------------------------------------
@click.group()
def jobs() -> None:
    """List, follow, pause, resume and cancel fine-tuning jobs."""


@jobs.command("list")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@format_option
@platform_options
def jobs_list(limit: int, fmt: str, conn: Connection) -> None:
    """List recent jobs (newest first)."""
    items = conn.client.list_jobs(limit)
    _emit_items(items, fmt, ["ID", "STATUS", "MODEL", "FINE_TUNED_MODEL", "CREATED_AT"],
                lambda j: [j.id, j.status, j.model, j.fine_tuned_model, j.created_at])


_id_command(jobs, "get", "job_id", "Show one job.", PlatformClient.get_job)
_id_command(jobs, "cancel", "job_id", "Cancel a job (it stays listed, as cancelled).",
            PlatformClient.cancel_job, _job_state)
_id_command(jobs, "pause", "job_id", "Pause a running job.", PlatformClient.pause_job, _job_state)
_id_command(jobs, "resume", "job_id", "Resume a paused job.", PlatformClient.resume_job,
            _job_state)


@jobs.command("events")
@click.argument("job_id")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@format_option
@platform_options
def jobs_events(job_id: str, limit: int, fmt: str, conn: Connection) -> None:
    """Show a job's events, oldest first."""
    items = sorted(conn.client.list_events(job_id, limit), key=lambda e: (e.created_at, e.id))
    _emit_items(items, fmt, ["CREATED_AT", "LEVEL", "MESSAGE"],
                lambda e: [e.created_at, e.level, e.message])


@jobs.command("checkpoints")
@click.argument("job_id")
@format_option
@platform_options
def jobs_checkpoints(job_id: str, fmt: str, conn: Connection) -> None:
    """List a job's checkpoints (usable models at intermediate steps)."""
    items = conn.client.list_checkpoints(job_id)
    _emit_items(items, fmt, ["STEP", "CHECKPOINT_MODEL", "TRAIN_LOSS"],
                lambda c: [c.step_number, c.fine_tuned_model_checkpoint,
                           getattr(c.metrics, "train_loss", None)])


@jobs.command("watch")
@click.argument("job_id")
@poll_option
@format_option
@platform_options
def jobs_watch(job_id: str, poll_interval: float | None, fmt: str, conn: Connection) -> None:
    """Follow a job until it ends (exit 0 succeeded, 1 failed/cancelled). Ctrl-C detaches."""
    job = follow(conn.client, job_id, _poll_interval(poll_interval))
    _finish_watch(job, fmt)


def _finish_watch(job: Any, fmt: str, extra: dict[str, Any] | None = None) -> None:
    if fmt == "json":
        emit_json({**(extra or {}), "job": as_dict(job)})
    else:
        click.echo(printable(f"{job.id}: {job.status}"
                             + (f" → {job.fine_tuned_model}" if job.fine_tuned_model else "")))
        if job.error and job.status == "failed":
            click.echo(f"error: {printable(job.error.message)}")
    click.get_current_context().exit(EXIT_OK if job.status == "succeeded" else EXIT_FINDINGS)


def follow(client: PlatformClient, job_id: str, poll_interval: float) -> Any:
    """Print status changes and events to stderr with a progress bar; return the final job.
    Ctrl-C detaches (exit 130) without cancelling the job."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    console = Console(stderr=True)
    job = None
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[loss]}"), console=console, transient=False) as bar:
        task = bar.add_task(job_id, total=None, loss="")
        try:
            for update in watch_job(client, job_id, poll_interval=poll_interval):
                job = update.job
                if update.kind == "metrics":
                    loss = update.metrics.get("train_loss")
                    bar.update(task, completed=update.step, total=update.total_steps,
                               loss=f"loss {loss}" if loss is not None else "")
                else:
                    bar.console.print(printable(f"{job_id} {update.message}"), markup=False,
                                      highlight=False)
        except KeyboardInterrupt:
            bar.stop()
            click.echo(f"detached from {job_id}; the job keeps running. "
                       f"Resume with: ftprep jobs watch {job_id}", err=True)
            click.get_current_context().exit(130)
    if job is None or job.status not in TERMINAL:
        raise UsageError(f"lost track of job {job_id}")
    return job


@jobs.command("metrics")
@click.argument("job_id")
@click.option("--plot", "plot_path", default=None, metavar="PNG",
              help="Also draw the loss curves to this PNG file.")
@format_option
@platform_options
def jobs_metrics(job_id: str, plot_path: str | None, fmt: str, conn: Connection) -> None:
    """Summarise train/validation loss from the job's result file."""
    summary = job_metrics(conn.client, job_id)
    if plot_path:
        from ftprep.platform.jobs import plot_metrics

        plot_metrics(summary, plot_path)
    if fmt == "json":
        emit_json({**summary.to_dict(), "plot": plot_path})
        return
    click.echo(printable(f"{job_id}: {summary.steps} steps (result file {summary.result_file})"))
    _table([[s.name, s.count, f"{s.first:g}", f"{s.last:g}", f"{s.min:g}", s.min_step]
            for s in summary.series.values()],
           ["SERIES", "POINTS", "FIRST", "LAST", "MIN", "MIN_AT_STEP"])
    if plot_path:
        click.echo(f"plot written to {plot_path}")


@jobs.command("delete")
@click.argument("job_id")
def jobs_delete(job_id: str) -> None:
    """Explain that jobs cannot be deleted (the API has no such call)."""
    raise UsageError(
        f"the fine-tuning API cannot delete jobs; to stop {job_id} run: ftprep jobs cancel "
        f"{job_id} (its trained model, if any, can be removed with: ftprep models delete MODEL)"
    )


# -- models --------------------------------------------------------------------------------
@click.group()
def models() -> None:
    """List, inspect and delete models."""


@models.command("list")
@click.option("--fine-tuned", "kind", flag_value="fine-tuned",
              help="Only models you trained (with the date each stops serving).")
@click.option("--base", "kind", flag_value="base", help="Only the provider's base models.")
@click.option("--owner", default=None, help="Only models owned by this owner.")
@format_option
@platform_options
def models_list(kind: str | None, owner: str | None, fmt: str, conn: Connection) -> None:
    """List models (sorted by id); fine-tuned ones with the day they stop serving (when their
    base model shuts down) and the days left."""
    from ftprep.platform.sdk import TrainGPT

    sdk = TrainGPT(client=conn.client)
    fine_tuned = None if kind is None else kind == "fine-tuned"
    items = sorted(sdk.list_models(fine_tuned=fine_tuned, owner=owner), key=lambda m: m.id)
    lives = {m.id: sdk.model_lifecycle(m.id) for m in items if is_fine_tuned(m)}
    if fmt == "json":
        emit_json({"data": [{**as_dict(m), "lifecycle": _lifecycle_dict(lives.get(m.id))}
                            for m in items]})
        return
    if kind == "base":
        _table([[m.id, m.owned_by, m.created] for m in items], ["ID", "OWNER", "CREATED"])
        return
    _table([[m.id, m.owned_by, m.created, *_serving_cells(lives.get(m.id))] for m in items],
           ["ID", "OWNER", "CREATED", "STOPS_SERVING", "DAYS_LEFT"])


def _lifecycle_dict(life: Any) -> dict[str, Any] | None:
    return None if life is None else life.to_dict()


def _serving_cells(life: Any) -> list[str]:
    """STOPS_SERVING, DAYS_LEFT cells: '?' when unknown, a '~' when reported, not confirmed."""
    if life is None:
        return ["", ""]
    if life.stops_serving is None:
        return ["?", "?"]
    mark = "~" if life.uncertain else ""
    return [f"{mark}{life.stops_serving.isoformat()}", f"{mark}{life.days_left}"]


@models.command("summary")
@format_option
@platform_options
def models_summary(fmt: str, conn: Connection) -> None:
    """Count models per owner."""
    from ftprep.platform.sdk import TrainGPT

    summary = TrainGPT(client=conn.client).list_models_by_owner()
    if fmt == "json":
        emit_json({"owners": {o: {"count": len(ids), "models": ids} for o, ids in summary.items()}})
        return
    _table([[o, len(ids)] for o, ids in summary.items()], ["OWNER", "MODELS"])


@models.command("get")
@click.argument("model_id")
@format_option
@platform_options
def models_get(model_id: str, fmt: str, conn: Connection) -> None:
    """Show one model; a fine-tuned one with the day it stops serving and the days left."""
    from ftprep.platform.sdk import TrainGPT

    sdk = TrainGPT(client=conn.client)
    model = sdk.get_model_details(model_id)
    life = sdk.model_lifecycle(model.id) if is_fine_tuned(model) else None
    if fmt == "json":
        emit_json({**as_dict(model), "lifecycle": _lifecycle_dict(life)})
        return
    _show(model, fmt)
    if life is not None:
        click.echo(printable(life.message))


_id_command(models, "delete", "model_id", "Delete a fine-tuned model you own.",
            PlatformClient.delete_model, _deleted)


# -- submit --------------------------------------------------------------------------------
@click.command()
@click.argument("train", type=click.Path(dir_okay=False))
@click.option("--validation", type=click.Path(dir_okay=False), default=None,
              help="Validation JSONL file.")
@click.option("--model", "-m", required=True, help="Base model to fine-tune.")
@click.option("--method", type=click.Choice(["supervised", "dpo"]), default=None,
              help="Default: dpo for preference data, else supervised.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="n_epochs (default auto).")
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("--learning-rate-multiplier", type=click.FloatRange(min=0, min_open=True),
              default=None)
@click.option("--beta", type=click.FloatRange(min=0, min_open=True), default=None,
              help="DPO beta.")
@click.option("--suffix", default=None, help="Up to 64 characters added to the model name.")
@click.option("--seed", type=int, default=None)
@click.option("--metadata", multiple=True, metavar="K=V", help="Job metadata (repeatable).")
@click.option("--wandb-project", default=None, help="Report to this Weights & Biases project.")
@click.option("--training-type", type=click.Choice(TRAINING_TYPES, case_sensitive=False),
              default=None, help="Azure OpenAI training tier (sent as trainingType).")
@click.option("--force", is_flag=True, help="Submit even if validation finds errors, the "
              "model's fine-tuning is closed or shut down, or it lacks the method.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show the requests that would be sent; send nothing.")
@click.option("--wait", is_flag=True, help="Follow the job until it ends.")
@poll_option
@click.option("--part-threshold", type=click.IntRange(1), default=SINGLE_REQUEST_LIMIT,
              show_default=True, help="Bytes above which files are uploaded in parts.")
@click.option("--part-size", type=click.IntRange(1), default=DEFAULT_PART_SIZE,
              show_default=True)
@quiet_option
@format_option
@platform_options
def submit(train: str, validation: str | None, model: str, method: str | None,
           epochs: int | None, batch_size: int | None, learning_rate_multiplier: float | None,
           beta: float | None, suffix: str | None, seed: int | None,
           metadata: tuple[str, ...], wandb_project: str | None, training_type: str | None,
           force: bool, yes: bool,
           dry_run: bool, wait: bool, poll_interval: float | None, part_threshold: int,
           part_size: int, fmt: str, conn: Connection) -> None:
    """Validate, estimate, upload (once) and start a fine-tuning job on TRAIN."""
    from ftprep.platform.submit import execute, plan_submission

    options = JobOptions(
        model=model, method=method, epochs=epochs, batch_size=batch_size,
        learning_rate_multiplier=learning_rate_multiplier, beta=beta, suffix=suffix, seed=seed,
        metadata=parse_metadata(metadata), wandb_project=wandb_project,
        training_type=training_type,
    )
    config = conn.config(require_key=not dry_run)
    if training_type and config.provider != AZURE:
        raise UsageError("--training-type is an Azure OpenAI option; add --provider azure")
    plan = plan_submission(train, validation, options, force=force, provider=config.provider)
    requests = plan.dry_run()  # builds the job body now: option conflicts fail before asking
    text = fmt == "text"
    if text:
        _print_plan(plan)
    if dry_run:
        if text:
            click.echo("dry run: nothing sent. Requests that would be sent to "
                       f"{config.base_url}:")
        emit_json({"dry_run": True, "provider": config.to_dict(), "requests": requests,
                   **plan.to_dict()})
        return
    _confirm(plan, yes)
    result = execute(conn.client, plan, part_threshold=part_threshold, part_size=part_size)
    if text:
        for up in result.uploads:
            state = "reused" if up.reused else "uploaded"
            click.echo(printable(f"{up.path}: {state} as {up.file_id} ({up.filename})"))
        click.echo(printable(f"job {result.job.id} created ({result.job.status})"))
        if result.creation is not None and result.creation.recovered:
            click.echo(printable(f"(the server's answer was lost; the job was found by its "
                                 f"request id {result.creation.request_id}, not sent again)"))
        if not wait:
            click.echo("next: " + "\n      ".join(result.next_commands))
    if not wait:
        if not text:
            emit_json(result.to_dict())
        return
    final = follow(conn.client, result.job.id, _poll_interval(poll_interval))
    result.job = final
    if text:
        _finish_watch(final, fmt)
    else:
        payload = result.to_dict()
        _finish_watch(final, fmt, {k: v for k, v in payload.items() if k != "job"})


def _print_plan(plan: Any) -> None:
    from ftprep.findings import Severity

    for report in plan.reports:
        errors = sum(f.severity == Severity.ERROR for f in report.findings)
        warnings = sum(f.severity == Severity.WARNING for f in report.findings)
        click.echo(printable(f"{report.path}: {report.format}, {report.examples} examples, "
                             f"{errors} error(s), {warnings} warning(s)"))
    for copy in plan.copies:
        dropped = ", ".join(f"{k} ×{n}" for k, n in sorted(copy.dropped_keys.items()))
        click.echo(printable(f"{copy.input}: uploading a copy without the keys the platform "
                             f"refuses ({dropped}): {copy.output}"))
    est = plan.estimate
    if est is None:
        click.echo(f"estimated cost: unknown ({plan.estimate_error})")
        return
    click.echo(f"estimated cost: {usd(est.cost_usd)} for {est.billed_tokens:,} billed tokens "
               f"({est.epochs} epochs)")
    for warning in getattr(est, "warnings", []) or []:
        click.echo(f"warning: {warning}")


def _confirm(plan: Any, yes: bool) -> None:
    """Ask before spending money; never hang when nobody can answer."""
    if yes:
        return
    if not common.stdin_is_tty():
        raise UsageError("not submitting without confirmation: no terminal to ask on "
                         "(pass --yes to confirm, or --dry-run to preview)")
    cost = "an unknown cost" if plan.estimate is None else f"about {usd(plan.estimate.cost_usd)}"
    prompt = printable(f"Submit {plan.train.path} to {plan.options.model} for {cost}?")
    if not click.confirm(prompt, default=False, err=True):
        click.echo("not submitted", err=True)
        click.get_current_context().exit(EXIT_FINDINGS)


COMMANDS: list[click.Command] = [submit, files, jobs, models]
