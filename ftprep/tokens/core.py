"""The token-count formula for fine-tuning examples (the counting half of `ftprep.tokens`).

Chat (the OpenAI cookbook's formula for chat models)::

    total = Σ_messages (3 + Σ_string fields len(encode(value)) + 1 if the message has a name)
            + 3                                  # priming of the reply
            + tools/functions (JSON serialisation, an estimate)

- content given as a list of parts: text parts are encoded; image parts cost the documented
  85 tokens at ``detail: low`` and 85 + 170 per 512px tile otherwise. The image size is not
  known here, so high/auto detail assumes the documented typical 1024x1024 image (4 tiles,
  765 tokens) and the count is flagged ``estimated``;
- ``tool_calls``/``function_call`` in a message and the record's ``tools``/``functions`` are
  counted from their compact JSON serialisation (the platform renders them differently, so the
  count is flagged ``estimated``);
- non-text values such as ``weight`` are metadata, not tokens;
- special-token text in content (``<|endoftext|>``) is counted as ordinary text; `validate`
  reports it separately.

Preference: input (as chat, with reply priming) + each output (as messages).
Completion: len(prompt) + len(completion).

Trainable tokens: chat assistant messages whose ``weight`` is not 0 (whole message including
its 3-token framing); preference: the outputs; completion: the completion.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import tiktoken

from ftprep.formats import CHAT, COMPLETION, PREFERENCE, detect_format
from ftprep.tokens.pieces import count_in_pieces

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
TYPICAL_IMAGE_TILES = 4  # 1024x1024 → scaled to 768x768 → 2x2 tiles of 512px
STRING_CACHE_SIZE = 65536  # memoised short strings (roles, labels, short turns)
SHORT_STRING_CHARS = 128  # ... up to this length: the short memo stays under ~20 MB
LONG_STRING_CACHE_SIZE = 128  # longer strings (a repeated system prompt) get a small memo
LONG_STRING_MAX_CHARS = 1 << 18  # beyond 256K characters nothing is memoised
_PAYLOAD_KEYS = frozenset({"content", "tool_calls", "function_call", "refusal"})
_JSON_KEYS = frozenset({"tool_calls", "function_call"})  # counted from their JSON (estimated)
_NOT_PLAIN_KEYS = frozenset({"tools", "functions", "preferred_output", "non_preferred_output"})
_NESTED = (dict, list)


@dataclass(frozen=True, slots=True)
class ExampleTokens:
    """Token counts of one example.

    `per_message` holds each chat message's tokens (framing included) in order; `fixed` is the
    rest of `total` (tools, reply priming, preference outputs...). `answer_start` is the token
    offset where the final assistant answer's content begins (None when there is none): when
    an example is cut at `limit`, the answer is lost entirely if `answer_start >= limit`."""

    total: int
    trainable: int
    messages: int
    estimated: bool
    per_message: tuple[int, ...] = ()
    fixed: int = 0
    answer_start: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "trainable": self.trainable,
            "messages": self.messages,
            "estimated": self.estimated,
            "answer_start": self.answer_start,
        }


class _Counter:
    """Counts for one encoding, memoising strings (system prompts repeat on every line).

    Strings are counted by the Rust BPE of `ftprep.tokens.fast` where it has the encoding
    (same numbers, faster), by tiktoken otherwise and for strings it cannot take (lone
    surrogates); tiktoken's encoder is then built on first need only.

    The memo is bounded in bytes, not only in entries: 65,536 entries of long unique texts
    would otherwise hold gigabytes (memory growing with the file). Short strings get a big
    memo, long ones a small one, huge ones none."""

    def __init__(self, encoding: tiktoken.Encoding | str) -> None:
        count = _string_counter(encoding)

        short = lru_cache(maxsize=STRING_CACHE_SIZE)(count)
        long = lru_cache(maxsize=LONG_STRING_CACHE_SIZE)(count)

        def text(s: str) -> int:
            if len(s) <= SHORT_STRING_CHARS:
                return short(s)
            return long(s) if len(s) <= LONG_STRING_MAX_CHARS else count(s)

        def cache_info() -> Any:
            a, b = short.cache_info(), long.cache_info()
            assert a.maxsize is not None and b.maxsize is not None  # both memos are bounded
            return a._replace(hits=a.hits + b.hits, misses=a.misses + b.misses,
                              maxsize=a.maxsize + b.maxsize, currsize=a.currsize + b.currsize)

        text.cache_info = cache_info  # type: ignore[attr-defined]
        self.short = short
        self.text: Callable[[str], int] = text
        self.estimated = False

    def json(self, value: Any) -> int:
        self.estimated = True
        try:
            serialised = orjson.dumps(value).decode()
        except TypeError:  # lone surrogates: orjson refuses them, the stdlib writes them as-is
            serialised = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return self.text(serialised)

    def parts(self, parts: list) -> int:
        total = 0
        for part in parts:
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if isinstance(text, str):
                total += self.text(text)
            elif part.get("type") == "image_url" or "image_url" in part:
                total += self.image(part.get("image_url"))
            else:  # audio, files...: no documented cost here; its JSON is a rough stand-in
                total += self.json(part)
        return total

    def image(self, image: Any) -> int:
        detail = image.get("detail", "auto") if isinstance(image, dict) else "auto"
        if detail == "low":
            return IMAGE_BASE_TOKENS
        self.estimated = True  # the image's size decides the tiles; not known here
        return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * TYPICAL_IMAGE_TILES

    def message(self, message: Any) -> tuple[int, int]:
        """(tokens of the message, tokens before its payload i.e. role/name framing)."""
        if not isinstance(message, dict):
            return 0, 0
        # hot loop: attributes looked up once per message; short strings (most of them) go
        # straight to the short memo, without the routing call of `text`
        text, short, limit = self.text, self.short, SHORT_STRING_CHARS
        head = TOKENS_PER_MESSAGE
        payload = 0
        for key, value in message.items():
            if value.__class__ is str:
                n = short(value) if len(value) <= limit else text(value)
                if key in _PAYLOAD_KEYS:
                    payload += n
                else:
                    head += n + (TOKENS_PER_NAME if key == "name" else 0)
            elif key == "content" and isinstance(value, list):
                payload += self.parts(value)
            elif key in ("tool_calls", "function_call") and value is not None:
                payload += self.json(value)
        return head + payload, head

    def tools(self, record: dict) -> int:
        return sum(self.json(record[k]) for k in ("tools", "functions") if record.get(k))

    def plain_chat(self, record: dict) -> tuple[int, int, int, int | None] | None:
        """(total, trainable, messages, answer_start) of a plain chat record, the same numbers
        as `_count_chat`; None for any other record (count it with `count_record`).

        Plain: `messages` is a list of objects whose values are strings or scalars (weight,
        null content), no tools, no other nested value anywhere. Most fine-tuning data is
        plain, and this is `count`'s hot loop: no per-message tuple, no method call or
        ExampleTokens per message, and the record is known to be 3 levels deep (so the
        reader's depth check has nothing to find)."""
        messages = None
        for key, value in record.items():
            if key == "messages":
                messages = value
            elif key in _NOT_PLAIN_KEYS or isinstance(value, _NESTED):
                return None
        if messages.__class__ is not list:
            return None
        short, text, limit, payload_keys = self.short, self.text, SHORT_STRING_CHARS, _PAYLOAD_KEYS
        offset = trainable = 0
        answer = None
        message: Any = None
        for message in messages:
            if message.__class__ is not dict:
                return None
            head, payload = TOKENS_PER_MESSAGE, 0
            for key, value in message.items():
                if value.__class__ is str:
                    n = short(value) if len(value) <= limit else text(value)
                    if key in payload_keys:
                        payload += n
                    elif key == "name":
                        head += n + TOKENS_PER_NAME
                    else:
                        head += n
                elif isinstance(value, _NESTED) or (key in _JSON_KEYS and value is not None):
                    return None
            tokens = head + payload
            if message.get("role") == "assistant":
                answer = offset + head
                if message.get("weight", 1) != 0:
                    trainable += tokens
            offset += tokens
        ends_with_answer = message is not None and message.get("role") == "assistant"
        return (offset + REPLY_PRIMING, trainable, len(messages),
                answer if ends_with_answer else None)


def _string_counter(encoding: tiktoken.Encoding | str) -> Callable[[str], int]:
    """len(encode_ordinary(s)) for `encoding` (an encoding or its name): Rust where it can,
    tiktoken where it cannot."""
    from ftprep.tokens.fast import rust_count

    name = encoding if isinstance(encoding, str) else encoding.name
    built: list[tiktoken.Encoding] = [] if isinstance(encoding, str) else [encoding]

    def by_tiktoken(s: str) -> int:
        if not built:
            from ftprep.tokens.load import get_encoding

            built.append(get_encoding(name))
        # in parts of ~1M characters: a 100 MB string never becomes a 25M-int list (pieces.py)
        return count_in_pieces(built[0].encode_ordinary, s)

    fast = rust_count(name)
    if fast is None:
        return by_tiktoken

    def count(s: str) -> int:
        try:
            return fast(s)
        except UnicodeEncodeError:  # a lone surrogate: tiktoken counts it as JSON allows
            return by_tiktoken(s)

    return count


# One counter per thread and encoding: a counter carries per-example state (`estimated`),
# so threads must not share one.
_local = threading.local()


def _counter(encoding: tiktoken.Encoding | str) -> _Counter:
    counters: dict[str, _Counter] | None = getattr(_local, "counters", None)
    if counters is None:
        counters = _local.counters = {}
    name = encoding if isinstance(encoding, str) else encoding.name
    counter = counters.get(name)
    if counter is None:
        counter = counters[name] = _Counter(encoding)
    return counter


def prepare_counter(encoding: tiktoken.Encoding | str) -> None:
    """Build the counter for `encoding` now (its tables load here, so that worker processes
    forked afterwards share them instead of loading their own)."""
    _counter(encoding)


def count_example(record: dict, encoding: tiktoken.Encoding | str) -> ExampleTokens:
    """Token counts of one record (chat, preference or completion); see the module docstring.
    Defensive: malformed parts are skipped, never raised on."""
    return count_record(record, encoding, detect_format(record))


def plain_chat_counter(
    encoding: tiktoken.Encoding | str,
) -> Callable[[dict], tuple[int, int, int, int | None] | None]:
    """`_Counter.plain_chat` of this thread's counter for `encoding`, looked up once for a
    whole batch of records (`count`'s hot loop)."""
    return _counter(encoding).plain_chat


def count_totals(record: dict, encoding: tiktoken.Encoding | str) -> tuple[int, int | None]:
    """(total, answer_start) of a record, all that the token-limit rules need: by the plain
    chat path when it applies (`_Counter.plain_chat`), else as `count_example` counts."""
    row = _counter(encoding).plain_chat(record) if record.__class__ is dict else None
    if row is not None:
        return row[0], row[3]
    counted = count_example(record, encoding)
    return counted.total, counted.answer_start


def count_record(record: dict, encoding: tiktoken.Encoding | str, fmt: str) -> ExampleTokens:
    """`count_example` for a record whose format the caller already detected (hot path)."""
    counter = _counter(encoding)
    counter.estimated = False
    if fmt == PREFERENCE:
        return _count_preference(record, counter)
    if fmt == COMPLETION:
        return _count_completion(record, counter)
    if fmt == CHAT:
        return _count_chat(record, counter)
    return ExampleTokens(0, 0, 0, False)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _count_chat(record: dict, counter: _Counter) -> ExampleTokens:
    messages = _as_list(record.get("messages"))
    offset = counter.tools(record)  # tool definitions are rendered before the conversation
    fixed = offset + REPLY_PRIMING
    per_message: list[int] = []
    trainable = 0
    answer_start: int | None = None
    for message in messages:
        tokens, head = counter.message(message)
        if isinstance(message, dict) and message.get("role") == "assistant":
            answer_start = offset + head
            if message.get("weight", 1) != 0:
                trainable += tokens
        per_message.append(tokens)
        offset += tokens
    total = offset + REPLY_PRIMING
    return ExampleTokens(
        total, trainable, len(messages), counter.estimated, tuple(per_message), fixed,
        answer_start if _ends_with_assistant(messages) else None,
    )


def _ends_with_assistant(messages: list) -> bool:
    return bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant"


def _count_preference(record: dict, counter: _Counter) -> ExampleTokens:
    source = record.get("input")
    source = source if isinstance(source, dict) else {}
    prompt = _count_chat(source, counter).total
    outputs = [
        sum(counter.message(m)[0] for m in _as_list(record.get(key)))
        for key in ("preferred_output", "non_preferred_output")
    ]
    preferred = _as_list(record.get("preferred_output"))
    answer_start = prompt + counter.message(preferred[0])[1] if preferred else None
    n_messages = len(_as_list(source.get("messages"))) + len(preferred)
    return ExampleTokens(
        prompt + sum(outputs), sum(outputs), n_messages, counter.estimated,
        fixed=prompt + sum(outputs), answer_start=answer_start,
    )


def _count_completion(record: dict, counter: _Counter) -> ExampleTokens:
    prompt, completion = record.get("prompt"), record.get("completion")
    p = counter.text(prompt) if isinstance(prompt, str) else 0
    c = counter.text(completion) if isinstance(completion, str) else 0
    return ExampleTokens(p + c, c, 0, False, fixed=p + c, answer_start=p)


def clear_counters() -> None:
    """Forget this thread's memoised string counts (tests; after changing encodings)."""
    _local.counters = {}
