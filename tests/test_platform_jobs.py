"""`ftprep jobs ...` and `ftprep models ...` against the local OpenAI-compatible server."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.platform import jobs as jobs_mod
from ftprep.platform.client import PlatformClient
from ftprep.platform.config import resolve_config
from tests.fake_openai import FakeOpenAI

BASE = "gpt-4o-mini-2024-07-18"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def new_job(server: FakeOpenAI, suffix: str = "demo") -> str:
    file_id = server.add_file("train.abc.jsonl", b'{"messages": []}\n')["id"]
    client = PlatformClient(resolve_config())
    return jobs_mod.create_job(client, {"model": BASE, "training_file": file_id, "suffix": suffix}).job.id


def advance(server: FakeOpenAI, job_id: str, times: int) -> None:
    for _ in range(times):
        assert run("jobs", "get", job_id).exit_code == 0


def test_list_and_get(platform_env: FakeOpenAI) -> None:
    first, second = new_job(platform_env), new_job(platform_env)
    listed = json.loads(run("jobs", "list", "--format", "json").stdout)["data"]
    assert [j["id"] for j in listed] == [second, first]  # newest first
    assert [j["id"] for j in json.loads(
        run("jobs", "list", "--limit", "1", "--format", "json").stdout)["data"]] == [second]
    text = run("jobs", "list").stdout
    assert "STATUS" in text and first in text
    got = json.loads(run("jobs", "get", first, "--format", "json").stdout)
    assert got["object"] == "fine_tuning.job" and got["status"] == "queued"
    assert f"id: {first}" in run("jobs", "get", first).stdout


def test_watch_follows_to_success_with_events_and_progress(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    result = run("jobs", "watch", job_id)
    assert result.exit_code == 0, result.output
    assert "status: running" in result.stderr and "status: succeeded" in result.stderr
    assert "Fine-tuning job started" in result.stderr
    assert f"{job_id}: succeeded → ft:{BASE}:org-fake:demo:" in result.stdout
    # One state per poll (validating_files → queued → running → succeeded) = 3 GETs.
    assert len(platform_env.calls("GET", f"/fine_tuning/jobs/{job_id}")) == 3


def test_watch_json_and_failed_job_exit_1(platform_env: FakeOpenAI) -> None:
    platform_env.fail_jobs = True
    job_id = new_job(platform_env)
    result = run("jobs", "watch", job_id, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["job"]["status"] == "failed" and data["job"]["error"]["code"]


def test_watch_cancelled_job_exit_1(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    assert run("jobs", "cancel", job_id).stdout.strip() == f"{job_id}: cancelled"
    assert run("jobs", "watch", job_id).exit_code == 1


def test_ctrl_c_detaches_without_cancelling(platform_env: FakeOpenAI, monkeypatch) -> None:
    job_id = new_job(platform_env)

    def interrupted(*_a, **_k):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr("ftprep.cli.platform_cmd.watch_job", interrupted)
    result = run("jobs", "watch", job_id)
    assert result.exit_code == 130
    assert f"Resume with: ftprep jobs watch {job_id}" in result.stderr
    assert platform_env.calls("POST", rf"/fine_tuning/jobs/{job_id}/cancel") == []
    assert platform_env.jobs[job_id]["status"] not in ("cancelled",)


def test_watch_job_sleeps_between_polls_only_while_running(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    naps: list[float] = []
    updates = list(jobs_mod.watch_job(PlatformClient(resolve_config()), job_id,
                                      poll_interval=7.5, sleep=naps.append))
    assert naps == [7.5, 7.5]  # after queued and running; the terminal poll returns
    metrics = [u for u in updates if u.kind == "metrics"]
    assert [u.step for u in metrics] == [1, 2, 3, 4, 5, 6] and metrics[-1].total_steps == 6
    assert updates[-1].job.status == "succeeded"
    assert len({u.message for u in updates if u.kind == "event"}) == len(
        [u for u in updates if u.kind == "event"])  # no event reported twice


def test_cancel_pause_resume_and_conflicts(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    advance(platform_env, job_id, 2)  # → running
    paused = json.loads(run("jobs", "pause", job_id, "--format", "json").stdout)
    assert paused["status"] == "paused"
    assert run("jobs", "resume", job_id).stdout.strip() == f"{job_id}: running"
    again = run("jobs", "resume", job_id)
    assert again.exit_code == 2 and "conflict (409)" in again.stderr
    assert run("jobs", "cancel", job_id).exit_code == 0
    twice = run("jobs", "cancel", job_id)
    assert twice.exit_code == 2 and "already cancelled" in twice.stderr


def test_events_oldest_first_and_checkpoints(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    assert run("jobs", "watch", job_id).exit_code == 0
    events = json.loads(run("jobs", "events", job_id, "--limit", "100", "--format",
                            "json").stdout)["data"]
    assert events[0]["message"].startswith("Created fine-tuning job")
    assert events[-1]["message"] == "The job has successfully completed"
    assert "LEVEL" in run("jobs", "events", job_id).stdout
    ckpts = json.loads(run("jobs", "checkpoints", job_id, "--format", "json").stdout)["data"]
    assert ckpts[0]["step_number"] == 6 and ckpts[0]["object"] == "fine_tuning.job.checkpoint"
    assert "ckpt-step-6" in run("jobs", "checkpoints", job_id).stdout


def test_metrics_summary_and_plot(platform_env: FakeOpenAI, tmp_path: Path) -> None:
    job_id = new_job(platform_env)
    early = run("jobs", "metrics", job_id)
    assert early.exit_code == 2 and "no result file yet" in early.stderr
    assert run("jobs", "watch", job_id).exit_code == 0
    data = json.loads(run("jobs", "metrics", job_id, "--format", "json").stdout)
    assert data["steps"] == 6
    train = data["series"]["train_loss"]
    assert (train["first"], train["last"], train["min"], train["min_step"]) == (
        2.0, 0.3333, 0.3333, 6)
    valid = data["series"]["valid_loss"]
    assert valid["count"] == 3 and valid["first"] == 1.1  # only even steps have a value
    png = tmp_path / "loss.png"
    text = run("jobs", "metrics", job_id, "--plot", str(png))
    assert text.exit_code == 0 and "train_loss" in text.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_get_it(platform_env: FakeOpenAI, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = new_job(platform_env)
    assert run("jobs", "watch", job_id).exit_code == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now fails
    result = run("jobs", "metrics", job_id, "--plot", str(tmp_path / "loss.png"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "ftprep: error: --plot needs matplotlib: pip install 'ftprep[plot]'")
    assert not (tmp_path / "loss.png").exists()


def test_summarise_results_csv_skips_blank_and_bad_cells() -> None:
    summary = jobs_mod.summarise_results_csv(
        "step,train_loss,valid_loss\n1,3.0,\n2,x,2.5\n3,1.0,2.0\n,9,9\n")
    assert summary.steps == 3
    assert summary.series["train_loss"].count == 2
    assert summary.series["valid_loss"].to_dict() == {
        "name": "valid_loss", "count": 2, "first": 2.5, "last": 2.0, "min": 2.0, "min_step": 3}


def test_jobs_delete_explains_and_points_to_cancel(platform_env: FakeOpenAI) -> None:
    result = run("jobs", "delete", "ftjob-123")
    assert result.exit_code == 2
    assert "cannot delete jobs" in result.stderr and "ftprep jobs cancel ftjob-123" in result.stderr
    assert platform_env.requests == []


def test_models_list_filters_summary_get_delete(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    assert run("jobs", "watch", job_id).exit_code == 0
    tuned = platform_env.jobs[job_id]["fine_tuned_model"]

    def ids(*args: str) -> list[str]:
        result = run("models", "list", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        return [m["id"] for m in json.loads(result.stdout)["data"]]

    assert ids("--fine-tuned") == [tuned]
    assert tuned not in ids("--base") and BASE in ids("--base")
    assert ids("--owner", "openai") == ["davinci-002"]
    assert len(ids()) == len(platform_env.models)
    summary = json.loads(run("models", "summary", "--format", "json").stdout)["owners"]
    assert summary["org-fake"] == {"count": 1, "models": [tuned]}
    assert summary["system"]["count"] == 3
    assert "OWNER" in run("models", "summary").stdout
    got = json.loads(run("models", "get", tuned, "--format", "json").stdout)
    lifecycle = got.pop("lifecycle")  # when it stops serving: see tests/test_lifecycle.py
    assert got == {"id": tuned, "object": "model", "created": 1_700_000_000,
                   "owned_by": "org-fake"}
    assert lifecycle["base_model"] == BASE
    refused = run("models", "delete", BASE)
    assert refused.exit_code == 2 and "permission denied (403)" in refused.stderr
    assert run("models", "delete", tuned).stdout.strip() == f"deleted {tuned}"
    missing = run("models", "get", tuned)
    assert missing.exit_code == 2 and "not found (404)" in missing.stderr


@pytest.mark.parametrize("pairs, message", [(("novalue",), "key=value"),
                                             ((f"k{i}=v" for i in range(16)), "15 keys"),
                                             (("ftprep_request_id=x",), "set by ftprep")])
def test_metadata_parsing_errors(pairs, message) -> None:
    from ftprep.errors import UsageError

    with pytest.raises(UsageError, match=message):
        jobs_mod.parse_metadata(tuple(pairs))


def test_watch_pages_back_through_many_new_events(platform_env: FakeOpenAI) -> None:
    job_id = new_job(platform_env)
    client = PlatformClient(resolve_config())
    with platform_env.lock:
        for i in range(250):  # more than one page of events between two polls
            platform_env._event(job_id, f"note {i}")
    updates = list(jobs_mod.watch_job(client, job_id, poll_interval=0, sleep=lambda _s: None))
    notes = [u.message for u in updates if "note " in u.message]
    assert notes == [f"[info] note {i}" for i in range(250)]  # all, once, in order
