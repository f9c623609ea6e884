"""`count --tokenizer`: exact counts for open models, checked against transformers itself.

The tokenizer is a real byte-level BPE trained offline (tests/open_models.py); transformers'
AutoTokenizer loads the same folder and applies the same chat template: both must agree."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ftprep import count as count_mod
from ftprep.cli import main
from ftprep.count import count_file
from ftprep.errors import InputError, UsageError
from ftprep.tokens.local import load_local_tokenizer

pytest.importorskip("transformers", reason="transformers (test extra) is not installed")

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]

RECORDS: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": "What is the capital of France?"},
                  {"role": "assistant", "content": "The capital of France is Paris."}]},
    {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "Translate: good morning"},
                  {"role": "assistant", "content": "Guten Morgen"},
                  {"role": "user", "content": "and thank you?"},
                  {"role": "assistant", "content": "Danke schön — 谢谢 <b>&</b>"}]},
    {"messages": [{"role": "system", "content": "Answer briefly."},
                  {"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "call_1", "type": "function", "function": {
                          "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 degrees"},
                  {"role": "assistant", "content": "It is sunny and 21 degrees."}],
     "tools": TOOLS},
]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def _as_transformers_expects(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation as transformers' docs ask for it: tool-call arguments as objects."""
    messages = copy.deepcopy(record["messages"])
    for m in messages:
        for call in m.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return messages


def _reference(model_dir: Path, record: dict[str, Any]) -> tuple[int, int]:
    """(total, trainable) by transformers: the generation mask where the template has one,
    else the tokens of the text each assistant message adds (rendered prefix by prefix)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    messages, tools = _as_transformers_expects(record), record.get("tools")
    if "{% generation %}" in (tok.chat_template or "") or "{%- generation %}" in tok.chat_template:
        out = tok.apply_chat_template(messages, tools=tools, return_dict=True,
                                      return_assistant_tokens_mask=True)
        return len(out["input_ids"]), sum(out["assistant_masks"])
    full = tok.apply_chat_template(messages, tools=tools, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            before = tok.apply_chat_template(messages[:i], tools=tools, tokenize=False,
                                             add_generation_prompt=True)
            upto = tok.apply_chat_template(messages[: i + 1], tools=tools, tokenize=False)
            assert full.startswith(upto) and upto.startswith(before)
            spans.append((len(before), len(upto)))
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    trainable = sum(1 for s, e in enc["offset_mapping"] if any(e > a and s < b for a, b in spans))
    return len(enc["input_ids"]), trainable


@pytest.mark.parametrize("fixture", ["llama3_model_dir", "chatml_model_dir"])
def test_counts_equal_transformers_apply_chat_template(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    path = _write(tmp_path / "train.jsonl", RECORDS)
    report = count_file(path, tokenizer=model_dir)
    expected = [_reference(model_dir, r) for r in RECORDS]
    assert report.counts is not None
    assert list(report.counts.tokens) == [t for t, _ in expected]
    assert list(report.counts.trainable) == [n for _, n in expected]
    assert report.total_tokens == sum(t for t, _ in expected)
    assert report.trainable_tokens == sum(n for _, n in expected)
    assert 0 < report.trainable_tokens < report.total_tokens
    assert report.estimated is False
    assert report.tokenizer is not None
    assert report.tokenizer["trainable_from"] == (
        "generation mask" if fixture == "llama3_model_dir" else "assistant message spans")


def test_installed_cli_json_equals_transformers(llama3_model_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", RECORDS)
    exe = Path(sys.executable).with_name("ftprep")
    proc = subprocess.run([str(exe), "count", str(path), "--tokenizer", str(llama3_model_dir),
                           "--format", "json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected = [_reference(llama3_model_dir, r) for r in RECORDS]
    assert out["total_tokens"] == sum(t for t, _ in expected)
    assert out["trainable_tokens"] == sum(n for _, n in expected)
    assert out["model"] == "llama3-tiny"
    assert out["max_tokens"] == 4096  # the tokenizer's model_max_length
    assert out["tokenizer"]["template_source"].endswith("tokenizer_config.json chat_template")


def test_weight_zero_assistant_turn_is_not_trainable(llama3_model_dir: Path,
                                                     chatml_model_dir: Path,
                                                     tmp_path: Path) -> None:
    record = copy.deepcopy(RECORDS[1])
    zero = copy.deepcopy(record)
    zero["messages"][2]["weight"] = 0
    for model_dir in (llama3_model_dir, chatml_model_dir):
        both = count_file(_write(tmp_path / "w.jsonl", [record, zero]), tokenizer=model_dir)
        assert both.counts is not None
        full, partial = both.counts.trainable
        assert 0 < partial < full
        assert both.counts.tokens[0] == both.counts.tokens[1]  # weight is not rendered


def test_max_length_reports_over_limit_and_cut_answers(llama3_model_dir: Path,
                                                       tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", RECORDS)
    sizes = list(count_file(path, tokenizer=llama3_model_dir).counts.tokens)  # type: ignore[union-attr]
    limit = sorted(sizes)[1]  # the biggest example goes over, the other two fit
    report = count_file(path, tokenizer=llama3_model_dir, max_length=limit)
    big = sizes.index(max(sizes)) + 1
    assert (report.max_tokens, report.over_limit, report.over_limit_lines) == (limit, 1, [big])
    assert report.tokens_cut == max(sizes) - limit
    assert report.billed_tokens == sum(min(s, limit) for s in sizes)
    tiny = count_file(path, tokenizer=llama3_model_dir, max_length=5)
    assert tiny.answer_cut == 3 and not tiny.ok
    result = CliRunner().invoke(main, ["count", str(path), "--tokenizer", str(llama3_model_dir),
                                       "--max-length", "5"])
    assert result.exit_code == 1
    assert "final answer would be cut away" in result.output


def test_streaming_and_both_cores_give_the_same_counts(
    llama3_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "train.jsonl", RECORDS * 40)
    serial = count_file(path, tokenizer=llama3_model_dir, workers=1)
    monkeypatch.setattr(count_mod, "BATCH_BYTES", 1500)  # many batches, each a few lines
    parallel = count_file(path, tokenizer=llama3_model_dir, workers=2)
    assert serial.counts is not None and parallel.counts is not None
    assert list(parallel.counts.lines) == list(range(1, 121))
    assert list(parallel.counts.tokens) == list(serial.counts.tokens)
    assert list(parallel.counts.trainable) == list(serial.counts.trainable)


def test_preference_counts_prompt_once_plus_each_output(llama3_model_dir: Path,
                                                        tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    prompt = [{"role": "user", "content": "What is the capital of France?"}]
    good = [{"role": "assistant", "content": "Paris."}]
    bad = [{"role": "assistant", "content": "It is Berlin, I think."}]
    record = {"input": {"messages": prompt}, "preferred_output": good,
              "non_preferred_output": bad}
    report = count_file(_write(tmp_path / "p.jsonl", [record]), tokenizer=llama3_model_dir)
    tok = AutoTokenizer.from_pretrained(str(llama3_model_dir), local_files_only=True)
    p = len(tok.apply_chat_template(prompt, add_generation_prompt=True)["input_ids"])
    g = len(tok.apply_chat_template(prompt + good)["input_ids"]) - p
    b = len(tok.apply_chat_template(prompt + bad)["input_ids"]) - p
    assert (report.total_tokens, report.trainable_tokens) == (p + g + b, g + b)


def test_tokenizer_given_as_file_jinja_or_hf_cache_folder(llama3_model_dir: Path,
                                                          tmp_path: Path) -> None:
    from tests.open_models import LLAMA3_TEMPLATE, write_model_dir

    path = _write(tmp_path / "train.jsonl", RECORDS)
    expected = count_file(path, tokenizer=llama3_model_dir).total_tokens
    assert count_file(path, tokenizer=llama3_model_dir / "tokenizer.json").total_tokens == expected
    jinja_dir = write_model_dir(tmp_path / "jinja", llama3_model_dir / "tokenizer.json",
                                "{{ 'not used' }}", template_in_jinja_file=False)
    (jinja_dir / "chat_template.jinja").write_text(LLAMA3_TEMPLATE, encoding="utf-8")
    via_jinja = count_file(path, tokenizer=jinja_dir / "chat_template.jinja")
    assert via_jinja.total_tokens == expected  # the .jinja file wins over the config, as in HF
    repo = tmp_path / "hub" / "models--acme--tiny-chat"
    snapshot = write_model_dir(repo / "snapshots" / "abc123", llama3_model_dir / "tokenizer.json",
                               LLAMA3_TEMPLATE)
    (repo / "blobs").mkdir()  # as the hub lays it out: snapshot files link to content blobs
    for name in ("tokenizer.json", "tokenizer_config.json"):
        blob = repo / "blobs" / f"blob-{name}"
        (snapshot / name).rename(blob)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo / "snapshots" / "old999").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    cached = count_file(path, tokenizer=repo)
    assert (cached.model, cached.total_tokens) == ("acme/tiny-chat", expected)
    assert count_file(path, tokenizer=repo / "snapshots" / "abc123").model == "acme/tiny-chat"


def test_missing_files_are_one_line_errors_naming_the_file(llama3_model_dir: Path,
                                                           tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", RECORDS[:1])
    (llama3_model_dir / "tokenizer.json").unlink()
    with pytest.raises(UsageError, match=r"tokenizer\.json is missing"):
        load_local_tokenizer(llama3_model_dir)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "tokenizer.json").write_text("{}")
    with pytest.raises(UsageError, match=r"no chat template.*chat_template\.jinja"):
        load_local_tokenizer(bare)
    result = CliRunner().invoke(main, ["count", str(path), "--tokenizer", str(llama3_model_dir)])
    assert result.exit_code == 2
    assert "tokenizer.json is missing" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    both = CliRunner().invoke(main, ["count", str(path)])
    assert both.exit_code == 2 and "--model" in both.output and "--tokenizer" in both.output


def test_template_refusal_names_the_line(chatml_model_dir: Path, tmp_path: Path) -> None:
    late_system = {"messages": [{"role": "user", "content": "hi"},
                                {"role": "system", "content": "late"},
                                {"role": "assistant", "content": "hello"}]}
    path = _write(tmp_path / "train.jsonl", [RECORDS[0], late_system])
    with pytest.raises(InputError, match=r"train\.jsonl:2: chat template: the system message "
                                         r"must come first$"):
        count_file(path, tokenizer=chatml_model_dir)


def test_a_template_failing_on_a_records_values_names_the_line(chatml_model_dir: Path,
                                                                 tmp_path: Path) -> None:
    # ChatML concatenates `message.content` to strings: a number there is a TypeError in the
    # template, which is this record's error, not an internal one.
    numeric = {"messages": [{"role": "user", "content": 5},
                            {"role": "assistant", "content": "hello"}]}
    path = _write(tmp_path / "train.jsonl", [RECORDS[0], numeric])
    with pytest.raises(InputError, match=r"train\.jsonl:2: chat template: TypeError: "):
        count_file(path, tokenizer=chatml_model_dir)
    result = CliRunner().invoke(main, ["count", str(path), "--tokenizer", str(chatml_model_dir)])
    assert result.exit_code == 2 and "internal error" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_open_extra_is_a_clear_message(llama3_model_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from ftprep.tokens import template

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tokenizers" else real(name, *a))
    monkeypatch.setattr(template, "_counters", {})
    path = _write(tmp_path / "train.jsonl", RECORDS[:1])
    result = CliRunner().invoke(main, ["count", str(path), "--tokenizer", str(llama3_model_dir)])
    assert result.exit_code == 2
    assert "need tokenizers" in result.output and "pip install 'ftprep[open]'" in result.output


def test_openai_counting_never_imports_the_open_model_libraries(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", RECORDS)
    code = ("import sys; from ftprep.count import count_file; "
            f"count_file({str(path)!r}, model='gpt-4o-mini'); "
            "print(sorted(m for m in ('tokenizers', 'jinja2', 'transformers') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_per_example_table_with_a_tokenizer(llama3_model_dir: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    path = _write(tmp_path / "train.jsonl", RECORDS)
    table = tmp_path / "per.csv"
    report = count_file(path, tokenizer=llama3_model_dir, per_example=table, max_length=100)
    rows = pacsv.read_csv(table).to_pylist()
    assert report.counts is not None
    assert [r["tokens"] for r in rows] == list(report.counts.tokens)
    assert [r["over_limit"] for r in rows] == [t > 100 for t in report.counts.tokens]
