"""What each API object must look like before ftprep uses it.

The SDK builds its objects without validating them, so a broken or hostile server (an HTML
page with status 200, `[1, 2]` where a file was due, a job without an id, an event whose step
is a string) would otherwise surface later as an AttributeError or TypeError deep in ftprep.
`check` names the endpoint and the first thing that is wrong, as a PlatformError (exit 2).
Only the fields ftprep reads are checked, so servers that add or omit others still work.
"""
from __future__ import annotations

import json
from typing import Any

from ftprep.errors import PlatformError
from ftprep.formats import json_type
from ftprep.plain import to_plain

_OPTIONAL = type(None)

# kind → {field: accepted types}; `None` in a tuple means the field may be null or absent.
SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "file": {"id": (str,), "filename": (str,), "bytes": (int, _OPTIONAL),
             "status": (str, _OPTIONAL), "purpose": (str, _OPTIONAL)},
    "upload": {"id": (str,), "status": (str,)},
    "upload part": {"id": (str,)},
    "job": {"id": (str,), "status": (str,), "model": (str, _OPTIONAL),
            "fine_tuned_model": (str, _OPTIONAL), "result_files": (list, _OPTIONAL),
            "metadata": (dict, _OPTIONAL), "training_file": (str, _OPTIONAL),
            "error": (dict, _OPTIONAL)},
    "event": {"id": (str,), "created_at": (int,), "level": (str, _OPTIONAL),
              "message": (str,), "data": (dict, _OPTIONAL)},
    "checkpoint": {"step_number": (int,), "fine_tuned_model_checkpoint": (str,),
                   "metrics": (dict, _OPTIONAL)},
    "model": {"id": (str,), "owned_by": (str, _OPTIONAL)},
    "deleted": {"id": (str,)},
}
_PREVIEW = 60


def check(obj: Any, kind: str, endpoint: str) -> Any:
    """`obj` if it is a `kind` object with the fields ftprep reads, else PlatformError."""
    if isinstance(obj, str):
        raise broken(endpoint, f"the response is not JSON but text: {_preview(obj)}")
    fields = getattr(obj, "__dict__", None) if hasattr(obj, "model_fields_set") else None
    if fields is None:
        raise broken(endpoint, f"expected a {kind} object, got {_describe(obj)}")
    for name, accepted in SHAPES[kind].items():
        value = fields.get(name)
        if not _is(value, accepted):
            where = f" {value_id(obj)}" if name != "id" else ""
            raise broken(endpoint, f"the {kind}{where} has {name} {_describe(value)}, "
                                   f"expected {_expected(accepted)}")
    if kind == "event":
        _check_metrics(obj, endpoint)
    return obj


def check_page(page: Any, kind: str, endpoint: str) -> Any:
    """A list page whose `data` is a list of `kind` objects."""
    if isinstance(page, str):
        raise broken(endpoint, f"the response is not JSON but text: {_preview(page)}")
    data = getattr(page, "data", None)
    if not isinstance(data, list):
        raise broken(endpoint, f"expected a list with data [...], got data {_describe(data)}")
    for item in data:
        check(item, kind, endpoint)
    return page


def as_dict(obj: Any) -> Any:
    """An SDK object as plain data, exactly as the server sent it: no serializer warnings on
    stderr for fields ftprep does not read and the server typed differently."""
    if hasattr(obj, "model_fields_set"):
        return obj.to_dict(warnings=False)
    return to_plain(obj)


def broken(endpoint: str, problem: str) -> PlatformError:
    return PlatformError(f"{endpoint}: {problem} (a broken server or proxy answered)")


def value_id(obj: Any) -> str:
    return str(getattr(obj, "id", "") or "")


def _check_metrics(event: Any, endpoint: str) -> None:
    """A metrics event's step counts (an int); its other data is shown as given."""
    data = event.data or {}
    for name in ("step", "total_steps"):
        if name in data and not (data[name] is None and name == "total_steps") \
                and not _is(data[name], (int,)):
            raise broken(endpoint, f"event {value_id(event)} has {name} "
                                   f"{_describe(data[name])}, expected an integer")


def _is(value: Any, accepted: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int to Python, never to an API
        return bool in accepted
    if value is None:
        return _OPTIONAL in accepted
    if isinstance(value, dict) or hasattr(value, "model_fields_set"):
        return dict in accepted
    return isinstance(value, accepted)


def _expected(accepted: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
    wanted = " or ".join(names[t] for t in accepted if t is not _OPTIONAL)
    return f"{wanted} or null" if _OPTIONAL in accepted else wanted


def _describe(value: Any) -> str:
    if value is None:
        return "null (or missing)"
    if hasattr(value, "model_fields_set"):
        return "an object"
    if isinstance(value, str):
        return f"the string {_preview(value)}"
    if isinstance(value, (bool, int, float, list, dict)):
        text = json.dumps(value, default=str)
        return f"{json_type(value)} {text if len(text) <= _PREVIEW else text[:_PREVIEW] + '…'}"
    return type(value).__name__


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _PREVIEW else text[:_PREVIEW] + "…")
