"""Tool use in `export --to vertex|bedrock`.

Vertex: OpenAI tool calls, results and definitions become the shapes of Vertex AI's "Tune
function calling" examples (the golden records below are those examples, with the OpenAI input
that means the same); what Vertex's function schema cannot take is rejected with a reason, and
`validate --target vertex` (FT814) flags the same examples. Bedrock: tool use stays refused,
with a reason that names the Nova page saying it is not supported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftprep import export_file
from ftprep.validate import validate_file
from tests.test_export import read_jsonl, write

FTPREP = str(Path(sys.executable).with_name("ftprep"))
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "chat_clean.jsonl"
SYSTEM_TEXT = "You are an assistant that helps users find the best product for them."
SKU_PARAMS = {"type": "object", "properties": {"product_name": {
    "type": "string", "description": "Product name",
    "enum": ["Pixel 8 Pro 128GB", "Pixel 8 Pro 256GB", "Pixel 8 Pro 512GB", "Pixel 8 Pro 1TB"]}}}
STORE_PARAMS = {"type": "object", "properties": {"location": {
    "type": "string", "description": "Location"}}}
SKU_DESCRIPTION = ("Get the available inventory for a Google products, e.g: Pixel phones, "
                   "Pixel Watches, Google Home etc")
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_product_sku", "description": SKU_DESCRIPTION,
                                      "parameters": SKU_PARAMS}},
    {"type": "function", "function": {"name": "get_store_location",
                                      "description": "Get the location of the closest store",
                                      "parameters": STORE_PARAMS}}]
# The documented `tools` (tune-function-calling): upper-case OpenAPI types.
VERTEX_TOOLS = [{"functionDeclarations": [
    {"name": "get_product_sku", "description": SKU_DESCRIPTION, "parameters": {
        "type": "OBJECT", "properties": {"product_name": {
            "type": "STRING", "description": "Product name", "enum": [
                "Pixel 8 Pro 128GB", "Pixel 8 Pro 256GB", "Pixel 8 Pro 512GB", "Pixel 8 Pro 1TB"]}}}},
    {"name": "get_store_location", "description": "Get the location of the closest store",
     "parameters": {"type": "OBJECT", "properties": {"location": {
         "type": "STRING", "description": "Location"}}}}]}]


def call(call_id: str, name: str, args: dict) -> dict:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def user(text: str) -> dict:
    return {"role": "user", "parts": [{"text": text}]}


def function_call(name: str, args: dict) -> dict:
    return {"functionCall": {"name": name, "args": args}}


SKU = {"product_name": "Pixel 8 Pro 128GB"}
STORE = {"location": "Mountain View, CA"}
DOCUMENTED = {  # example name: (OpenAI input messages, documented `contents`)
    "generate-text": (
        [{"role": "user", "content": "Do you have the White Pixel 8 Pro 128GB in stock in the US?"},
         {"role": "assistant", "content": None,
          "tool_calls": [call("call_1", "get_product_sku", SKU)]}],
        [user("Do you have the White Pixel 8 Pro 128GB in stock in the US?"),
         {"role": "model", "parts": [function_call("get_product_sku", SKU)]}]),
    "chat-session": (
        [{"role": "user", "content": "Do you have the Porcelain Pixel 8 Pro 128GB in stock in the US?"},
         {"role": "assistant", "tool_calls": [call("call_1", "get_product_sku", SKU)]},
         {"role": "tool", "tool_call_id": "call_1", "content": "True"},
         {"role": "assistant",
          "content": "Yes, we have the Porcelain Pixel 8 Pro 128GB in stock in the US."}],
        [user("Do you have the Porcelain Pixel 8 Pro 128GB in stock in the US?"),
         {"role": "model", "parts": [function_call("get_product_sku", SKU)]},
         {"parts": [{"functionResponse": {"name": "get_product_sku",
                                          "response": {"output": "True"}}}]},
         {"role": "model", "parts": [
             {"text": "Yes, we have the Porcelain Pixel 8 Pro 128GB in stock in the US."}]}]),
    "parallel": (
        [{"role": "user", "content": "Where is the closest Google Store to Mountain View, CA "
                                     "that has Pixel 8 Pro 128GB in stock?"},
         {"role": "assistant", "tool_calls": [call("a", "get_product_sku", SKU),
                                              call("b", "get_store_location", STORE)]}],
        [user("Where is the closest Google Store to Mountain View, CA that has Pixel 8 Pro "
              "128GB in stock?"),
         {"role": "model", "parts": [function_call("get_product_sku", SKU),
                                     function_call("get_store_location", STORE)]}]),
}


def with_tools(messages: list[dict], tools: list[dict] | None = None) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM_TEXT}, *messages],
            "tools": OPENAI_TOOLS if tools is None else tools}


# -- vertex: the documented shapes --------------------------------------------------------------


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_vertex_writes_the_documented_function_calling_example(tmp_path: Path, name: str) -> None:
    messages, contents = DOCUMENTED[name]
    src = write(tmp_path / "in.jsonl", [with_tools(messages)])
    result = export_file(src, "vertex", tmp_path / "out.jsonl")
    (out,) = read_jsonl(tmp_path / "out.jsonl")
    assert out == {"systemInstruction": {"role": "system", "parts": [{"text": SYSTEM_TEXT}]},
                   "contents": contents, "tools": VERTEX_TOOLS}
    assert (result.read, result.written, result.rejected) == (1, 1, 0)
    assert result.changes["tool-calls-as-function-calls"] == 1
    assert result.dropped_keys == {}  # ids are not dropped data: the name carries the link


def test_vertex_round_trip_of_the_sample_tool_conversation(tmp_path: Path) -> None:
    """Exported and read back into OpenAI messages, the sample's tool conversation is the
    same conversation: same turns, calls (by name, arguments as objects) and results."""
    records = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    tool_records = [r for r in records if r.get("tools")]
    assert tool_records, "sample_data/chat_clean.jsonl has a tool-calling example"
    src = write(tmp_path / "in.jsonl", tool_records)
    export_file(src, "vertex", tmp_path / "out.jsonl")
    for original, exported in zip(tool_records, read_jsonl(tmp_path / "out.jsonl"), strict=True):
        assert back_to_openai(exported) == comparable(original)
        declared = exported["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in declared] == [t["function"]["name"] for t in original["tools"]]


def back_to_openai(record: dict) -> list[dict]:
    """Vertex contents as OpenAI-like turns; results take their call's name (Vertex's link)."""
    turns = [{"role": "system", "content": record["systemInstruction"]["parts"][0]["text"]}]
    for content in record["contents"]:
        parts = content["parts"]
        if "role" not in content:
            turns += [{"role": "tool", "name": p["functionResponse"]["name"],
                       "content": p["functionResponse"]["response"]["output"]} for p in parts]
            continue
        role = {"user": "user", "model": "assistant"}[content["role"]]
        text = "".join(p["text"] for p in parts if "text" in p) or None
        calls = [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts
                 if "functionCall" in p]
        turns.append({"role": role, "content": text, **({"calls": calls} if calls else {})})
    return turns


def comparable(record: dict) -> list[dict]:
    names = {c["id"]: c["function"]["name"] for m in record["messages"]
             for c in m.get("tool_calls") or []}
    turns = []
    for m in record["messages"]:
        if m["role"] == "tool":
            turns.append({"role": "tool", "name": names[m["tool_call_id"]], "content": m["content"]})
            continue
        turn = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            turn["calls"] = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                             for c in m["tool_calls"]]
        turns.append(turn)
    return turns


def test_vertex_groups_the_results_of_parallel_calls_in_one_content(tmp_path: Path) -> None:
    messages = [*DOCUMENTED["parallel"][0],
                {"role": "tool", "tool_call_id": "b", "content": "1600 Amphitheatre Pkwy"},
                {"role": "tool", "tool_call_id": "a", "content": "True"},
                {"role": "assistant", "content": "Yes, at 1600 Amphitheatre Pkwy."}]
    src = write(tmp_path / "in.jsonl", [with_tools(messages)])
    export_file(src, "vertex", tmp_path / "out.jsonl")
    contents = read_jsonl(tmp_path / "out.jsonl")[0]["contents"]
    assert contents[2] == {"parts": [
        {"functionResponse": {"name": "get_store_location",
                              "response": {"output": "1600 Amphitheatre Pkwy"}}},
        {"functionResponse": {"name": "get_product_sku", "response": {"output": "True"}}}]}
    assert contents[3]["role"] == "model"


def test_vertex_schema_conversion_keeps_what_vertex_reads(tmp_path: Path) -> None:
    params = {"type": "object", "additionalProperties": False, "required": ["when"],
              "properties": {"when": {"type": ["string", "null"], "format": "date-time"},
                             "floor": {"type": "integer", "enum": [1, 2], "minimum": 1},
                             "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                             "any": {"anyOf": [{"type": "string"}, {"type": "number"}]}}}
    tools = [{"type": "function", "function": {"name": "book", "parameters": params,
                                               "strict": True}},
             {"type": "function", "function": {"name": "ping", "parameters": {
                 "type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": "Book floor 2"},
                {"role": "assistant", "content": "Booking.",
                 "tool_calls": [call("c", "book", {"floor": 2})]}]
    result = export_file(write(tmp_path / "in.jsonl", [with_tools(messages, tools)]), "vertex",
                         tmp_path / "out.jsonl")
    (out,) = read_jsonl(tmp_path / "out.jsonl")
    book, ping = out["tools"][0]["functionDeclarations"]
    assert book["parameters"] == {"type": "OBJECT", "required": ["when"], "properties": {
        "when": {"type": "STRING", "nullable": True, "format": "date-time"},
        "floor": {"type": "INTEGER", "enum": ["1", "2"], "minimum": 1},
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 3},
        "any": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}}}
    assert ping == {"name": "ping"}  # tool.proto: parameters unset for a function without any
    assert out["contents"][1]["parts"] == [{"text": "Booking."}, function_call("book", {"floor": 2})]
    assert result.dropped_keys == {"tools[].function.parameters.additionalProperties": 1,
                                   "tools[].function.strict": 1}
    for change in ("schema-null-as-nullable", "schema-enum-as-strings", "empty-parameters-omitted"):
        assert result.changes[change] == 1


REFUSED = [  # (what is wrong, the record, reason, path)
    ("$ref", with_tools(DOCUMENTED["generate-text"][0], [{"type": "function", "function": {
        "name": "get_product_sku", "parameters": {"type": "object", "properties": {
            "product_name": {"$ref": "#/$defs/Name"}}, "$defs": {"Name": {"type": "string"}}}}}]),
     "tool-schema-unsupported", "tools[0].function.parameters.properties.product_name['$ref']"),
    ("two types", with_tools(DOCUMENTED["generate-text"][0], [{"type": "function", "function": {
        "name": "get_product_sku", "parameters": {"type": "object", "properties": {
            "product_name": {"type": ["string", "integer"]}}}}}]),
     "tool-schema-unsupported", "tools[0].function.parameters.properties.product_name.type"),
    ("open object", with_tools(DOCUMENTED["generate-text"][0], [{"type": "function", "function": {
        "name": "get_product_sku", "parameters": {"type": "object",
                                                  "additionalProperties": {"type": "string"}}}}]),
     "tool-schema-unsupported", "tools[0].function.parameters.additionalProperties"),
    ("function name", with_tools([{"role": "user", "content": "hi"}], [{"type": "function",
                                                                      "function": {"name": "get sku"}}]),
     "tool-name-unsupported", "tools[0].function.name"),
    ("parameter name", with_tools([{"role": "user", "content": "hi"}], [{"type": "function",
     "function": {"name": "f", "parameters": {"type": "object", "properties": {"a-b": {}}}}}]),
     "tool-name-unsupported", "tools[0].function.parameters.properties['a-b']"),
    ("129 functions", with_tools([{"role": "user", "content": "hi"}], [
        {"type": "function", "function": {"name": f"f{i}"}} for i in range(129)]),
     "too-many-tools", "tools"),
    ("array arguments", with_tools([{"role": "user", "content": "hi"}, {
        "role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {
            "name": "get_product_sku", "arguments": "[1]"}}]}]),
     "tool-arguments-not-object", "messages[2].tool_calls[0].function.arguments"),
    ("unlinked result", with_tools([*DOCUMENTED["chat-session"][0][:2],
                                    {"role": "tool", "tool_call_id": "nope", "content": "True"}]),
     "tool-result-unlinked", "messages[3].tool_call_id"),
    ("legacy function_call", with_tools([{"role": "user", "content": "hi"}, {
        "role": "assistant", "function_call": {"name": "get_product_sku", "arguments": "{}"}}]),
     "legacy-function-call", "messages[2].function_call"),
]


def test_vertex_rejects_what_its_function_schema_cannot_hold_and_counts_reconcile(
        tmp_path: Path) -> None:
    good = with_tools(DOCUMENTED["chat-session"][0])
    src = write(tmp_path / "in.jsonl", [good] + [r[1] for r in REFUSED] + [good])
    result = export_file(src, "vertex", tmp_path / "out.jsonl")
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"], r["path"]) for r in rejects] == [
        (i, reason, path) for i, (_, _, reason, path) in enumerate(REFUSED, start=2)]
    assert all(r["message"] for r in rejects)
    written = read_jsonl(tmp_path / "out.jsonl")
    lines = len(src.read_text(encoding="utf-8").splitlines())
    assert (result.read, result.written, result.rejected) == (lines, 2, len(REFUSED))
    assert len(written) + len(rejects) == lines and result.reconciled


def test_validate_target_vertex_flags_the_examples_export_rejects(tmp_path: Path) -> None:
    """FT814 (schema, names, count), FT403 (arguments) and the OpenAI rules (unlinked results,
    deprecated function_call) flag each refused example; the documented ones pass clean."""
    good = [with_tools(messages) for messages, _ in DOCUMENTED.values()]
    src = write(tmp_path / "in.jsonl", good + [r[1] for r in REFUSED])
    report = validate_file(src, target="vertex", ignore=["FT808"])
    flagged = {f.line for f in report.findings if f.severity.value == "error"}
    assert flagged == set(range(len(good) + 1, len(good) + len(REFUSED) + 1))
    ft814 = {(f.line, f.path) for f in report.findings if f.code == "FT814"}
    schema_cases = [(i, path) for i, (_, _, reason, path) in enumerate(REFUSED, start=len(good) + 1)
                    if reason in ("tool-schema-unsupported", "tool-name-unsupported", "too-many-tools")]
    assert ft814 == set(schema_cases)


# -- bedrock: refused, with the documented reason ------------------------------------------------


def test_bedrock_refuses_tool_use_citing_the_nova_page(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [with_tools(m) for m, _ in DOCUMENTED.values()])
    result = export_file(src, "bedrock", tmp_path / "out.jsonl")
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert result.reasons == {"tool-calls-unsupported": 3} and result.written == 0
    assert rejects[0]["path"] == "messages[2].tool_calls"
    assert "tool usage is not currently supported" in rejects[0]["message"]
    assert "https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html" in \
        rejects[0]["message"]
    report = validate_file(src, target="bedrock", ignore=["FT808"])
    assert {f.code for f in report.findings} >= {"FT803", "FT804"}  # tool role, tool keys


# -- the installed command ----------------------------------------------------------------------


def test_installed_export_to_vertex_maps_the_sample_tool_call(tmp_path: Path) -> None:
    out = tmp_path / "vertex.jsonl"
    r = subprocess.run([FTPREP, "export", str(SAMPLE), "--to", "vertex", "-o", str(out),
                        "--weight0", "drop-example", "--format", "json"],
                       capture_output=True, text=True, check=False,
                       env={**os.environ, "FTPREP_TARGETS_FILE": ""})
    assert r.returncode == 1, r.stderr  # the sample's weight-0 example is a finding
    summary = json.loads(r.stdout)
    lines = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    written, rejects = read_jsonl(out), read_jsonl(Path(summary["rejects_path"]))
    assert (summary["read"], summary["written"], summary["rejected"]) == \
        (lines, len(written), len(rejects)) and summary["reconciled"] is True
    assert summary["reasons"] == {"weight0-dropped": 1}
    assert summary["changes"]["tool-results-as-function-responses"] == 1
    tool_rows = [row for row in written if "tools" in row]
    assert len(tool_rows) == 1
    assert tool_rows[0]["contents"][1]["parts"] == [
        function_call("get_balance", {"account": "savings"})]
