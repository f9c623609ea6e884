"""`export --to TARGET`: each target's shape, checked by the target's own public loader where
one installs without a GPU (datasets, transformers' chat templates), by a JSON Schema
otherwise; counts reconcile and every dropped example is in the rejects file with its line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ftprep import export_file
from ftprep.cli import main
from ftprep.errors import UsageError
from ftprep.targets.base import Weight0Required
from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))
BOM = b"\xef\xbb\xbf"
SYSTEM = {"role": "system", "content": "You are terse."}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def qa(i: int, **extra: Any) -> dict:
    return {"messages": [SYSTEM, {"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": f"answer {i}"}], **extra}


def tool_example() -> dict:
    return {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"temp_c\": 18}"},
        {"role": "assistant", "content": "18 °C in Paris."}], "tools": [WEATHER]}


def weight0_example() -> dict:
    return {"messages": [{"role": "user", "content": "Draft?"},
                         {"role": "assistant", "content": "A bad draft.", "weight": 0},
                         {"role": "user", "content": "Better?"},
                         {"role": "assistant", "content": "A good answer.", "weight": 1}]}


def preference(i: int) -> dict:
    return {"input": {"messages": [{"role": "user", "content": f"Pick {i}"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}]}


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines()]


# -- azure / openai: the same bytes -----------------------------------------------------------


def test_azure_output_is_the_input_with_a_bom(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(qa(i), ensure_ascii=False) for i in range(3)]
    # CRLF, non-ASCII, odd spacing and no newline at the end: all must survive byte for byte
    raw = (lines[0] + "\r\n" + lines[1].replace(", ", ",  ") + "\n" + '{"messages": [{"role": '
           '"user", "content": "Grüße 東京"}, {"role": "assistant", "content": "ok"}]}')
    src.write_bytes(raw.encode())
    result = export_file(src, "azure", tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == BOM + raw.encode()
    assert (result.read, result.written, result.rejected, result.bom_added) == (3, 3, 0, True)
    assert result.reconciled and result.rejects_path is None
    again = export_file(tmp_path / "out.jsonl", "azure", tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == BOM + raw.encode()  # one BOM, not two
    assert again.written == 3
    assert validate_file(tmp_path / "out.jsonl", target="azure", ignore=["FT107"]).findings == []


def test_azure_drops_metadata_and_keeps_other_lines_byte_identical(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), qa(2, metadata={"source": "crm"}), qa(3)])
    result = export_file(src, "azure", tmp_path / "out.jsonl")
    in_lines = src.read_bytes().splitlines(keepends=True)
    out_lines = (tmp_path / "out.jsonl").read_bytes()[len(BOM):].splitlines(keepends=True)
    assert out_lines[0] == in_lines[0] and out_lines[2] == in_lines[2]
    assert json.loads(out_lines[1]) == qa(2)
    assert result.dropped_keys == {"metadata": 1} and result.changes == {"keys-dropped": 1}


def test_unreadable_lines_are_rejected_with_their_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(qa(1)) + "\n\n{broken\n[1, 2]\n" + json.dumps(preference(1))
                   + "\n" + json.dumps(qa(2)) + "\n")
    result = export_file(src, "openai", tmp_path / "out.jsonl")
    assert (result.read, result.written, result.rejected, result.blank_lines) == (5, 2, 3, 1)
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (3, "invalid-json"), (4, "not-an-object"), (5, "mixed-format")]
    assert result.reasons == {"invalid-json": 1, "mixed-format": 1, "not-an-object": 1}
    clean = write(tmp_path / "clean.jsonl", [qa(1)])
    export_file(clean, "openai", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.rejects.jsonl").exists()  # it described the earlier output


# -- together / fireworks ----------------------------------------------------------------------


def test_together_strips_refused_keys_maps_and_rejects(tmp_path: Path) -> None:
    named = qa(2, parallel_tool_calls=False)
    named["messages"][1] = {**named["messages"][1], "name": "ann"}
    developer = {"messages": [{"role": "developer", "content": "Be brief."},
                              {"role": "user", "content": "q"},
                              {"role": "assistant", "content": "a", "weight": 1.0}]}
    twice = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                          {"role": "assistant", "content": "c"}]}
    src = write(tmp_path / "in.jsonl", [qa(1), named, developer, twice, tool_example()])
    result = export_file(src, "together", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert out[0] == qa(1)
    assert out[1] == qa(2)
    assert out[2]["messages"][0]["role"] == "system"
    assert out[2]["messages"][2]["weight"] == 1 and type(out[2]["messages"][2]["weight"]) is int
    assert result.dropped_keys == {"messages[].name": 1, "parallel_tool_calls": 1}
    assert result.changes["role-developer-to-system"] == 1
    assert result.changes["weight-made-integer"] == 1
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"], r["path"]) for r in rejects] == [
        (4, "not-alternating", "messages[1].role"),
        (5, "tool-calls-unsupported", "messages[1].tool_calls")]
    assert (result.read, result.written + result.rejected) == (5, 5)
    assert validate_file(tmp_path / "out.jsonl", target="together").findings == []


def test_fireworks_keeps_base64_images_and_rejects_urls(tmp_path: Path) -> None:
    def with_image(url: str) -> dict:
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is it?"},
            {"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": "A cat."}]}

    src = write(tmp_path / "in.jsonl", [with_image("data:image/png;base64,iVBORw0KGgo="),
                                        with_image("https://example.com/cat.png")])
    result = export_file(src, "fireworks", tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == [with_image("data:image/png;base64,iVBORw0KGgo=")]
    assert result.reasons == {"image-source-unsupported": 1}


# -- TRL ---------------------------------------------------------------------------------------


def test_trl_needs_a_weight0_choice_and_writes_nothing_without_it(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), weight0_example()])
    with pytest.raises(Weight0Required, match=r"line 2 messages\[1\]\.weight"):
        export_file(src, "trl", tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no output, no temp file
    r = CliRunner().invoke(main, ["export", str(src), "--to", "trl", "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2
    assert "choose --weight0 drop-example or --weight0 keep-as-context" in r.output


def test_trl_drop_example_rejects_it(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), weight0_example(), tool_example()])
    result = export_file(src, "trl", tmp_path / "out.jsonl", weight0="drop-example")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["line"] for r in read_jsonl(tmp_path / "out.rejects.jsonl")] == [2]
    call = out[1]["messages"][1]["tool_calls"][0]["function"]
    assert call["arguments"] == {"city": "Paris"}  # an object, as chat templates expect
    assert out[1]["tools"] == [WEATHER]
    assert result.changes["tool-arguments-as-objects"] == 1


def test_trl_keep_as_context_writes_prompt_completion(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), weight0_example()])
    result = export_file(src, "trl", tmp_path / "out.jsonl", weight0="keep-as-context")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [m["content"] for m in out[1]["prompt"]] == ["Draft?", "A bad draft.", "Better?"]
    assert out[1]["completion"] == [{"role": "assistant", "content": "A good answer."}]
    assert out[0]["completion"] == [{"role": "assistant", "content": "answer 1"}]
    assert result.changes["split-prompt-completion"] == 2 and result.written == 2


def test_trl_preference_becomes_prompt_chosen_rejected(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [preference(1)])
    export_file(src, "trl", tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == [{
        "prompt": [{"role": "user", "content": "Pick 1"}],
        "chosen": [{"role": "assistant", "content": "good"}],
        "rejected": [{"role": "assistant", "content": "bad"}]}]


def test_parquet_is_for_trl_only(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1)])
    with pytest.raises(UsageError, match="file_format=parquet"):
        export_file(src, "bedrock", tmp_path / "out.parquet", file_format="parquet")


# -- the trainers' own loaders -------------------------------------------------------------------

datasets = pytest.importorskip("datasets", reason="the test extra installs datasets")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path / "hf-cache"


def load(path: Path, cache: Path, kind: str = "json") -> Any:
    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(cache))


CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m.role }}>"
    "{% if m.content %}{{ m.content }}{% endif %}"
    "{% for c in m.tool_calls or [] %}"
    "{% if c.function.arguments is string %}{{ raise_exception('arguments must be an object') }}"
    "{% endif %}<call>{{ c.function.name }} {{ c.function.arguments | tojson }}</call>"
    "{% endfor %}</{{ m.role }}>{% endfor %}"
    "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }}{% endfor %}</tools>{% endif %}"
)


def tiny_tokenizer() -> Any:
    """A real fast tokenizer built in memory (no download) with a chat template."""
    tokenizers = pytest.importorskip("tokenizers", reason="the test extra installs tokenizers")
    transformers = pytest.importorskip("transformers", reason="the test extra installs transformers")
    vocab = {"[UNK]": 0, "<user>": 1, "</user>": 2, "<assistant>": 3, "</assistant>": 4}
    model = tokenizers.models.WordLevel(vocab=vocab, unk_token="[UNK]")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                chat_template=CHAT_TEMPLATE)


def test_trl_messages_load_and_render_with_a_chat_template(tmp_path: Path, offline: Path) -> None:
    src = write(tmp_path / "in.jsonl", [tool_example(), tool_example()])
    export_file(src, "trl", tmp_path / "out.jsonl")
    rows = load(tmp_path / "out.jsonl", offline)
    assert rows.column_names == ["messages", "tools"]
    tokenizer = tiny_tokenizer()
    row = rows[0]
    text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
    assert '<call>get_weather {"city": "Paris"}</call>' in text
    assert "<tools>get_weather</tools>" in text
    with pytest.raises(Exception, match="arguments must be an object"):  # what OpenAI's strings do
        tokenizer.apply_chat_template(tool_example()["messages"], tokenize=False)


def test_trl_parquet_loads_with_datasets(tmp_path: Path, offline: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), qa(2), preference(3)])
    result = export_file(src, "trl", tmp_path / "out.parquet")  # the name says Parquet
    assert (result.written, result.rejected, result.file_format) == (2, 1, "parquet")
    rows = load(tmp_path / "out.parquet", offline, "parquet")
    assert rows[1]["messages"][2] == {"role": "assistant", "content": "answer 2"}


def test_trl_preference_loads_for_dpo(tmp_path: Path, offline: Path) -> None:
    export_file(write(tmp_path / "in.jsonl", [preference(1), preference(2)]), "trl",
                tmp_path / "out.jsonl")
    rows = load(tmp_path / "out.jsonl", offline)
    assert sorted(rows.column_names) == ["chosen", "prompt", "rejected"]
    text = tiny_tokenizer().apply_chat_template(rows[0]["prompt"] + rows[0]["chosen"], tokenize=False)
    assert text == "<user>Pick 1</user><assistant>good</assistant>"


def test_axolotl_data_and_yaml_fragment(tmp_path: Path, offline: Path) -> None:
    yaml = pytest.importorskip("yaml", reason="the test extra installs pyyaml")
    src = write(tmp_path / "in.jsonl", [weight0_example(), tool_example()])
    result = export_file(src, "axolotl", tmp_path / "train.jsonl")
    fragment = yaml.safe_load((tmp_path / "train.axolotl.yaml").read_text())
    dataset = fragment["datasets"][0]
    assert dataset["type"] == "chat_template" and dataset["field_messages"] == "messages"
    assert dataset["roles_to_train"] == ["assistant"]
    assert dataset["message_field_training"] == "training"
    assert Path(dataset["path"]) == tmp_path / "train.jsonl"
    assert result.companions == [str(tmp_path / "train.axolotl.yaml")]
    rows = load(tmp_path / "train.jsonl", offline)
    assert [m.get("training") for m in rows[0]["messages"]] == [None, False, None, True]
    assert rows[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    pref = export_file(write(tmp_path / "p.jsonl", [preference(1)]), "axolotl", tmp_path / "dpo.jsonl")
    dpo = yaml.safe_load((tmp_path / "dpo.axolotl.yaml").read_text())
    assert dpo["rl"] == "dpo" and dpo["datasets"][0]["type"] == "chat_template.default"
    assert (dpo["datasets"][0]["field_chosen"], dpo["datasets"][0]["field_rejected"]) == (
        "chosen", "rejected")
    assert read_jsonl(tmp_path / "dpo.jsonl")[0]["chosen"] == {"role": "assistant", "content": "good"}
    assert pref.written == 1


def test_llama_factory_sharegpt_and_dataset_info(tmp_path: Path, offline: Path) -> None:
    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "o.json"}}))
    src = write(tmp_path / "in.jsonl", [qa(1), tool_example()])
    result = export_file(src, "llama-factory", tmp_path / "mine.jsonl")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["other"] == {"file_name": "o.json"}  # the existing entry is kept
    entry = info["mine"]
    assert entry["file_name"] == "mine.jsonl" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
    assert entry["tags"]["function_tag"] == "function_call"
    rows = load(tmp_path / "mine.jsonl", offline)
    assert rows[0]["system"] == "You are terse."
    turns = rows[1]["conversations"]
    assert [t["from"] for t in turns] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(turns[1]["value"]) == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert json.loads(rows[1]["tools"])[0]["name"] == "get_weather"
    assert result.companions == [str(tmp_path / "dataset_info.json")]
    export_file(write(tmp_path / "p.jsonl", [preference(1)]), "llama-factory", tmp_path / "pref.jsonl")
    ranked = json.loads((tmp_path / "dataset_info.json").read_text())["pref"]
    assert ranked["ranking"] is True and ranked["columns"]["chosen"] == "chosen"


# -- bedrock / vertex: their published shapes as JSON Schemas ----------------------------------

TEXT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}},
        "additionalProperties": False}
S3_IMAGE = {"type": "object", "required": ["image"], "additionalProperties": False,
            "properties": {"image": {
                "type": "object", "required": ["format", "source"], "additionalProperties": False,
                "properties": {"format": {"enum": ["jpeg", "png", "gif", "webp"]},
                               "source": {"type": "object", "required": ["s3Location"],
                                          "properties": {"s3Location": {
                                              "type": "object", "required": ["uri"],
                                              "properties": {"uri": {"pattern": "^s3://"}}}}}}}}}
BEDROCK_SCHEMA = {
    "type": "object", "required": ["schemaVersion", "messages"], "additionalProperties": False,
    "properties": {
        "schemaVersion": {"const": "bedrock-conversation-2024"},
        "system": {"type": "array", "items": TEXT},
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role", "content"], "additionalProperties": False,
            "properties": {"role": {"enum": ["user", "assistant"]},
                           "content": {"type": "array", "minItems": 1, "items": {
                               "oneOf": [TEXT, S3_IMAGE]}}}}}}}
PART = {"type": "object", "oneOf": [
    {"required": ["text"], "properties": {"text": {"type": "string"}}, "additionalProperties": False},
    {"required": ["fileData"], "additionalProperties": False, "properties": {"fileData": {
        "type": "object", "required": ["mimeType", "fileUri"], "additionalProperties": False,
        "properties": {"mimeType": {"type": "string"}, "fileUri": {"pattern": "^gs://"}}}}}]}
VERTEX_SCHEMA = {
    "type": "object", "required": ["contents"], "additionalProperties": False,
    "properties": {
        "systemInstruction": {"type": "object", "required": ["parts"],
                              "properties": {"role": {"type": "string"},
                                             "parts": {"type": "array", "items": PART}}},
        "contents": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role", "parts"], "additionalProperties": False,
            "properties": {"role": {"enum": ["user", "model"]},
                           "parts": {"type": "array", "minItems": 1, "items": PART}}}}}}


def test_bedrock_matches_its_schema(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    def with_image(url: str) -> dict:
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is it?"},
            {"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": "A cat."}]}

    src = write(tmp_path / "in.jsonl", [qa(1), tool_example(), qa(2, metadata={"a": 1}),
                                        with_image("s3://bucket/cat.jpg"),
                                        with_image("https://example.com/cat.png")])
    result = export_file(src, "bedrock", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    for record in out:
        Draft202012Validator(BEDROCK_SCHEMA).validate(record)
    assert out[0] == {"schemaVersion": "bedrock-conversation-2024",
                      "system": [{"text": "You are terse."}],
                      "messages": [{"role": "user", "content": [{"text": "question 1"}]},
                                   {"role": "assistant", "content": [{"text": "answer 1"}]}]}
    assert out[2]["messages"][0]["content"] == [
        {"text": "What is it?"},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpg"}}}}]
    assert result.reasons == {"image-source-unsupported": 1, "tool-calls-unsupported": 1}
    assert result.dropped_keys == {"metadata": 1}


def test_vertex_matches_its_schema(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    gcs = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}}]},
        {"role": "assistant", "content": "A cat."}]}
    late_system = {"messages": [{"role": "user", "content": "q"}, SYSTEM,
                                {"role": "assistant", "content": "a"}]}
    src = write(tmp_path / "in.jsonl", [qa(1), gcs, late_system])
    result = export_file(src, "vertex", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    for record in out:
        Draft202012Validator(VERTEX_SCHEMA).validate(record)
    assert out[0]["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    assert [c["role"] for c in out[0]["contents"]] == ["user", "model"]
    assert out[1]["contents"][0]["parts"][1] == {
        "fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}}
    assert read_jsonl(tmp_path / "out.rejects.jsonl") == [{
        "line": 3, "reason": "system-not-opening", "path": "messages[1].role",
        "message": "vertex keeps one system prompt before the conversation"}]
    assert result.reconciled


# -- the installed command, end to end ---------------------------------------------------------


def test_installed_export_end_to_end(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), weight0_example(), tool_example()])
    out = tmp_path / "lf" / "train.jsonl"
    r = subprocess.run([FTPREP, "export", str(src), "--to", "llama-factory", "-o", str(out),
                        "--weight0", "drop-example", "--format", "json"],
                       capture_output=True, text=True, check=False,
                       env={**os.environ, "FTPREP_TARGETS_FILE": ""})
    assert r.returncode == 1, r.stderr  # one example rejected: a finding about the data
    summary = json.loads(r.stdout)
    assert (summary["read"], summary["written"], summary["rejected"]) == (3, 2, 1)
    assert summary["reconciled"] is True and summary["reasons"] == {"weight0-dropped": 1}
    assert summary["companions"] == [str(tmp_path / "lf" / "dataset_info.json")]
    assert len(read_jsonl(out)) == 2 and read_jsonl(Path(summary["rejects_path"]))[0]["line"] == 2
    bad = subprocess.run([FTPREP, "export", str(src), "--to", "nowhere", "-o", str(out)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown target" in bad.stderr


@pytest.mark.parametrize("target", ["openai", "azure", "together", "fireworks", "bedrock",
                                    "vertex", "trl", "axolotl", "llama-factory"])
def test_metadata_is_kept_where_accepted_and_reported_where_dropped(tmp_path: Path,
                                                                      target: str) -> None:
    from ftprep.targets import get_target

    src = write(tmp_path / "in.jsonl", [qa(1, metadata={"source": "crm", "id": 7})])
    result = export_file(src, target, tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")[0]
    if get_target(target).extra_keys:
        assert out["metadata"] == {"source": "crm", "id": 7} and result.dropped_keys == {}
    else:
        assert "metadata" not in out and result.dropped_keys == {"metadata": 1}
    assert result.written == 1


def test_cli_summary_text_json_and_rejects_path(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [qa(1), weight0_example()])
    runner = CliRunner()
    r = runner.invoke(main, ["export", str(src), "--to", "bedrock", "-o", str(tmp_path / "b.jsonl"),
                             "--weight0", "keep-as-context", "--rejects", str(tmp_path / "why.jsonl")])
    assert r.exit_code == 1, r.output  # one rejected, like convert
    assert "read 2, written 1, rejected 1" in r.output
    assert "rejected: weight0-not-expressible ×1" in r.output
    assert read_jsonl(tmp_path / "why.jsonl")[0]["path"] == "messages[1].weight"
    r = runner.invoke(main, ["export", str(src), "--to", "trl", "-o", str(tmp_path / "t.jsonl"),
                             "--weight0", "drop-example", "--format", "json"])
    summary = json.loads(r.output)
    assert list(summary) == ["input", "output", "target", "file_format", "record_format", "read",
                             "written", "rejected", "reconciled", "blank_lines", "bom_added",
                             "reasons", "changes", "dropped_keys", "rejects_path", "companions"]
    r = runner.invoke(main, ["export", str(write(tmp_path / "p.jsonl", [preference(1)])),
                             "--to", "vertex", "-o", str(tmp_path / "v.jsonl")])
    assert r.exit_code == 2 and "holds preference data; vertex accepts: chat" in r.output
    assert not (tmp_path / "v.jsonl").exists()


def test_lone_surrogates_are_rejected_as_every_command_does(tmp_path: Path) -> None:
    # One verdict (ftprep/io/jsonl.py): a lone surrogate is not text UTF-8 can carry; convert
    # rejects it, validate reports FT104, and export rejects the line with its reason.
    src = tmp_path / "in.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "a\\ud800b"}, '
                   '{"role": "assistant", "content": "ok"}], "\\udc00key": 1}\n')
    result = export_file(src, "together", tmp_path / "out.jsonl")
    assert (result.read, result.written, result.rejected) == (1, 0, 1)
    assert result.reasons == {"invalid-utf8": 1}
    reject = json.loads((tmp_path / "out.rejects.jsonl").read_text())
    assert reject["reason"] == "invalid-utf8"
    assert reject["message"].startswith("lone surrogate \\ud800 in a string")
