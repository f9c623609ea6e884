"""Each rule's examples (a file that triggers it, and the fixed version), read from the data
file `examples.toml` beside the rules. `ftprep rules CODE` prints them; the catalog test runs
every one, so a rule cannot be added without one."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

EXAMPLES_FILE = Path(__file__).with_name("examples.toml")
DEFAULT_ENCODING = "utf-8"


@dataclass(frozen=True)
class RuleExample:
    """A JSONL file that triggers `code` once, at `line` (0 = the whole file) and `path`,
    and the fixed file that triggers nothing. The validate options it needs come with it."""

    code: str
    bad: str
    good: str
    path: str = ""
    line: int = 1
    model: str | None = None
    models: str | None = None  # TOML merged over the model registry (e.g. a small limit)
    target: str | None = None
    targets: str | None = None  # TOML merged over the target registry
    bad_encoding: str = DEFAULT_ENCODING
    good_encoding: str = DEFAULT_ENCODING
    also: tuple[str, ...] = ()  # codes the bad file necessarily triggers as well

    def bad_bytes(self) -> bytes:
        return (self.bad + "\n").encode(self.bad_encoding)

    def good_bytes(self) -> bytes:
        return (self.good + "\n").encode(self.good_encoding)

    def options(self) -> list[str]:
        """The validate flags the example needs, as a user would type them."""
        words = [f"--model {self.model}"] if self.model else []
        words += [f"--target {self.target}"] if self.target else []
        words += ["--models-file M (below)"] if self.models else []
        words += ["--targets-file T (below)"] if self.targets else []
        return words

    def to_dict(self) -> dict[str, Any]:
        return {"bad": self.bad, "good": self.good, "line": self.line, "path": self.path,
                "options": self.options(), "models_file": self.models,
                "targets_file": self.targets, "bad_encoding": self.bad_encoding,
                "good_encoding": self.good_encoding}


@dataclass(frozen=True)
class RuleExamples:
    """All examples of one rule; `untestable` says why a rule has none (reviewed in tests)."""

    code: str
    examples: tuple[RuleExample, ...] = ()
    untestable: str | None = None


@cache
def load_examples(path: Path = EXAMPLES_FILE) -> dict[str, RuleExamples]:
    """code → its examples, in the order of the data file."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    found: dict[str, RuleExamples] = {}
    for code, entries in raw.items():
        untestable = next((e["untestable"] for e in entries if "untestable" in e), None)
        examples = tuple(_example(code, e) for e in entries if "untestable" not in e)
        found[code] = RuleExamples(code, examples, untestable)
    return found


def _example(code: str, entry: dict[str, Any]) -> RuleExample:
    encoding = entry.pop("encoding", DEFAULT_ENCODING)
    entry.setdefault("bad_encoding", encoding)
    entry.setdefault("good_encoding", encoding)
    entry["also"] = tuple(entry.get("also", ()))
    try:
        return RuleExample(code=code, **entry)
    except TypeError as e:  # a misspelt field: say which entry
        raise ValueError(f"{EXAMPLES_FILE.name} [[{code}]]: {e}") from None
