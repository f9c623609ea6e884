"""Loading an open model's tokenizer and chat template from local files (never the hub).

`--tokenizer PATH` accepts, all offline:

- a folder holding ``tokenizer.json`` and a chat template: ``chat_template.jinja`` or the
  ``chat_template`` field of ``tokenizer_config.json`` (the ``.jinja`` file wins, as in
  transformers, which writes it there since 4.43);
- the ``tokenizer.json`` or ``chat_template.jinja`` file itself (the other files are looked for
  beside it);
- a Hugging Face cache folder ``models--org--name`` (the snapshot ``refs/main`` names, or its
  only snapshot) or one of its ``snapshots/<revision>`` folders.

The special tokens handed to the template (``bos_token``, ``eos_token``...) come from
``tokenizer_config.json`` (falling back to ``special_tokens_map.json``), as transformers passes
them. A missing file is a one-line `UsageError` naming it; nothing is ever downloaded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# The named special tokens transformers hands to a chat template (its SPECIAL_TOKENS_ATTRIBUTES).
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                       "mask_token")
NO_LENGTH_LIMIT = 10**8  # transformers stores "no limit" as 1e30; anything this big means none
OPEN_EXTRA_HINT = "install the open-model extra: pip install 'ftprep[open]'"


class OpenModelDependencyMissing(UsageError):
    """`tokenizers` or `jinja2` (the `open` extra) is not installed."""


@dataclass(frozen=True)
class LocalTokenizer:
    """Where an open model's tokenizer and chat template were found, and what they hold."""

    label: str  # e.g. "meta-llama/Llama-3.1-8B-Instruct" for a cache folder, else the folder name
    folder: Path
    tokenizer_file: Path
    chat_template: str = field(repr=False)
    template_source: str  # the file the template came from
    special_tokens: dict[str, str] = field(default_factory=dict)
    model_max_length: int | None = None
    # tokenizer_config.json may name several templates; "tool_use" serves examples with tools
    tool_template: str | None = field(default=None, repr=False)

    def template_for(self, has_tools: bool) -> str:
        return self.tool_template if has_tools and self.tool_template else self.chat_template

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "folder": str(self.folder),
            "tokenizer_file": str(self.tokenizer_file),
            "template_source": self.template_source,
            "special_tokens": dict(self.special_tokens),
            "model_max_length": self.model_max_length,
        }


def require_open_extra() -> None:
    """Raise a one-line error naming what is missing when the `open` extra is not installed."""
    import importlib.util

    missing = [name for name in ("tokenizers", "jinja2") if importlib.util.find_spec(name) is None]
    if missing:
        raise OpenModelDependencyMissing(
            f"open-model token counts need {' and '.join(missing)}, which are not installed",
            hint=OPEN_EXTRA_HINT,
        )


def load_local_tokenizer(path: str | Path) -> LocalTokenizer:
    """Find tokenizer.json, the chat template and the special tokens for `path` (see module doc)."""
    given = Path(path)
    if not given.exists():
        raise UsageError(f"tokenizer={path}: no such file or folder")
    folder, label = _resolve_folder(given)
    tokenizer_file = folder / TOKENIZER_FILE
    if not tokenizer_file.is_file():
        raise UsageError(f"tokenizer={path}: {tokenizer_file} is missing (the model's "
                         f"{TOKENIZER_FILE}; ftprep never downloads it)")
    config = _read_json(folder / CONFIG_FILE)
    default, tool_use, source = _chat_template(folder, config, path)
    return LocalTokenizer(
        label=label,
        folder=folder,
        tokenizer_file=tokenizer_file,
        chat_template=default,
        template_source=source,
        special_tokens=_special_tokens(config, _read_json(folder / SPECIAL_TOKENS_FILE)),
        model_max_length=_max_length(config),
        tool_template=tool_use,
    )


def _resolve_folder(given: Path) -> tuple[Path, str]:
    if given.is_file():
        return given.parent, given.parent.name
    snapshots = given / "snapshots"
    if snapshots.is_dir():  # models--org--name
        return _snapshot(given, snapshots), _cache_label(given.name)
    if given.parent.name == "snapshots":  # models--org--name/snapshots/<revision>
        return given, _cache_label(given.parent.parent.name)
    return given, given.name


def _snapshot(repo: Path, snapshots: Path) -> Path:
    ref = repo / "refs" / "main"
    if ref.is_file():
        revision = ref.read_text(encoding="utf-8").strip()
        if (snapshots / revision).is_dir():
            return snapshots / revision
    revisions = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    if len(revisions) == 1:
        return snapshots / revisions[0]
    if not revisions:
        raise UsageError(f"tokenizer={repo}: {snapshots} holds no snapshot")
    raise UsageError(f"tokenizer={repo}: several snapshots ({', '.join(revisions)}) and no "
                     "refs/main; give the snapshots/<revision> folder")


def _cache_label(name: str) -> str:
    parts = name.split("--")
    return "/".join(parts[1:]) if len(parts) > 1 and parts[0] == "models" else name


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return value


def _chat_template(folder: Path, config: dict[str, Any], given: str | Path) -> tuple[str, str | None, str]:
    """(default template, tool_use template or None, where it came from)."""
    jinja = folder / TEMPLATE_FILE
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8"), None, str(jinja)
    value = config.get("chat_template")
    source = f"{folder / CONFIG_FILE} chat_template"
    if isinstance(value, str) and value:
        return value, None, source
    if isinstance(value, list):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        default, tool_use = named.get("default"), named.get("tool_use")
        if isinstance(default, str) or isinstance(tool_use, str):
            fallback = default if isinstance(default, str) else tool_use
            assert fallback is not None
            return fallback, tool_use if isinstance(tool_use, str) else None, source
    raise UsageError(f"tokenizer={given}: no chat template: neither {jinja} nor a chat_template "
                     f"in {folder / CONFIG_FILE}")


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):  # AddedToken form
        return str(value["content"])
    return None


def _special_tokens(config: dict[str, Any], special_map: dict[str, Any]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for name in SPECIAL_TOKEN_NAMES:
        text = _token_text(config.get(name))
        text = text if text is not None else _token_text(special_map.get(name))
        if text is not None:
            tokens[name] = text
    return tokens


def _max_length(config: dict[str, Any]) -> int | None:
    value = config.get("model_max_length")
    if isinstance(value, (int, float)) and 0 < value < NO_LENGTH_LIMIT:
        return int(value)
    return None


__all__ = [
    "LocalTokenizer",
    "OpenModelDependencyMissing",
    "load_local_tokenizer",
    "require_open_extra",
]
