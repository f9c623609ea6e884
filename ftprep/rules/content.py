"""FT5xx: what messages say. The schema checks content's type (FT204); these rules check
that it is there, that it holds nothing the platform refuses, and where images may go."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ftprep.findings import Facts, Severity
from ftprep.formats import CHAT, COMPLETION, PREFERENCE
from ftprep.rules.base import Context, Hit, iter_messages, record_check, role_of, rule
from ftprep.rules.roles import ROLES

E, W = Severity.ERROR, Severity.WARNING

MAX_IMAGES = 10  # the platform's limit per example

EMPTY_CONTENT = rule(
    "FT501", "empty-content", E, "A message (or a prompt/completion) has empty or "
    "whitespace-only content.",
    why="Empty messages are rejected by the platform, and an empty reply would teach the "
    "model to say nothing. Only an assistant message that makes tool calls may have no content.",
    fix="Fill in the text or drop the message (check the converter's column mapping).",
)
SPECIAL_TOKEN = rule(
    "FT502", "special-token", E, "Content contains a special token such as <|endoftext|>.",
    why="Special tokens control the model (end of text, chat framing); the platform rejects "
    "training text that contains them.",
    fix="Remove the token, or break it up (e.g. `<| endoftext |>`) if the text is about tokens.",
)
IMAGE_OUTSIDE_USER = rule(
    "FT503", "image-outside-user", E, "An image part is in a message that is not from the user.",
    why="Fine-tuning accepts images only as user input; images in system or assistant "
    "messages are rejected.",
    fix="Move the image to a user message.",
)
TOO_MANY_IMAGES = rule(
    "FT504", "too-many-images", E, f"An example has more than {MAX_IMAGES} images.",
    why=f"The platform accepts at most {MAX_IMAGES} images per training example.",
    fix="Split the conversation into several examples, or drop some images.",
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftext|>", "<|fim_prefix|>", "<|fim_middle|>",
                  "<|fim_suffix|>", "<|endofprompt|>", "<|im_start|>", "<|im_end|>", "<|im_sep|>")
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))
_IMAGE = "image_url"
_TEXT_PARTS = ("text", "refusal")  # part types whose text sits under the key named like the type
_MESSAGE_KEYS = frozenset(("role", "content", "name", "weight", "tool_calls", "tool_call_id",
                           "function_call", "refusal"))


def special_tokens_in(text: str) -> list[str]:
    """The distinct special tokens in a text, in order of first appearance."""
    if "<|" not in text:  # the common case, without running the regex
        return []
    return list(dict.fromkeys(_SPECIAL_RE.findall(text)))


def _parts(content: Any) -> Iterator[tuple[int, dict]]:
    if isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, dict):
                yield j, part


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    for _, part in _parts(content):
        text = _part_text(part)
        if text is not None:
            yield text


def _part_text(part: dict) -> str | None:
    """The text a text or refusal part carries; None for other parts or a malformed one."""
    kind = part.get("type")
    value = part.get(kind) if kind in _TEXT_PARTS else None
    return value if isinstance(value, str) else None


def _well_formed_part(part: Any) -> bool:
    return isinstance(part, dict) and (part.get("type") == _IMAGE or _part_text(part) is not None)


def _is_empty(content: Any) -> bool | None:
    """True when content carries nothing; None when the schema reports it anyway (wrong
    types, malformed parts), so that one problem gives one finding."""
    if content is None or isinstance(content, str):
        return content is None or not content.strip()
    if not isinstance(content, list) or not all(_well_formed_part(p) for p in content):
        return None
    return not any(p["type"] == _IMAGE or (_part_text(p) or "").strip() for p in content)


def _may_omit_content(message: dict) -> bool:
    """An assistant message that calls tools (or refuses) needs no content. A malformed call
    counts too: the schema reports it, and the missing content is then no second problem."""
    if role_of(message) != "assistant":
        return False
    refusal = message.get("refusal")
    return (message.get("tool_calls") not in (None, []) or message.get("function_call") is not None
            or (isinstance(refusal, str) and bool(refusal.strip())))


@record_check(CHAT, PREFERENCE)
def empty_content(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        role = role_of(message)
        if role not in ROLES or _may_omit_content(message):
            continue
        if "content" not in message and not message.keys() <= _MESSAGE_KEYS:
            continue  # an unknown key (`contents`, `text`...) is the real problem: FT203
        content = message.get("content")
        if _is_empty(content):
            what = "no content" if "content" not in message else "empty content"
            yield Hit(EMPTY_CONTENT.code, f"{path}.content", f"{role} message has {what}")


@record_check(COMPLETION)
def empty_prompt_or_completion(record: dict, ctx: Context) -> Iterator[Hit]:
    for key in ("prompt", "completion"):
        value = record.get(key)
        if isinstance(value, str) and not value.strip():
            yield Hit(EMPTY_CONTENT.code, key, f"empty {key}")


def _token_message(tokens: list[str]) -> str:
    return f"contains special token{'s' if len(tokens) > 1 else ''} {', '.join(tokens)}"


@record_check(CHAT, PREFERENCE)
def special_tokens_in_messages(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        content = message.get("content")
        found = list(dict.fromkeys(t for text in _texts(content) for t in special_tokens_in(text)))
        if found:
            yield Hit(SPECIAL_TOKEN.code, f"{path}.content", _token_message(found))


@record_check(COMPLETION)
def special_tokens_in_completion(record: dict, ctx: Context) -> Iterator[Hit]:
    for key in ("prompt", "completion"):
        value = record.get(key)
        found = special_tokens_in(value) if isinstance(value, str) else []
        if found:
            yield Hit(SPECIAL_TOKEN.code, key, _token_message(found))


@record_check(CHAT, PREFERENCE, plain_silent=True)
def image_outside_user(record: dict, ctx: Context) -> Iterator[Hit]:
    for path, message in iter_messages(record, ctx.format):
        role = role_of(message)
        if role not in ROLES or role == "user":
            continue
        for j, part in _parts(message.get("content")):
            if part.get("type") == _IMAGE:
                yield Hit(IMAGE_OUTSIDE_USER.code, f"{path}.content[{j}]",
                          f"image in {'an' if role[0] in 'aeiou' else 'a'} {role} message")


@record_check(CHAT, PREFERENCE, plain_silent=True)
def too_many_images(record: dict, ctx: Context) -> Iterator[Hit]:
    images = [f"{path}.content[{j}]" for path, message in iter_messages(record, ctx.format)
              for j, part in _parts(message.get("content")) if part.get("type") == _IMAGE]
    if len(images) > MAX_IMAGES:
        # Positioned at the first image over the limit: that is where trimming starts.
        yield Hit(TOO_MANY_IMAGES.code, images[MAX_IMAGES],
                  f"{len(images)} images in one example; the limit is {MAX_IMAGES}",
                  facts=Facts(count=len(images), limit=MAX_IMAGES))
