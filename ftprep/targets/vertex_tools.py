"""Tool use in Vertex AI (Gemini) tuning data, as its documentation shows it.

Tool definitions become `tools: [{functionDeclarations: [...]}]` whose `parameters` are
Vertex's `Schema`, a subset of OpenAPI 3.0 (upper-case types, `nullable` instead of a "null"
type, no `$ref`, `oneOf`, `const`...). A call becomes a `functionCall` part with `args` as a
JSON object. What Vertex cannot take raises `Refuse` (stable reason, path, message), so that
`export --to vertex` and `validate --target vertex` (FT814) judge a tool the same way.

Sources: the tuning page's function-calling examples and the API's `tool.proto` and
`openapi.proto` (see `vertex-function-calling` and `vertex-tool-proto` in targets.toml).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ftprep.findings import child_path
from ftprep.targets.base import Refuse, parsed_arguments

MAX_DECLARATIONS = 128  # per Tool (tool.proto: function_declarations)
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN",
         "array": "ARRAY", "object": "OBJECT"}
# Schema fields (openapi.proto, v1) under their JSON names that carry over unchanged.
_KEPT = ("format", "title", "description", "nullable", "default", "example", "minItems",
         "maxItems", "minProperties", "maxProperties", "minimum", "maximum", "minLength",
         "maxLength", "pattern", "required", "propertyOrdering")
_NESTED = ("type", "enum", "items", "properties", "anyOf", "additionalProperties")


@dataclass
class ToolNotes:
    """What a conversion changed without refusing: key paths dropped, kinds of change."""

    dropped: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


def function_declarations(tools: Any, notes: ToolNotes, path: str = "tools") -> list[dict]:
    """OpenAI `tools` (function tools only) as Vertex function declarations."""
    if not isinstance(tools, list):
        raise Refuse("malformed-record", path, "`tools` is not a list (run `ftprep validate`)")
    declarations = []
    for i, tool in enumerate(tools):
        where = f"{path}[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            raise Refuse("malformed-record", where, "a tool is not an object with `function`")
        if tool.get("type", "function") != "function":
            raise Refuse("tool-type-unsupported", f"{where}.type",
                         "vertex declares function tools only")
        notes.dropped += [f"tools[].{k}" for k in tool if k not in ("type", "function")]
        declarations.append(_declaration(tool["function"], f"{where}.function", notes))
    if len(declarations) > MAX_DECLARATIONS:
        raise Refuse("too-many-tools", path, f"{len(declarations)} functions; vertex takes at "
                     f"most {MAX_DECLARATIONS} function declarations")
    return declarations


def _declaration(function: dict, path: str, notes: ToolNotes) -> dict:
    name = function_name(function.get("name"), f"{path}.name")
    out: dict[str, Any] = {"name": name}
    description = function.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise Refuse("malformed-record", f"{path}.description", "the description is not text")
        out["description"] = description
    parameters = function.get("parameters")
    if parameters is not None:
        schema = vertex_schema(parameters, f"{path}.parameters", notes)
        _check_parameter_names(schema, f"{path}.parameters.properties")
        if _no_parameters(schema):  # tool.proto: "for function with no parameters, ... unset"
            notes.changed.add("empty-parameters-omitted")
        else:
            out["parameters"] = schema
    notes.dropped += [f"tools[].function.{k}" for k in function
                      if k not in ("name", "description", "parameters")]
    return out


def function_name(name: Any, path: str) -> str:
    if not isinstance(name, str):
        raise Refuse("malformed-record", path, "the function name is not text")
    if not FUNCTION_NAME.fullmatch(name):
        raise Refuse("tool-name-unsupported", path, "vertex function names start with a letter "
                     "or _ and hold only letters, digits, _ . - (at most 64)")
    return name


def _check_parameter_names(schema: dict, path: str) -> None:
    for key in schema.get("properties", {}):
        if not PARAMETER_NAME.fullmatch(key):
            raise Refuse("tool-name-unsupported", child_path(path, key), "vertex parameter names start "
                         "with a letter or _ and hold only letters, digits and _ (at most 64)")


def _no_parameters(schema: dict) -> bool:
    return set(schema) <= {"type", "properties"} and schema.get("type") == "OBJECT" and not \
        schema.get("properties")


def vertex_schema(schema: Any, path: str, notes: ToolNotes) -> dict:
    """A JSON Schema as Vertex's `Schema`; keywords outside that subset are refused, except
    `additionalProperties: false` (no equivalent; dropped and reported)."""
    if not isinstance(schema, dict):
        raise Refuse("tool-schema-unsupported", path, "a schema is not an object")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        where = child_path(path, key)
        if key in _KEPT:
            out[key] = value
        elif key in _NESTED:
            _NESTED_CONVERTERS[key](value, where, notes, out)
        else:
            raise Refuse("tool-schema-unsupported", where, f"vertex function schemas have no "
                         f"`{key}` (they are a subset of OpenAPI 3.0)")
    return out


def _type(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    names = value if isinstance(value, list) else [value]
    real = [n for n in names if n != "null"]
    if len(real) != 1 or not isinstance(real[0], str) or real[0].lower() not in TYPES:
        raise Refuse("tool-schema-unsupported", path, f"type {json.dumps(value)}: vertex takes "
                     "one of string, number, integer, boolean, array, object (or it and null)")
    out["type"] = TYPES[real[0].lower()]
    if len(real) != len(names):
        out["nullable"] = True
        notes.changed.add("schema-null-as-nullable")


def _enum(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    if not isinstance(value, list):
        raise Refuse("tool-schema-unsupported", path, "enum is not a list")
    items = []
    for v in value:
        if isinstance(v, str):
            items.append(v)
        elif type(v) in (int, float):  # openapi.proto: integer enums as strings ("101")
            items.append(json.dumps(v))
            notes.changed.add("schema-enum-as-strings")
        else:
            raise Refuse("tool-schema-unsupported", path, f"enum value {json.dumps(v)}: vertex "
                         "enums hold strings (or numbers written as strings)")
    out["enum"] = items


def _items(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    out["items"] = vertex_schema(value, path, notes)


def _properties(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    if not isinstance(value, dict):
        raise Refuse("tool-schema-unsupported", path, "properties is not an object")
    out["properties"] = {k: vertex_schema(v, child_path(path, k), notes) for k, v in value.items()}


def _any_of(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    if not isinstance(value, list):
        raise Refuse("tool-schema-unsupported", path, "anyOf is not a list")
    out["anyOf"] = [vertex_schema(v, f"{path}[{i}]", notes) for i, v in enumerate(value)]


def _additional(value: Any, path: str, notes: ToolNotes, out: dict) -> None:
    if value is not False:
        raise Refuse("tool-schema-unsupported", path, "vertex function schemas have no "
                     "additionalProperties (only `false` can be dropped)")
    notes.dropped.append("tools[].function.parameters.additionalProperties")  # at any depth


_NESTED_CONVERTERS: dict[str, Callable[[Any, str, ToolNotes, dict], None]] = {
    "type": _type, "enum": _enum, "items": _items, "properties": _properties,
    "anyOf": _any_of, "additionalProperties": _additional}


def function_call(call: Any, path: str) -> dict:
    """One OpenAI tool call as a `functionCall` part: name, and arguments as a JSON object."""
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise Refuse("malformed-record", path, "a tool call is not an object with `function`")
    if call.get("type", "function") != "function":
        raise Refuse("tool-type-unsupported", f"{path}.type", "vertex calls function tools only")
    function = call["function"]
    name = function_name(function.get("name"), f"{path}.function.name")
    args = parsed_arguments(function.get("arguments"), f"{path}.function.arguments")
    if not isinstance(args, dict):
        raise Refuse("tool-arguments-not-object", f"{path}.function.arguments",
                     "vertex takes a call's arguments only as a JSON object (functionCall.args)")
    return {"functionCall": {"name": name, "args": args}}
