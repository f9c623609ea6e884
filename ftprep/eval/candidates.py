"""Candidates: a model, where it is served, and how it is prompted.

A bare `--model NAME` is a candidate with the command's provider options. A candidates file
(`--candidates eval.toml`) adds a label, its own endpoint, a replacement system prompt and
few-shot prompting from the train split, so "base model + good prompt" is compared on the same
footing as the fine-tune::

    [[candidates]]
    label = "fine-tune"
    model = "ft:gpt-4o-mini-2024-07-18:acme::abc123"

    [[candidates]]
    label = "base + 5 shots"
    model = "gpt-4o-mini"
    system_prompt = "You answer support questions in one sentence."
    few_shot = 5
    shots_from = "split/train.jsonl"   # relative to this file
    seed = 7
    # provider = "compatible", base_url = "http://localhost:8000/v1", api_key_env = "VLLM_KEY"
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.eval.examples import Example, Message, iter_examples

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ENDPOINT_KEYS = ("provider", "base_url", "api_key_env", "api_version")
_KEYS = {"label", "model", "system_prompt", "few_shot", "shots_from", "seed", *ENDPOINT_KEYS}
TRAINING_ONLY_KEYS = ("weight",)  # in training data, refused by chat completions


@dataclass(frozen=True)
class Candidate:
    """One model under test. `endpoint` overrides the command's provider settings
    (provider, base_url, api_key_env, api_version); `shots` are the few-shot examples,
    already chosen."""

    model: str
    label: str | None = None
    endpoint: dict[str, str] = field(default_factory=dict)
    system_prompt: str | None = None  # replaces the examples' system messages when set
    shots: tuple[Example, ...] = ()

    @property
    def name(self) -> str:
        return self.label or self.model

    def messages(self, example: Example) -> list[Message]:
        """The messages this candidate is sent for `example`."""
        prompt = [_clean(m) for m in example.prompt]
        system = [m for m in prompt if m.get("role") in ("system", "developer")]
        rest = [m for m in prompt if m.get("role") not in ("system", "developer")]
        if self.system_prompt is not None:
            system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        shots = [_clean(m) for shot in self.shots for m in _shot_messages(shot)]
        return [*system, *shots, *rest]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.name, "model": self.model, "endpoint": dict(self.endpoint),
                "system_prompt": self.system_prompt, "few_shot": len(self.shots),
                "shot_lines": [s.line for s in self.shots]}


def _clean(message: Message) -> Message:
    return {k: v for k, v in message.items() if k not in TRAINING_ONLY_KEYS}


def _shot_messages(shot: Example) -> list[Message]:
    """A shot is its conversation without the system prompt, ending with the reference."""
    return [*(m for m in shot.prompt if m.get("role") not in ("system", "developer")),
            shot.reference_message]


def choose_shots(path: str | Path, k: int, seed: int) -> tuple[Example, ...]:
    """`k` examples of the train split at `path`, chosen with `seed` (same seed, same shots),
    kept in file order."""
    pool = [e for e in iter_examples(path) if isinstance(e, Example)]
    if k > len(pool):
        raise UsageError(f"few_shot={k}: {path} has only {len(pool)} usable examples")
    chosen = sorted(random.Random(seed).sample(range(len(pool)), k))
    return tuple(pool[i] for i in chosen)


def load_candidates(path: str | Path) -> list[Candidate]:
    """Candidates from a TOML file with `[[candidates]]` tables (see the module doc)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"candidates={path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"candidates={path}: not valid TOML: {e}") from None
    tables = data.get("candidates")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"candidates={path}: needs at least one [[candidates]] table")
    return [_candidate(t, path, i) for i, t in enumerate(tables, start=1)]


def _candidate(table: Any, path: Path, index: int) -> Candidate:
    where = f"candidates={path}: candidate {index}"
    if not isinstance(table, dict):
        raise UsageError(f"{where}: must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(_KEYS))}")
    model = table.get("model")
    if not isinstance(model, str) or not model:
        raise UsageError(f"{where}: `model` must be a non-empty string")
    for key in ("label", "system_prompt", "shots_from", *ENDPOINT_KEYS):
        if key in table and not isinstance(table[key], str):
            raise UsageError(f"{where}: `{key}` must be a string")
    few_shot, seed = table.get("few_shot", 0), table.get("seed", 0)
    if isinstance(few_shot, bool) or not isinstance(few_shot, int) or few_shot < 0:
        raise UsageError(f"{where}: `few_shot` must be a whole number >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{where}: `seed` must be an integer")
    shots: tuple[Example, ...] = ()
    if few_shot:
        source = table.get("shots_from")
        if not source:
            raise UsageError(f"{where}: few_shot = {few_shot} needs shots_from = TRAIN.jsonl")
        shots = choose_shots(path.parent / source, few_shot, seed)
    return Candidate(model=model, label=table.get("label"),
                     endpoint={k: table[k] for k in ENDPOINT_KEYS if k in table},
                     system_prompt=table.get("system_prompt"), shots=shots)
