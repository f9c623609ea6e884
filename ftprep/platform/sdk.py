"""TrainGPT: the platform operations as a small Python API (returns objects, never prints).

    from ftprep.platform.sdk import TrainGPT
    tg = TrainGPT()                       # OPENAI_API_KEY / OPENAI_BASE_URL from the env
    f = tg.create_file("train.jsonl")     # uploads once; the same content again is reused
    job = tg.start_training(f.file_id, model="gpt-4o-mini-2024-07-18")
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from ftprep.models import FineTunedLifecycle, fine_tuned_lifecycle
from ftprep.platform.client import PlatformClient, is_fine_tuned
from ftprep.platform.config import resolve_config
from ftprep.platform.jobs import JobOptions, build_job_request, create_job
from ftprep.platform.submit import resolve_models
from ftprep.platform.uploads import (
    DEFAULT_PART_SIZE,
    SINGLE_REQUEST_LIMIT,
    UploadResult,
    UploadState,
    upload_file,
)


class TrainGPT:
    """Files, jobs and models on OpenAI, Azure OpenAI or any OpenAI-compatible API."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        api_version: str | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        client: PlatformClient | None = None,
    ) -> None:
        self.client = client or PlatformClient(
            resolve_config(
                provider, base_url=base_url, api_key_env=api_key_env,
                api_version=api_version, max_retries=max_retries, timeout=timeout,
            )
        )

    # -- files ---------------------------------------------------------------------------
    def create_file(
        self,
        path: str | Path,
        *,
        purpose: str = "fine-tune",
        part_threshold: int = SINGLE_REQUEST_LIMIT,
        part_size: int = DEFAULT_PART_SIZE,
        state: UploadState | None = None,
    ) -> UploadResult:
        """Upload a file unless the same content was uploaded before (see `.reused`)."""
        return upload_file(
            self.client, path, purpose=purpose, part_threshold=part_threshold,
            part_size=part_size, state=state,
        )

    def list_files(self, purpose: str | None = None) -> list[Any]:
        return self.client.list_files(purpose)

    def get_file_details(self, file_id: str) -> Any:
        return self.client.get_file(file_id)

    def delete_file(self, file_id: str) -> Any:
        return self.client.delete_file(file_id)

    # -- jobs ----------------------------------------------------------------------------
    def start_training(
        self,
        training_file: str,
        *,
        model: str,
        validation_file: str | None = None,
        method: str | None = None,
        data_format: str | None = None,
        **options: Any,
    ) -> Any:
        """Create a fine-tuning job from uploaded file ids. `options` are JobOptions fields
        (epochs, batch_size, learning_rate_multiplier, beta, suffix, seed, metadata,
        wandb_project). An alias is sent as its snapshot id, as `ftprep submit` does. Sent
        once: a lost answer is recovered by the request id in the job's metadata."""
        job_options = JobOptions(model=resolve_models(model, self.client.config.provider)[0],
                                 method=method, **options)
        body = build_job_request(training_file, validation_file, job_options, data_format)
        return create_job(self.client, body).job

    def list_jobs(self, limit: int = 20) -> list[Any]:
        return self.client.list_jobs(limit)

    def get_job_details(self, job_id: str) -> Any:
        return self.client.get_job(job_id)

    def cancel_job(self, job_id: str) -> Any:
        return self.client.cancel_job(job_id)

    def list_events(self, job_id: str, limit: int = 50) -> list[Any]:
        return self.client.list_events(job_id, limit)

    # -- models --------------------------------------------------------------------------
    def list_models(self, *, fine_tuned: bool | None = None, owner: str | None = None) -> list[Any]:
        """All models; `fine_tuned=True/False` keeps only yours / only base models."""
        models = self.client.list_models()
        if fine_tuned is not None:
            models = [m for m in models if is_fine_tuned(m) == fine_tuned]
        if owner is not None:
            models = [m for m in models if m.owned_by == owner]
        return models

    def list_models_summaries(self) -> dict[str, int]:
        """Number of models per owner, owners sorted by name."""
        return {owner: len(ids) for owner, ids in self.list_models_by_owner().items()}

    def list_models_by_owner(self) -> dict[str, list[str]]:
        """Model ids grouped by owner (owners and ids sorted, so output is stable)."""
        groups: dict[str, list[str]] = defaultdict(list)
        for model in self.client.list_models():
            groups[str(model.owned_by)].append(model.id)
        return {owner: sorted(groups[owner]) for owner in sorted(groups)}

    def get_model_details(self, model_id: str) -> Any:
        return self.client.get_model(model_id)

    def model_lifecycle(self, model_id: str, today: dt.date | None = None) -> FineTunedLifecycle:
        """When a fine-tuned model stops serving (its base model's shutdown) and the days
        left, from the offline registry (no API call)."""
        return fine_tuned_lifecycle(model_id, today, provider=self.client.config.provider)

    def delete_model(self, model_id: str) -> Any:
        return self.client.delete_model(model_id)

    # -- offline -------------------------------------------------------------------------
    @staticmethod
    def get_token_count(path: str | Path, model: str) -> int:
        """Total tokens of a dataset for `model` (counted locally, no API call)."""
        from ftprep.count import count_file

        return int(count_file(path, model=model).total_tokens)
