"""The JSON Schemas: well-formed, strict where the platform is, and shipped in the wheel so
that an installed ftprep (not a checkout) finds them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ftprep.formats import FORMATS
from ftprep.rules.schema import schema_hits, schema_text, validator

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_schema_is_valid_draft_2020_12(fmt: str) -> None:
    schema = json.loads(schema_text(fmt))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"{fmt}.schema.json")


def test_preference_schema_resolves_refs_into_chat_schema() -> None:
    record = {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "robot", "content": "b"}],
    }
    errors = list(validator("preference").iter_errors(record))
    assert [list(e.absolute_path) for e in errors] == [["non_preferred_output", 0, "role"]]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ({"type": "text"}, [("FT202", "messages[0].content[0].text")]),
        ({"type": "image_url"}, [("FT202", "messages[0].content[0].image_url")]),
        ({}, [("FT202", "messages[0].content[0].type")]),
        ({"type": "image_url", "image_url": {"url": "https://e.x/a.png", "detail": "low"}}, []),
        ({"type": "text", "text": ""}, []),  # empty, but well-formed: FT501's business
    ],
)
def test_content_parts_need_their_payload(part: dict, expected: list) -> None:
    record = {"messages": [{"role": "user", "content": [part]}]}
    assert [(h.code, h.path) for h in schema_hits(record, "chat")] == expected


def test_each_missing_key_is_its_own_finding() -> None:
    assert [(h.code, h.path, h.message) for h in schema_hits({}, "completion")] == [
        ("FT202", "prompt", "missing required key 'prompt'"),
        ("FT202", "completion", "missing required key 'completion'"),
    ]


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the sources, so no build/ or egg-info lands in the shared tree."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "ftprep", src / "ftprep", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("ftprep-*.whl")
    return wheel


def test_installed_wheel_finds_its_schemas(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert sorted(p.name for p in (site / "ftprep" / "schemas").iterdir()) == [
        "chat.schema.json",
        "completion.schema.json",
        "preference.schema.json",
    ]
    assert (site / "ftprep" / "rules" / "examples.toml").is_file()  # `ftprep rules CODE` reads it
    # The wheel's copy must win over the editable install of this checkout: PYTHONPATH comes
    # first on sys.path, and the cwd is elsewhere. The dependencies come from this venv.
    env = {**os.environ, "PYTHONPATH": str(site)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    data = work / "data.jsonl"
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"Say {i}."}]},
            "preferred_output": [{"role": "assistant", "content": f"{i}."}],
            "non_preferred_output": [{"role": "assistant", "content": f"{i + 1}."}],
        }
        for i in range(10)
    ]
    rows.append({**rows[0], "preferred_output": [{"role": "robot", "content": "x"}]})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    where = subprocess.run(
        [sys.executable, "-c", "import ftprep; print(ftprep.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    done = subprocess.run(
        [sys.executable, str(site / "bin" / "ftprep"), "validate", str(data), "--format", "json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "preference"
    # FT301 comes from the preference schema's $ref into the chat schema, read from the wheel.
    assert [(i["code"], i["line"], i["path"]) for i in report["issues"]] == [
        ("FT301", 11, "preferred_output[0].role")
    ]


_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # a function result must name the function it answers
        ({"messages": [{"role": "user", "content": "q"},
                       {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                       {"role": "function", "content": "r"}]},
         [("FT202", "messages[2].name")]),
        # an empty id matches nothing: the result cannot be paired with its call
        ({"messages": [{"role": "assistant", "tool_calls": [{**_CALL, "id": ""}]},
                       {"role": "tool", "tool_call_id": "", "content": "r"}]},
         [("FT201", "messages[0].tool_calls[0].id"), ("FT201", "messages[1].tool_call_id")]),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ""}}]}]},
         [("FT201", "messages[0].content[0].image_url.url")]),
    ],
)
def test_schema_rejects_what_cannot_be_paired_or_fetched(record: dict, expected: list) -> None:
    assert [(h.code, h.path) for h in schema_hits(record, "chat")] == expected


def test_function_result_with_name_and_nonempty_ids_pass() -> None:
    record = {"messages": [{"role": "assistant", "tool_calls": [_CALL]},
                           {"role": "tool", "tool_call_id": "c1", "content": "r"},
                           {"role": "function", "name": "f", "content": "r"}]}
    assert list(schema_hits(record, "chat")) == []


@pytest.mark.parametrize("name", ["Bob Smith", "x" * 65, "bob.smith", "émile"])
def test_message_names_follow_the_platforms_pattern(name: str) -> None:
    # The API answers "'Bob Smith' does not match '^[a-zA-Z0-9_-]{1,64}$' - 'messages.0.name'".
    record = {"messages": [{"role": "user", "name": name, "content": "q"},
                           {"role": "assistant", "content": "a"}]}
    hits = list(schema_hits(record, "chat"))
    assert [(h.code, h.path) for h in hits] == [("FT201", "messages[0].name")]
    assert "1 to 64 letters, digits, '_' or '-'" in hits[0].message
    ok = {"messages": [{"role": "user", "name": "Bob_Smith-2", "content": "q"}]}
    assert list(schema_hits(ok, "chat")) == []
