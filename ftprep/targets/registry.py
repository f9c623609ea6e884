"""The target registry: what each platform or trainer accepts, as data with sources.

The facts live in `ftprep/data/targets.toml`; a user file given with `--targets-file` or
FTPREP_TARGETS_FILE is merged into it field by field (like the model registry), so it can
correct one limit or add a target. Every fact resolves to a source (`TargetInfo.sources`);
facts that were not confirmed in their source are listed in `TargetInfo.uncertain`.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.formats import FORMATS
from ftprep.models import Source, merged_data_file

TARGETS_FILE_ENV = "FTPREP_TARGETS_FILE"
DEFAULT_TARGET = "openai"
ENCODINGS = ("utf-8", "utf-8-bom")
WEIGHTS = ("binary", "int01", "none")
IMAGE_SOURCES = ("url", "base64", "gcs", "s3")
FILE_FORMATS = ("jsonl", "parquet")
KINDS = ("platform", "trainer")


@dataclass(frozen=True)
class TargetInfo:
    """One target's facts. `None` (or an empty tuple) means: not limited / not checked."""

    name: str
    title: str
    kind: str
    formats: tuple[str, ...]
    file_formats: tuple[str, ...]
    encoding: str
    extra_keys: bool
    record_keys: tuple[str, ...] = ()
    message_keys: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    alternation: bool = False
    system_first_only: bool = False
    weights: str = "binary"
    max_file_bytes: int | None = None
    min_examples: int | None = None
    max_examples: int | None = None
    max_example_tokens: int | None = None
    max_images: int | None = None
    image_sources: tuple[str, ...] = ()
    job_token_limit: int | None = None
    dpo_output_roles: tuple[str, ...] = ("assistant",)
    rules: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)  # fact → where it comes from

    @property
    def needs_bom(self) -> bool:
        return self.encoding == "utf-8-bom"

    def facts(self) -> dict[str, Any]:
        """The facts alone (no name, sources or uncertainty), JSON-ready."""
        skip = {"name", "title", "kind", "sources", "uncertain"}
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in skip}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "facts": self.facts(),
            "uncertain": list(self.uncertain),
            "sources": {k: s.to_dict() for k, s in self.sources.items()},
        }


FACTS = tuple(f.name for f in fields(TargetInfo)
              if f.name not in {"name", "title", "kind", "sources", "uncertain"})
_TUPLES = {f.name for f in fields(TargetInfo) if str(f.type).startswith("tuple")}
_INTS = {f.name for f in fields(TargetInfo) if str(f.type) == "int | None"}
_BOOLS = {"extra_keys", "alternation", "system_first_only"}
_CHOICES = {"encoding": ENCODINGS, "weights": WEIGHTS, "kind": KINDS}
_ITEM_CHOICES = {"formats": FORMATS, "file_formats": FILE_FORMATS, "image_sources": IMAGE_SOURCES}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# -- loading ------------------------------------------------------------------------------------


def load_target_registry(targets_file: str | Path | None = None) -> dict[str, Any]:
    """The raw registry: bundled data merged with the user's file (argument, else env)."""
    return merged_data_file("targets.toml", targets_file, TARGETS_FILE_ENV, "target")


def _fail(where: str, message: str) -> UsageError:
    return UsageError(f"target registry: {where}: {message}")


def _value(name: str, key: str, value: Any) -> Any:
    where = f"target {name} {key}"
    if key in _TUPLES:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(where, f"must be a list of strings, not {value!r}")
        allowed = _ITEM_CHOICES.get(key)
        bad = [v for v in value if allowed and v not in allowed]
        if bad:
            raise _fail(where, f"unknown value(s) {bad}; expected {list(allowed or ())}")
        return tuple(value)
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(where, f"must be a whole number >= 0, not {value!r}")
        return value
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise _fail(where, f"must be true or false, not {value!r}")
        return value
    if not isinstance(value, str):
        raise _fail(where, f"must be a string, not {value!r}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise _fail(where, f"unknown value {value!r}; expected one of {list(_CHOICES[key])}")
    return value


def _build(name: str, raw: Any, sources: dict[str, Any]) -> TargetInfo:
    if not isinstance(raw, dict):
        raise _fail(f"target {name}", f"must be a table, not {type(raw).__name__}")
    known = {f.name for f in fields(TargetInfo)} - {"name", "sources"}
    unknown = sorted(set(raw) - known - {"sources"})
    if unknown:
        raise _fail(f"target {name}", f"unknown fact(s) {unknown}")
    for required in ("title", "kind", "formats", "file_formats", "encoding", "extra_keys"):
        if required not in raw:
            raise _fail(f"target {name}", f"lacks the fact {required!r}")
    values = {key: _value(name, key, value) for key, value in raw.items() if key != "sources"}
    mapping = raw.get("sources", {})
    if not isinstance(mapping, dict):
        raise _fail(f"target {name} sources", "must be a table")
    bad = sorted(set(values.get("uncertain", ())) - set(FACTS))
    if bad:
        raise _fail(f"target {name} uncertain", f"names no fact: {bad}")
    return TargetInfo(name=name, sources=_fact_sources(name, mapping, sources), **values)


def _fact_sources(name: str, mapping: dict[str, Any], sources: dict[str, Any]) -> dict[str, Source]:
    resolved: dict[str, Source] = {}
    for fact in FACTS:
        key = mapping.get(fact) or mapping.get("default")
        if key is None or key not in sources or not isinstance(sources[key], dict):
            raise _fail(f"target {name}", f"no source for {fact} ({key!r})")
        s = sources[key]
        resolved[fact] = Source(str(s.get("title", key)), str(s.get("url", "")),
                                str(s.get("date", "")), str(s.get("note", "")))
    return resolved


def list_targets(targets_file: str | Path | None = None) -> list[TargetInfo]:
    """Every target in the (merged) registry, in the file's order."""
    data = load_target_registry(targets_file)
    sources = data.get("sources", {})
    targets = data.get("targets", {})
    if not isinstance(sources, dict) or not isinstance(targets, dict):
        raise UsageError("target registry: `sources` and `targets` must be tables")
    return [_build(name, raw, sources) for name, raw in targets.items()]


def get_target(name: str, targets_file: str | Path | None = None) -> TargetInfo:
    """A target by name (`azure`, `llama-factory`...); unknown names get suggestions."""
    targets = {t.name: t for t in list_targets(targets_file)}
    key = name.strip().lower()
    if key in targets:
        return targets[key]
    close = difflib.get_close_matches(key, list(targets), n=3, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}?" if close else f"known: {', '.join(targets)}"
    raise UsageError(f"unknown target {name!r}", hint=hint)


__all__ = ["DEFAULT_TARGET", "TargetInfo", "get_target", "list_targets", "load_target_registry"]
