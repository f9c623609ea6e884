"""The model registry: limits, prices, methods and lifecycle of fine-tunable models.

The figures are data (`ftprep/data/models.toml`), not code. A user file given with
`--models-file` or FTPREP_MODELS_FILE is merged into it field by field, so it can correct one
price or add a model. Every figure carries a source and a date (`ModelInfo.sources`).
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

MODELS_FILE_ENV = "FTPREP_MODELS_FILE"
TODAY_ENV = "FTPREP_TODAY"  # the date lifecycle checks use (default: the real date)
OPENAI_PROVIDER, AZURE_PROVIDER = "openai", "azure"
PROVIDER_PREFIXES = {AZURE_PROVIDER: "azure/"}  # registry ids of Azure rows: azure/<model id>
PRICE_FIELDS = ("training", "ft_input", "ft_output", "base_input", "base_output")
FIGURES = ("encoding", "max_example_tokens", "methods", "lifecycle",
           *(f"prices.{p}" for p in PRICE_FIELDS))
FINE_TUNING_METHODS = ("supervised", "dpo", "vision", "reinforcement")  # any a registry entry may list
AVAILABLE, CLOSING, CLOSED, SHUTDOWN = "available", "closing", "closed", "shutdown"


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens."""

    training: float
    ft_input: float
    ft_output: float
    base_input: float
    base_output: float

    def to_dict(self) -> dict[str, float]:
        return {p: getattr(self, p) for p in PRICE_FIELDS}


@dataclass(frozen=True)
class Lifecycle:
    """Dates that end things. `shutdown`: fine-tuning (training) ends; `model_shutdown`: the
    base model retires; `fine_tuned_shutdown`: models fine-tuned from it stop serving (when
    not given, at `model_shutdown`: a fine-tuned model stops when its base model does)."""

    fine_tuning_available: bool
    new_jobs_closed: dt.date | None = None
    shutdown: dt.date | None = None
    notes: str = ""
    model_shutdown: dt.date | None = None
    fine_tuned_shutdown: dt.date | None = None
    dates_uncertain: bool = False  # reported, not confirmed by the provider's own page

    @property
    def serving_ends(self) -> dt.date | None:
        """The day models fine-tuned from this one stop serving, if known."""
        return self.fine_tuned_shutdown or self.model_shutdown

    def to_dict(self) -> dict[str, Any]:
        return {
            "fine_tuning_available": self.fine_tuning_available,
            "new_jobs_closed": _iso(self.new_jobs_closed),
            "shutdown": _iso(self.shutdown),
            "model_shutdown": _iso(self.model_shutdown),
            "fine_tuned_shutdown": _iso(self.serving_ends),
            "dates_uncertain": self.dates_uncertain,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    date: str
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "date": self.date, "note": self.note}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    aliases: tuple[str, ...]
    encoding: str
    max_example_tokens: int
    prices: Prices
    methods: tuple[str, ...]
    lifecycle: Lifecycle
    sources: dict[str, Source] = field(default_factory=dict)  # figure → where it comes from
    provider: str = OPENAI_PROVIDER

    @property
    def api_id(self) -> str:
        """The id the provider's API takes (`azure/gpt-4.1-…` → `gpt-4.1-…`)."""
        prefix = PROVIDER_PREFIXES.get(self.provider, "")
        return self.id[len(prefix):] if prefix and self.id.startswith(prefix) else self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "aliases": list(self.aliases),
            "encoding": self.encoding,
            "max_example_tokens": self.max_example_tokens,
            "prices_per_1m": self.prices.to_dict(),
            "methods": list(self.methods),
            "lifecycle": self.lifecycle.to_dict(),
            "sources": {k: s.to_dict() for k, s in self.sources.items()},
        }


@dataclass(frozen=True)
class LifecycleStatus:
    state: str  # available | closing | closed | shutdown
    message: str
    today: dt.date | None = None
    days_to_close: int | None = None  # until no new jobs (closing), else None
    serving_ends: dt.date | None = None  # when models fine-tuned from it stop serving
    serving_days_left: int | None = None  # 0 once stopped; None when not known
    dates_uncertain: bool = False

    @property
    def can_fine_tune(self) -> bool:
        return self.state in (AVAILABLE, CLOSING)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "today": _iso(self.today),
                "days_to_close": self.days_to_close,
                "fine_tuned_serving_ends": _iso(self.serving_ends),
                "fine_tuned_serving_days_left": self.serving_days_left,
                "dates_uncertain": self.dates_uncertain}


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# -- loading ------------------------------------------------------------------------------------


def _read_toml(path: Path | str, label: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"{label} not found: {path}") from None
    except OSError as e:
        raise UsageError(f"{label} unreadable: {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{label} is not valid TOML: {path}: {e}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, anything else in `override` replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def merged_data_file(name: str, user_file: str | Path | None, env: str, label: str) -> dict[str, Any]:
    """A bundled `ftprep/data/NAME` merged field by field with the user's file (the argument,
    else the file named by `env`): how the model and target registries load."""
    bundled = resources.files("ftprep") / "data" / name
    with resources.as_file(bundled) as path:
        data = _read_toml(path, f"bundled {label} registry")
    user = user_file or os.environ.get(env)
    if user:
        data = _merge(data, _read_toml(user, f"{label}s file"))
    return data


def load_registry(models_file: str | Path | None = None) -> dict[str, Any]:
    """The raw registry: bundled data merged with the user's file (argument, else env)."""
    return merged_data_file("models.toml", models_file, MODELS_FILE_ENV, "model")


def _parse_date(value: Any, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"model registry: {where}: not a YYYY-MM-DD date: {value!r}") from None


def _table(value: Any, where: str) -> dict[str, Any]:
    """`value` if it is a TOML table; a user file may put a string or number anywhere."""
    if not isinstance(value, dict):
        raise UsageError(f"model registry: {where} must be a table, not {type(value).__name__}")
    return value


def _price(value: Any, where: str) -> float:
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"{where} must be a price >= 0, not {value!r}")
    return price


def _limit(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"max_example_tokens must be a whole number >= 1, not {value!r}")
    return int(value)


def _names(value: Any, field: str) -> tuple[str, ...]:
    # tuple("gpt-x") would silently make every character an alias
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field} must be a list of strings, not {value!r}")
    return tuple(value)


def _build(model_id: str, raw: Any, sources: dict[str, Any]) -> ModelInfo:
    where = f"model {model_id}"
    raw = _table(raw, where)
    try:
        prices = Prices(**{p: _price(_table(raw["prices"], f"{where} prices")[p], f"prices.{p}")
                           for p in PRICE_FIELDS})
        life = _table(raw["lifecycle"], f"{where} lifecycle")
        info = ModelInfo(
            id=model_id,
            aliases=_names(raw.get("aliases", []), "aliases"),
            encoding=str(raw["encoding"]),
            max_example_tokens=_limit(raw["max_example_tokens"]),
            prices=prices,
            methods=_names(raw.get("methods", []), "methods"),
            lifecycle=Lifecycle(
                bool(life["fine_tuning_available"]),
                _parse_date(life.get("new_jobs_closed"), f"{where} new_jobs_closed"),
                _parse_date(life.get("shutdown"), f"{where} shutdown"),
                str(life.get("notes", "")),
                _parse_date(life.get("model_shutdown"), f"{where} model_shutdown"),
                _parse_date(life.get("fine_tuned_shutdown"), f"{where} fine_tuned_shutdown"),
                bool(life.get("dates_uncertain", False)),
            ),
            sources=_figure_sources(
                model_id, _table(raw.get("sources", {}), f"{where} sources"), sources),
            provider=str(raw.get("provider", OPENAI_PROVIDER)),
        )
    except KeyError as e:
        raise UsageError(f"model registry: {where} lacks the field {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise UsageError(f"model registry: {where}: {e}") from None
    unknown = set(info.methods) - set(FINE_TUNING_METHODS)
    if unknown:
        raise UsageError(f"model registry: {where}: unknown method(s) {sorted(unknown)}")
    return info


def _figure_sources(
    model_id: str, mapping: dict[str, str], sources: dict[str, Any]
) -> dict[str, Source]:
    """Resolve every figure to its source: exact key, then its group ("prices"), then default."""
    resolved: dict[str, Source] = {}
    for figure in FIGURES:
        group, _, leaf = figure.partition(".")
        key = mapping.get(leaf) or mapping.get(figure) or mapping.get(group) or mapping.get("default")
        if key is None or key not in sources:
            raise UsageError(f"model registry: model {model_id}: no source for {figure} ({key!r})")
        s = _table(sources[key], f"sources.{key}")
        resolved[figure] = Source(str(s.get("title", key)), str(s.get("url", "")),
                                  str(s.get("date", "")), str(s.get("note", "")))
    return resolved


def list_models(models_file: str | Path | None = None) -> list[ModelInfo]:
    """Every model in the (merged) registry, sorted by id."""
    data = load_registry(models_file)
    sources = _table(data.get("sources", {}), "sources")
    models = _table(data.get("models", {}), "models")
    return [_build(mid, raw, sources) for mid, raw in sorted(models.items())]


def get_model(model_id: str, models_file: str | Path | None = None,
              provider: str | None = None) -> ModelInfo:
    """A model by id, alias (`gpt-4o-mini`) or fine-tuned name (`ft:gpt-4o-mini:org::id`,
    Azure's `gpt-4.1-2025-04-14.ft-abc`). With `provider="azure"` the Azure row of the model
    (`azure/gpt-4.1-…`) is preferred where the registry has one."""
    models = list_models(models_file)
    by_name: dict[str, ModelInfo] = {}
    for info in models:
        by_name[info.id] = info
        for alias in info.aliases:
            by_name.setdefault(alias, info)
    name = base_model_name(model_id.strip())
    prefix = PROVIDER_PREFIXES.get(provider or "", "")
    if prefix and prefix + name in by_name:
        return by_name[prefix + name]
    if name in by_name:
        return by_name[name]
    close = difflib.get_close_matches(name, list(by_name), n=4, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}?" if close else "see `ftprep models info`"
    raise UsageError(f"unknown model {model_id!r}", hint=hint)


def base_model_name(model_id: str) -> str:
    """`ft:gpt-4.1-mini-2025-04-14:org::id` → `gpt-4.1-mini-2025-04-14`; others unchanged.
    (tiktoken's prefix table maps `ft:gpt-4.1…` wrongly, so it is not used.)"""
    if model_id.startswith("ft:"):
        parts = model_id.split(":")
        return parts[1] if len(parts) > 1 else model_id
    if ".ft-" in model_id:  # Azure: gpt-4.1-2025-04-14.ft-b044a9d3…
        return model_id.split(".ft-", 1)[0]
    return model_id


# -- lifecycle ----------------------------------------------------------------------------------


def resolve_today(today: dt.date | None = None) -> dt.date:
    """`today`, else the date in FTPREP_TODAY (reproducible output), else the real date."""
    if today is not None:
        return today
    raw = os.environ.get(TODAY_ENV)
    if raw:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise UsageError(f"{TODAY_ENV} must be a YYYY-MM-DD date, not {raw!r}") from None
    return dt.date.today()


def days_until(day: dt.date | None, today: dt.date) -> int | None:
    """Whole days from `today` to `day` (0 once it has come), None when `day` is unknown."""
    return None if day is None else max(0, (day - today).days)


def lifecycle_status(info: ModelInfo, today: dt.date | None = None) -> LifecycleStatus:
    """Whether fine-tuning `info` is possible on `today`, in plain words with the dates, and
    how long models fine-tuned from it keep serving."""
    today = resolve_today(today)
    life = info.lifecycle
    if not life.fine_tuning_available or (life.shutdown and life.shutdown <= today):
        when = f" since {life.shutdown.isoformat()}" if life.shutdown else " (date not recorded)"
        return _status(SHUTDOWN, f"fine-tuning {info.id} is shut down{when}.", info, today)
    if life.new_jobs_closed and life.new_jobs_closed <= today:
        return _status(CLOSED, f"no new fine-tuning jobs for {info.id} since "
                       f"{life.new_jobs_closed.isoformat()}.", info, today)
    if life.new_jobs_closed:
        left = days_until(life.new_jobs_closed, today)
        return _status(CLOSING, f"fine-tuning {info.id} is closing: no new jobs after "
                       f"{life.new_jobs_closed.isoformat()} ({_days(left)} left).", info, today,
                       days_to_close=left)
    return _status(AVAILABLE, f"fine-tuning {info.id} is available.", info, today)


def _status(state: str, first: str, info: ModelInfo, today: dt.date,
            days_to_close: int | None = None) -> LifecycleStatus:
    life = info.lifecycle
    message = f"{first}{_serving_sentence(info, today)} {life.notes}".strip()
    return LifecycleStatus(state, message, today, days_to_close, life.serving_ends,
                           days_until(life.serving_ends, today), life.dates_uncertain)


def _days(n: int | None) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _serving_sentence(info: ModelInfo, today: dt.date) -> str:
    serving = info.lifecycle.serving_ends
    if serving is None:
        return ""
    hedge = " (reported, not confirmed)" if info.lifecycle.dates_uncertain else ""
    if serving <= today:
        return f" Models fine-tuned from it stopped serving on {serving.isoformat()}{hedge}."
    return (f" Models fine-tuned from it stop serving on {serving.isoformat()}{hedge}, "
            f"in {_days(days_until(serving, today))}.")


@dataclass(frozen=True)
class FineTunedLifecycle:
    """When a fine-tuned model stops serving: when its base model shuts down."""

    model: str
    base_model: str | None  # the registry id of its base, None when the registry lacks it
    stops_serving: dt.date | None
    days_left: int | None
    uncertain: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "base_model": self.base_model,
                "stops_serving": _iso(self.stops_serving), "days_left": self.days_left,
                "uncertain": self.uncertain, "message": self.message}


def fine_tuned_lifecycle(model_id: str, today: dt.date | None = None,
                         models_file: str | Path | None = None,
                         provider: str | None = None) -> FineTunedLifecycle:
    """The stop date and days left of a fine-tuned model (`ft:…` or Azure's `….ft-…`),
    from its base model's row in the registry."""
    today = resolve_today(today)
    try:
        info = get_model(model_id, models_file, provider)
    except UsageError:
        return FineTunedLifecycle(model_id, None, None, None, False,
                                  "base model not in the registry: stop date unknown")
    life = info.lifecycle
    end = life.serving_ends
    left = days_until(end, today)
    if end is None:
        message = f"{info.id} has no published shutdown date"
    elif left == 0:
        message = f"stopped serving on {end.isoformat()} ({info.id} shut down)"
    else:
        message = f"stops serving on {end.isoformat()}, in {_days(left)} ({info.id} shuts down)"
    if end is not None and life.dates_uncertain:
        message += "; date reported, not confirmed"
    return FineTunedLifecycle(model_id, info.id, end, left, life.dates_uncertain, message)


class FineTuningRefused(UsageError):
    """Fine-tuning this model is shut down or closed, or it does not support the method."""


def check_can_fine_tune(info: ModelInfo, method: str | None = None,
                        today: dt.date | None = None) -> None:
    """Raise `FineTuningRefused` (one line) when a job for `info` with `method` cannot start
    on `today`: fine-tuning shut down or closed to new jobs, or the method not supported."""
    status = lifecycle_status(info, today)
    if not status.can_fine_tune:
        raise FineTuningRefused(f"not submitting: {status.message}",
                                hint="pass --force to submit anyway")
    if method is not None and method not in info.methods:
        supported = ", ".join(info.methods) or "none"
        raise FineTuningRefused(
            f"not submitting: {info.id} does not support {method} fine-tuning "
            f"(supported: {supported})", hint="pass --force to submit anyway")


__all__ = [
    "FineTunedLifecycle",
    "FineTuningRefused",
    "Lifecycle",
    "LifecycleStatus",
    "ModelInfo",
    "Prices",
    "Source",
    "base_model_name",
    "check_can_fine_tune",
    "days_until",
    "fine_tuned_lifecycle",
    "get_model",
    "lifecycle_status",
    "list_models",
    "load_registry",
    "resolve_today",
]
