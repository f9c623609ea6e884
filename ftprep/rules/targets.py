"""FT8xx: what a target other than OpenAI refuses (`validate --target NAME`).

Each rule reads its limit from the target's facts (`ftprep/data/targets.toml`); a target turns
on the rules it lists in `rules` and turns off the OpenAI rules whose limits it does not share
(`replaces`). Record checks run on every record; the file-level ones (format, example count,
file size, encoding) are computed by the engine from `file_hits` and `count_hits`.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftprep.findings import Facts, Severity, child_path
from ftprep.formats import CHAT, PREFERENCE, json_text
from ftprep.rules.base import Context, Hit, iter_messages, message_lists, record_check, role_of, rule
from ftprep.targets.base import Refuse
from ftprep.targets.vertex_tools import ToolNotes, function_call, function_declarations

E, W = Severity.ERROR, Severity.WARNING

FORMAT_UNSUPPORTED = rule(
    "FT801", "target-format-unsupported", E, "The target does not accept this record format "
    "(e.g. preference data for a supervised-only target).",
    why="A platform that trains only on conversations refuses preference or completion files "
    "at upload; an export to its shape has nothing to map them to.",
    fix="Pick a target that accepts the format (`ftprep targets`), or convert the data.",
)
NOT_ALTERNATING = rule(
    "FT802", "target-not-alternating", E, "User and assistant turns do not strictly alternate "
    "(after an optional opening system message).",
    why="Some platforms (Together, Bedrock/Nova) require user, assistant, user, assistant...; "
    "two user turns in a row, or a conversation that starts with the assistant, is refused.",
    fix="Merge consecutive turns of the same role, or split the conversation.",
)
ROLE_UNSUPPORTED = rule(
    "FT803", "target-role-unsupported", E, "A message has a role the target does not accept "
    "(e.g. `tool` or `developer`).",
    why="Targets that train on plain conversations only know system, user and assistant; "
    "other roles are refused at upload or cannot be exported.",
    fix="Map the role (`developer` → `system`), drop tool turns, or pick a target with tool "
    "support.",
)
KEY_REFUSED = rule(
    "FT804", "target-key-refused", E, "The record or a message has a key the target does not "
    "accept.",
    why="Strict targets refuse keys beyond their format (Together: anything but the format's "
    "keys); keys such as `metadata`, `name` or `tool_calls` make the upload fail.",
    fix="`ftprep export --to TARGET` strips the keys and reports them; or remove them.",
)
WEIGHT_VALUE = rule(
    "FT805", "target-weight-value", E, "`weight` is not the integer 0 or 1 the target requires.",
    why="Together reads weight as an integer; 1.0 or true is refused although OpenAI takes it.",
    fix="Write 0 or 1 (integers).",
)
TOO_MANY_IMAGES = rule(
    "FT806", "target-too-many-images", E, "An example has more images than the target accepts.",
    why="Each platform caps images per training example (Azure: 64, OpenAI: 10).",
    fix="Split the conversation into several examples, or drop some images.",
)
IMAGE_SOURCE = rule(
    "FT807", "target-image-source", E, "An image comes from a place the target cannot read "
    "(e.g. a URL where only base64 data is accepted).",
    why="Fireworks takes images only as base64 data URIs, Vertex only as Cloud Storage files; "
    "other references fail at training time.",
    fix="Inline the image as `data:image/...;base64,...` (or upload it where the target reads).",
)
TOO_FEW_EXAMPLES = rule(
    "FT808", "target-too-few-examples", E, "The file has fewer examples than the target's "
    "minimum.",
    why="Platforms refuse training files below their minimum example count.",
    fix="Add examples.",
)
TOO_MANY_EXAMPLES = rule(
    "FT809", "target-too-many-examples", E, "The file has more examples than the target accepts.",
    why="Platforms cap the examples per dataset (Fireworks: 3,000,000).",
    fix="Sample or split the data into several datasets.",
)
FILE_TOO_LARGE = rule(
    "FT810", "target-file-too-large", E, "The file is larger than the target accepts.",
    why="Uploads over the target's file size limit are refused.",
    fix="Split the file, or drop long examples.",
)
MISSING_BOM = rule(
    "FT811", "target-missing-bom", W, "The file has no UTF-8 byte-order mark, which the target "
    "requires.",
    why="Azure OpenAI expects training files in UTF-8 with a BOM.",
    fix="`ftprep export FILE --to azure -o OUT` writes the same bytes with the BOM in front.",
)
SYSTEM_NOT_OPENING = rule(
    "FT812", "target-system-not-opening", E, "A system message is not the opening message "
    "(or there is more than one).",
    why="Bedrock and Vertex keep one system prompt beside the conversation (`system`, "
    "`systemInstruction`); a system message inside it cannot be expressed.",
    fix="Move the instructions into the opening system message.",
)
WEIGHT_UNSUPPORTED = rule(
    "FT813", "target-weight-unsupported", W, "An assistant message has weight 0, which the "
    "target cannot express.",
    why="The target trains on every assistant turn (or has no per-message weight); the turn "
    "would either be trained on or must be dropped.",
    fix="Export with `--weight0 drop-example` or `--weight0 keep-as-context`, or remove the turn.",
)

TOOL_UNSUPPORTED = rule(
    "FT814", "target-tool-unsupported", E, "A tool definition or call cannot be expressed in "
    "the target's function-calling format (Vertex AI: function declarations).",
    why="Vertex AI declares functions with a subset of OpenAPI 3.0 (no `$ref`, `oneOf`, "
    "`allOf`, `const`; one type, or one type and null), at most 128 of them, with names of at "
    "most 64 letters, digits and _ . -; other declarations fail the tuning job.",
    fix="Inline `$ref`s, write `oneOf` as `anyOf`, rename the function; `ftprep export --to "
    "vertex` rejects such examples with the same reason.",
)

TARGET_CODES = tuple(r.code for r in (
    FORMAT_UNSUPPORTED, NOT_ALTERNATING, ROLE_UNSUPPORTED, KEY_REFUSED, WEIGHT_VALUE,
    TOO_MANY_IMAGES, IMAGE_SOURCE, TOO_FEW_EXAMPLES, TOO_MANY_EXAMPLES, FILE_TOO_LARGE,
    MISSING_BOM, SYSTEM_NOT_OPENING, WEIGHT_UNSUPPORTED, TOOL_UNSUPPORTED))
_CONVERSATION_ROLES = ("user", "assistant")


def enabled_codes(codes: set[str], target: Any) -> set[str]:
    """Of the selected codes, the ones that apply to `target`: its own FT8xx rules and every
    other rule except those it replaces."""
    if target is None:
        return {c for c in codes if c not in TARGET_CODES}
    own = set(target.rules)
    return {c for c in codes if (c in own if c in TARGET_CODES else c not in target.replaces)}


# -- file level (called by the engine) -----------------------------------------------------------


def file_hits(target: Any, fmt: str, size: int | None, has_bom: bool | None) -> Iterator[Hit]:
    if fmt in (CHAT, PREFERENCE, "completion") and fmt not in target.formats:
        yield Hit(FORMAT_UNSUPPORTED.code, "", f"{target.name} does not accept {fmt} data "
                  f"(it accepts: {', '.join(target.formats)})", 0)
    if size is not None and target.max_file_bytes is not None and size > target.max_file_bytes:
        yield Hit(FILE_TOO_LARGE.code, "", f"file is {_mb(size)}; {target.name} accepts at most "
                  f"{_mb(target.max_file_bytes)}", 0, Facts(file_bytes=size, limit=target.max_file_bytes))
    if target.needs_bom and has_bom is False:
        yield Hit(MISSING_BOM.code, "", f"{target.name} requires UTF-8 with a byte-order mark", 0)


def count_hits(target: Any, examples: int) -> Iterator[Hit]:
    if target.min_examples is not None and examples < target.min_examples:
        yield Hit(TOO_FEW_EXAMPLES.code, "", f"{examples} examples; {target.name} needs at least "
                  f"{target.min_examples:,}", 0, Facts(count=examples, limit=target.min_examples))
    if target.max_examples is not None and examples > target.max_examples:
        yield Hit(TOO_MANY_EXAMPLES.code, "", f"{examples:,} examples; {target.name} accepts at "
                  f"most {target.max_examples:,}", 0, Facts(count=examples, limit=target.max_examples))


def _mb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.0f} MB"


# -- record level --------------------------------------------------------------------------------


def _conversation(record: dict, fmt: str) -> tuple[str, list]:
    """The list of turns the target sees: `messages`, or a preference example's input."""
    lists = dict(message_lists(record, fmt))
    path = "input.messages" if fmt == PREFERENCE else "messages"
    return path, lists.get(path, [])


@record_check(CHAT, PREFERENCE)
def not_alternating(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.target is None or not ctx.target.alternation:
        return
    path, messages = _conversation(record, ctx.format)
    expected = "user"
    for i, message in enumerate(messages):
        role = role_of(message)
        if role not in _CONVERSATION_ROLES:
            continue  # system: FT812/FT305; other roles: FT803
        if role != expected:
            yield Hit(NOT_ALTERNATING.code, f"{path}[{i}].role",
                      f"{role} message where {ctx.target.name} expects {_a(expected)} turn; "
                      "turns must alternate user/assistant, starting with user")
            return
        expected = "assistant" if role == "user" else "user"
    if ctx.format == PREFERENCE and expected != "assistant" and messages:
        yield Hit(NOT_ALTERNATING.code, f"{path}[{len(messages) - 1}].role",
                  "the input must end with a user turn for the outputs to answer")


@record_check(CHAT, PREFERENCE)
def role_unsupported(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.target is None or not ctx.target.roles:
        return
    for path, message in iter_messages(record, ctx.format):
        role = role_of(message)
        if role is not None and role not in ctx.target.roles:
            yield Hit(ROLE_UNSUPPORTED.code, f"{path}.role", f"{ctx.target.name} does not accept "
                      f"{role} messages (roles: {', '.join(ctx.target.roles)})")


@record_check()
def key_refused(record: dict, ctx: Context) -> Iterator[Hit]:
    target = ctx.target
    if target is None or target.extra_keys or ctx.format not in target.formats:
        return  # a format the target does not take at all is one finding: FT801
    if target.record_keys:
        for key in record:
            if key not in target.record_keys:
                yield Hit(KEY_REFUSED.code, child_path("", key),
                          f"{target.name} does not accept the key `{key}`")
    if target.message_keys:
        for path, message in iter_messages(record, ctx.format):
            for key in message:
                if key not in target.message_keys:
                    yield Hit(KEY_REFUSED.code, child_path(path, key),
                              f"{target.name} does not accept `{key}` in a message")


@record_check(CHAT, PREFERENCE)
def weight_value(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.target is None or ctx.target.weights != "int01":
        return
    for path, message in iter_messages(record, ctx.format):
        weight = message.get("weight")
        if "weight" in message and not (type(weight) is int and weight in (0, 1)):
            yield Hit(WEIGHT_VALUE.code, f"{path}.weight",
                      f"weight {json_text(weight)}; {ctx.target.name} needs the integer 0 or 1")


def _images(record: dict, fmt: str) -> Iterator[tuple[str, Any]]:
    for path, message in iter_messages(record, fmt):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                yield f"{path}.content[{j}]", image.get("url") if isinstance(image, dict) else None


@record_check(CHAT, PREFERENCE, plain_silent=True)
def too_many_images(record: dict, ctx: Context) -> Iterator[Hit]:
    limit = None if ctx.target is None else ctx.target.max_images
    if limit is None:
        return
    images = [path for path, _ in _images(record, ctx.format)]
    if len(images) > limit:
        yield Hit(TOO_MANY_IMAGES.code, images[limit], f"{len(images)} images in one example; "
                  f"{ctx.target.name} accepts at most {limit}", facts=Facts(count=len(images), limit=limit))


def image_source(url: Any) -> str | None:
    """Where an image URL points: base64 (data: URI), gcs (gs://), s3 (s3://), url (http/https)."""
    if not isinstance(url, str):
        return None
    if url.startswith("data:"):
        return "base64"
    if url.startswith("gs://"):
        return "gcs"
    if url.startswith("s3://"):
        return "s3"
    return "url" if url.startswith(("http://", "https://")) else None


@record_check(CHAT, PREFERENCE, plain_silent=True)
def image_source_refused(record: dict, ctx: Context) -> Iterator[Hit]:
    allowed = () if ctx.target is None else ctx.target.image_sources
    if not allowed:
        return
    for path, url in _images(record, ctx.format):
        source = image_source(url)
        if source is not None and source not in allowed:
            yield Hit(IMAGE_SOURCE.code, f"{path}.image_url.url", f"a {source} image; "
                      f"{ctx.target.name} reads images only as: {', '.join(allowed)}")


@record_check(CHAT)
def system_not_opening(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.target is None or not ctx.target.system_first_only:
        return
    for path, message in iter_messages(record, ctx.format):
        if role_of(message) in ("system", "developer") and path != "messages[0]":
            yield Hit(SYSTEM_NOT_OPENING.code, f"{path}.role", f"{ctx.target.name} keeps one "
                      "system prompt before the conversation; this one is inside it")


@record_check(CHAT, PREFERENCE)
def weight_unsupported(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.target is None or ctx.target.weights != "none":
        return
    for path, message in iter_messages(record, ctx.format):
        if role_of(message) == "assistant" and _is_zero(message.get("weight")):
            yield Hit(WEIGHT_UNSUPPORTED.code, f"{path}.weight",
                      f"{ctx.target.name} cannot express a weight-0 turn")


@record_check(CHAT, plain_silent=True)
def tool_unsupported(record: dict, ctx: Context) -> Iterator[Hit]:
    """The export's own judgement (targets.vertex_tools), so validate and export agree; what
    other rules already report (malformed tools: FT2xx, arguments: FT403) is left to them."""
    if ctx.target is None:
        return
    checks: list[tuple[Any, ...]] = []
    if isinstance(record.get("tools"), list):
        checks.append((function_declarations, record["tools"], ToolNotes()))
    for path, message in iter_messages(record, ctx.format):
        calls = message.get("tool_calls")
        for j, call in enumerate(calls if isinstance(calls, list) else []):
            checks.append((function_call, call, f"{path}.tool_calls[{j}]"))
    for check, *args in checks:
        try:
            check(*args)
        except Refuse as r:
            if r.reason not in _REPORTED_ELSEWHERE:
                yield Hit(TOOL_UNSUPPORTED.code, r.path, f"{ctx.target.name}: {r.message}")


_REPORTED_ELSEWHERE = ("malformed-record", "tool-arguments-not-json", "tool-arguments-not-object")


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeio' else 'a'} {word}"  # a user, an assistant


def _is_zero(weight: Any) -> bool:
    return type(weight) in (int, float) and weight == 0
