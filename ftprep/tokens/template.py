"""Exact token counts for open models: the chat template rendered, then tokenized.

What a trainer (TRL, axolotl, LLaMA-Factory...) feeds the model is the example rendered by the
model's chat template and tokenized with its tokenizer, special tokens included. This module
does what `transformers`' ``apply_chat_template(..., return_assistant_tokens_mask=True)`` does,
with `tokenizers` and `jinja2` only:

- the template runs in jinja2's immutable sandbox with transformers' settings (``trim_blocks``,
  ``lstrip_blocks``, ``loopcontrols``, a ``tojson`` that does not escape HTML,
  ``raise_exception``, ``strftime_now``), given ``messages``, ``tools`` (the record's
  ``tools``), ``add_generation_prompt`` and the named special tokens (``bos_token``...);
- messages lose their ``None``-valued keys, and reasoning under ``reasoning``/``thinking``/
  ``reasoning_content`` is passed under all three names, as transformers does;
- tool-call ``arguments`` written as JSON strings (OpenAI's form) are passed as objects, the form
  chat templates expect and `export --to trl` writes;
- the text is tokenized without adding special tokens (the template writes them).

Trainable tokens: the tokens overlapping the template's ``{% generation %}`` spans where it has
them (transformers' assistant mask); otherwise the span each assistant message adds to the
rendered text (the conversation rendered up to it with the generation prompt, then with it).
Assistant messages with ``weight: 0`` are not trainable. Preference: the prompt once, plus the
tokens each output adds to it; completion: prompt and completion tokenized as plain text.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.formats import CHAT, COMPLETION, PREFERENCE
from ftprep.tokens.core import ExampleTokens
from ftprep.tokens.local import LocalTokenizer, load_local_tokenizer, require_open_extra

# U+FDD0/U+FDD1 are Unicode noncharacters (never in interchange text): they mark where a
# `{% generation %}` block starts and ends in the rendered text, and are then removed.
GEN_START, GEN_END = "\ufdd0", "\ufdd1"
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")
_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")

Span = tuple[int, int]


class TemplateError(UsageError):
    """The chat template failed on a record (its own `raise_exception`, or a template bug)."""


@dataclass(frozen=True)
class Rendered:
    text: str
    spans: list[Span]  # generation spans (empty when the template has none)


@lru_cache(maxsize=8)
def _environment() -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationMarks(jinja2.ext.Extension):
        """``{% generation %}…{% endgeneration %}``: the block's output, between two marks."""

        tags = {"generation"}  # noqa: RUF012 (jinja2's Extension API declares it this way)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

        def _mark(self, caller: Any) -> str:
            return f"{GEN_START}{caller()}{GEN_END}"

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
               separators: Any = None, sort_keys: bool = False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationMarks, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def template_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """OpenAI chat messages as chat templates receive them (see the module docstring)."""
    return [_template_message(m) for m in messages if isinstance(m, dict)]


def _template_message(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if v is not None}
    reasoning = next((out[k] for k in _REASONING_KEYS if out.get(k) is not None), None)
    if reasoning is not None:
        out = {"thinking": reasoning, **out, "reasoning_content": reasoning}
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_template_tool_call(c) for c in calls]
    return out


def _template_tool_call(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    try:
        arguments = json.loads(function["arguments"])
    except ValueError:
        return call  # not JSON: the template gets the string, as the platform would
    return {**call, "function": {**function, "arguments": arguments}}


class TemplateCounter:
    """Counts records with one local tokenizer and chat template (see the module docstring)."""

    def __init__(self, local: LocalTokenizer) -> None:
        require_open_extra()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # workers are forked
        from tokenizers import Tokenizer

        self.local = local
        try:
            tokenizer = Tokenizer.from_file(str(local.tokenizer_file))
        except Exception as exc:  # the Rust side raises plain Exception for a bad file
            raise UsageError(f"{local.tokenizer_file}: not a tokenizers file ({exc})") from None
        # transformers ignores the file's own truncation/padding unless asked; so do we
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._templates = {
            False: self._compile(local.template_for(False)),
            True: self._compile(local.template_for(True)),
        }

    def _compile(self, source: str) -> tuple[Any, bool]:
        import jinja2

        try:
            return _environment().from_string(source), bool(_GENERATION_TAG.search(source))
        except jinja2.TemplateSyntaxError as exc:
            raise UsageError(f"{self.local.template_source}: chat template does not compile "
                             f"(line {exc.lineno}: {exc.message})") from None

    @property
    def has_generation_mask(self) -> bool:
        return self._templates[False][1]

    def render(self, messages: list[dict[str, Any]], tools: list[Any] | None,
               add_generation_prompt: bool = False) -> Rendered:
        """The template's text for `messages` (already `template_messages`), with its
        generation spans."""
        import jinja2

        template, _ = self._templates[bool(tools)]
        try:
            marked = template.render(messages=messages, tools=tools, documents=None,
                                     add_generation_prompt=add_generation_prompt,
                                     **self.local.special_tokens)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"chat template: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            # the template's own Python operations on this record's values ('+' on a number)
            raise TemplateError(f"chat template: {type(exc).__name__}: {exc}") from None
        return _unmark(marked)

    def encode(self, text: str) -> Any:
        return self._tokenizer.encode(text, add_special_tokens=False)

    def text_tokens(self, text: str) -> int:
        return len(self.encode(text).ids)

    def count_record(self, record: dict, fmt: str) -> ExampleTokens:
        if fmt == CHAT:
            return self._count_chat(record)
        if fmt == PREFERENCE:
            return self._count_preference(record)
        if fmt == COMPLETION:
            return self._count_completion(record)
        return ExampleTokens(0, 0, 0, False)

    # -- chat ------------------------------------------------------------------------------

    def _count_chat(self, record: dict) -> ExampleTokens:
        raw = record.get("messages")
        raw = raw if isinstance(raw, list) else []
        messages, tools = template_messages(raw), _tools(record)
        rendered = self.render(messages, tools)
        spans, estimated = self._trainable_spans(messages, tools, rendered)
        encoding = self.encode(rendered.text)
        mask = _mask(encoding.offsets, spans)
        answer_start = None
        if spans and messages and messages[-1].get("role") == "assistant":
            answer_start = _first_token_at(encoding.offsets, spans[-1])
        return ExampleTokens(len(encoding.ids), sum(mask), len(raw), estimated,
                             fixed=len(encoding.ids), answer_start=answer_start)

    def _trainable_spans(self, messages: list[dict[str, Any]], tools: list[Any] | None,
                         rendered: Rendered) -> tuple[list[Span], bool]:
        """(character spans of the trainable text, whether they are an estimate)."""
        assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
        if self.has_generation_mask:
            spans = rendered.spans
            if len(spans) == len(assistants):  # one block per assistant turn: weights apply
                spans = [s for s, i in zip(spans, assistants, strict=True)
                         if messages[i].get("weight", 1) != 0]
            return spans, False
        spans = []
        estimated = False
        for i in assistants:
            if messages[i].get("weight", 1) == 0:
                continue
            span = self._message_span(messages, tools, i, rendered.text)
            estimated = estimated or span is None
            if span is not None:
                spans.append(span)
        return spans, estimated

    def _message_span(self, messages: list[dict[str, Any]], tools: list[Any] | None, i: int,
                      full: str) -> Span | None:
        """What message `i` adds after the generation prompt, when the template renders the
        conversation as a growing prefix (most do; None when it does not)."""
        try:
            before = self.render(messages[:i], tools, add_generation_prompt=True).text
            upto = self.render(messages[: i + 1], tools).text
        except TemplateError:
            return None
        if upto.startswith(before) and full.startswith(upto):
            return len(before), len(upto)
        return None

    # -- preference and completion -----------------------------------------------------------

    def _count_preference(self, record: dict) -> ExampleTokens:
        source = record.get("input")
        source = source if isinstance(source, dict) else {}
        raw = source.get("messages")
        prompt_messages = template_messages(raw if isinstance(raw, list) else [])
        tools = _tools(source)
        prompt = self.text_tokens(self.render(prompt_messages, tools, True).text)
        outputs = []
        for key in ("preferred_output", "non_preferred_output"):
            value = record.get(key)
            output = template_messages(value if isinstance(value, list) else [])
            whole = self.text_tokens(self.render(prompt_messages + output, tools).text)
            outputs.append(max(0, whole - prompt))
        preferred = record.get("preferred_output")
        n_messages = len(prompt_messages) + (len(preferred) if isinstance(preferred, list) else 0)
        total = prompt + sum(outputs)
        return ExampleTokens(total, sum(outputs), n_messages, False, fixed=total,
                             answer_start=prompt if preferred else None)

    def _count_completion(self, record: dict) -> ExampleTokens:
        prompt, completion = record.get("prompt"), record.get("completion")
        p = self.text_tokens(prompt) if isinstance(prompt, str) else 0
        c = self.text_tokens(completion) if isinstance(completion, str) else 0
        return ExampleTokens(p + c, c, 0, False, fixed=p + c, answer_start=p)


def _tools(record: dict) -> list[Any] | None:
    tools = record.get("tools")
    return tools if isinstance(tools, list) and tools else None


def _unmark(marked: str) -> Rendered:
    if GEN_START not in marked:
        return Rendered(marked, [])
    parts: list[str] = []
    spans: list[Span] = []
    length = 0
    start: int | None = None
    for piece in re.split(f"([{GEN_START}{GEN_END}])", marked):
        if piece == GEN_START:
            start = length
        elif piece == GEN_END:
            if start is not None:
                spans.append((start, length))
            start = None
        else:
            parts.append(piece)
            length += len(piece)
    return Rendered("".join(parts), spans)


def _mask(offsets: list[Span], spans: list[Span]) -> list[int]:
    """1 for each token overlapping a span (transformers' assistant mask: one ordered pass)."""
    mask = [0] * len(offsets)
    k = 0
    for t, (start, end) in enumerate(offsets):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        if k == len(spans):
            break
        if end > spans[k][0]:
            mask[t] = 1
    return mask


def _first_token_at(offsets: list[Span], span: Span) -> int | None:
    for t, (start, end) in enumerate(offsets):
        if end > span[0] and start < span[1]:
            return t
    return None


_counters: dict[str, TemplateCounter] = {}
_counters_lock = threading.Lock()


def get_template_counter(path: str | Path) -> TemplateCounter:
    """The counter for the tokenizer at `path` (memoised per process, thread-safe)."""
    key = str(Path(path).resolve())
    counter = _counters.get(key)
    if counter is None:
        with _counters_lock:
            counter = _counters.get(key)
            if counter is None:
                require_open_extra()
                counter = _counters[key] = TemplateCounter(load_local_tokenizer(path))
    return counter


__all__ = [
    "Rendered",
    "TemplateCounter",
    "TemplateError",
    "get_template_counter",
    "template_messages",
]
