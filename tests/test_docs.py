"""The README is checked against the code, like sqlite-utils' docs (cog + test_docs.py).

1. Generated sections: the rules table and the command list are written by `cog` blocks
   (`<!-- [[[cog ... ]]] -->` ... `<!-- [[[end]]] -->`) from the rule registry and the click
   commands. A block whose text differs from what its code generates fails here, by line;
   `make docs` regenerates them.
2. Counts in prose ("37 rules") match the registry.
3. The tour runs: every ```console block is a sequence of `$ command` lines, each followed by
   the output it prints. The blocks run in README order, in one scratch directory holding a
   link to `sample_data/`, through the installed `ftprep` (stdout and stderr interleaved as a
   terminal would show them), and the output must match what the README shows:
   - trailing spaces are ignored;
   - a line that is only `…` stands for any number of lines (output left out);
   - a line ending in ` …` stands for any line that starts with the text before the ` …`.
   A block that cannot run here (it needs a live server, a key, a GPU) is marked with an
   HTML comment on the line right before its fence, with the reason:
       <!-- docs-test: skip (needs a running fine-tuning server) -->
   See CONTRIBUTING.md, "README examples".
"""
from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cogapp import Cog

from ftprep.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FTPREP_BIN = Path(sys.executable).parent  # the installed `ftprep` script lives beside python
SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip\b\s*(?P<reason>.*?)\s*-->")
ELLIPSIS = "…"


# -- 1. generated sections ---------------------------------------------------------------

def stale_generated_blocks(text: str, name: str = "README.md") -> list[str]:
    """One message per cog block whose text is not what its code generates now."""
    generated = Cog().process_string(text, fname=name)
    if generated == text:
        return []
    have, want = text.splitlines(), generated.splitlines()
    problems = []
    # cog keeps every block's code and the blocks' order, so the nth blocks correspond.
    for (start, end), (new_start, new_end) in zip(_cog_blocks(have), _cog_blocks(want),
                                                  strict=True):
        if have[start:end] != want[new_start:new_end]:
            diff = "\n".join(difflib.unified_diff(
                have[start:end], want[new_start:new_end], "README (as written)",
                "generated now", lineterm="", n=1))
            problems.append(f"{name} line {start + 1}: the generated block is out of date; "
                            f"run `make docs` to regenerate it\n{diff}")
    return problems or [f"{name}: cog output differs outside its blocks; run `make docs`"]


def _cog_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first line, line after the end marker) of each cog block, 0-based."""
    starts = [i for i, line in enumerate(lines) if "[[[cog" in line]
    ends = [i for i, line in enumerate(lines) if "[[[end]]]" in line]
    return list(zip(starts, [e + 1 for e in ends], strict=True))


def test_readme_generated_sections_are_current() -> None:
    problems = stale_generated_blocks(README.read_text(encoding="utf-8"))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def _fresh_readme() -> str:
    """The README as `make docs` would leave it (so these tests do not depend on its state)."""
    return Cog().process_string(README.read_text(encoding="utf-8"), fname="README.md")


def test_a_stale_rules_table_is_caught_and_located() -> None:
    text = _fresh_readme()
    row = next(line for line in text.splitlines() if line.startswith("| FT502 "))
    stale = text.replace(row + "\n", "")  # a rule the table forgot
    problems = stale_generated_blocks(stale)
    table_line = _line_of(stale, "from ftprep.rules import load_rules")
    assert len(problems) == 1
    assert f"README.md line {table_line - 1}:" in problems[0]
    assert "+" + row in problems[0] and "make docs" in problems[0]


def test_a_stale_command_list_is_caught() -> None:
    text = _fresh_readme()
    stale = re.sub(r"^\| `ftprep split` \|.*\n", "", text, flags=re.M)
    assert stale != text
    [problem] = stale_generated_blocks(stale)
    assert "`ftprep split`" in problem


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- 2. counts in prose ---------------------------------------------------------------------

def test_rule_counts_in_prose_match_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    claims = [(int(m.group(1)), text.count("\n", 0, m.start()) + 1)
              for m in re.finditer(r"\b(\d+) (?:validation )?rules\b", text)]
    assert claims, "the README no longer says how many rules there are"
    wrong = [f"README.md line {line}: says {n} rules" for n, line in claims
             if n != len(load_rules())]
    assert not wrong, f"the registry has {len(load_rules())} rules: " + "; ".join(wrong)


# -- 3. the tour runs -----------------------------------------------------------------------

@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class ConsoleBlock:
    line: int  # of the opening fence, 1-based
    steps: list[Step]
    skip: str | None  # the reason, when marked not checked

    @property
    def id(self) -> str:
        first = self.steps[0].command.split("\n")[0] if self.steps else ""
        return f"README.md:{self.line} {first[:40]}"


def console_blocks(text: str) -> list[ConsoleBlock]:
    """Every ```console block, its `$ ` commands (with `\\` continuation lines) and outputs."""
    lines = text.splitlines()
    blocks: list[ConsoleBlock] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        mark = SKIP_MARK.search(lines[i - 1]) if i else None
        body_start = i + 1
        end = next(j for j in range(body_start, len(lines)) if lines[j].strip() == "```")
        reason = (mark.group("reason").strip("() ") or "marked skip") if mark else None
        blocks.append(ConsoleBlock(i + 1, _steps(lines[body_start:end]), reason))
        i = end + 1
    return blocks


def _steps(body: list[str]) -> list[Step]:
    steps: list[Step] = []
    continued = False
    for line in body:
        if continued:
            steps[-1].command += "\n" + line
        elif line.startswith("$ "):
            steps.append(Step(line[2:]))
        elif steps:
            steps[-1].expected.append(line)
        else:
            raise ValueError(f"output before the first `$ ` command: {line!r}")
        continued = (continued or line.startswith("$ ")) and line.endswith("\\")
    return steps


def output_matches(expected: list[str], actual: str) -> bool:
    """`actual` fits `expected`, with the README's `…` conventions (see the module docstring)."""
    parts = []
    for line in expected:
        line = line.rstrip()
        if line == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        elif line.endswith(" " + ELLIPSIS):
            parts.append(re.escape(line[:-1].rstrip()) + r"[^\n]*\n")
        else:
            parts.append(re.escape(line) + r"[ \t]*\n")
    normalised = "".join(line.rstrip() + "\n" for line in actual.splitlines())
    return re.fullmatch("".join(parts), normalised) is not None


def run_step(command: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_", "FTPREP_"))}
    env.update(PATH=f"{FTPREP_BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               NO_COLOR="1", COLUMNS="80", LC_ALL="C.UTF-8")
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120, check=False)
    return done.stdout


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Step, str]]]:
    """Run every checked block in README order (later blocks use earlier blocks' files)."""
    work = tmp_path_factory.mktemp("tour")
    (work / "sample_data").symlink_to(ROOT / "sample_data")
    results: dict[str, list[tuple[Step, str]]] = {}
    for block in console_blocks(README.read_text(encoding="utf-8")):
        if block.skip is None:
            results[block.id] = [(step, run_step(step.command, work)) for step in block.steps]
    return results


BLOCKS = console_blocks(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_console_block(block: ConsoleBlock, tour: dict[str, list[tuple[Step, str]]]
                              ) -> None:
    if block.skip is not None:
        pytest.skip(f"marked docs-test: skip in the README: {block.skip}")
    for step, actual in tour[block.id]:
        if not output_matches(step.expected, actual):
            diff = "\n".join(difflib.unified_diff(
                step.expected, actual.splitlines(), "README shows", "the command printed",
                lineterm=""))
            pytest.fail(f"{block.id}: the output of `$ {step.command}` drifted from the README "
                        f"(block at README.md line {block.line}):\n{diff}", pytrace=False)


def test_the_tour_is_checked_and_skips_say_why() -> None:
    checked = [b for b in BLOCKS if b.skip is None]
    assert len(checked) >= 5, "most of the tour must run"
    assert all(b.steps for b in BLOCKS), "a console block with no `$ ` command"
    assert all(b.skip for b in BLOCKS if b.skip is not None)


def test_output_matching_conventions() -> None:
    assert output_matches(["a", ELLIPSIS, "z"], "a\nb\nc\nz\n")
    assert output_matches(["a", ELLIPSIS, "z"], "a\nz\n")
    assert output_matches(["warning: closing …"], "warning: closing soon, see the docs\n")
    assert output_matches(["x  "], "x\n")
    assert not output_matches(["a", "z"], "a\nb\nz\n")
    assert not output_matches(["read 30, wrote 28"], "read 30, wrote 27\n")
    assert not output_matches(["warning: closing …"], "error: closed\n")


def test_skip_marks_and_continuations_are_parsed() -> None:
    text = ("intro\n<!-- docs-test: skip (needs a live server) -->\n```console\n"
            "$ ftprep submit a \\\n    --yes\nsent\n```\n\n```console\n$ echo hi\nhi\n```\n")
    skipped, checked = console_blocks(text)
    assert skipped.skip == "needs a live server" and checked.skip is None
    assert skipped.steps[0].command == "ftprep submit a \\\n    --yes"
    assert skipped.steps[0].expected == ["sent"]
    assert checked.line == 9 and checked.steps[0].expected == ["hi"]
