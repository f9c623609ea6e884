"""`ftprep try`: one streamed chat request, for trying a model by hand.

`try_request` builds the body (a prompt, an optional system prompt, or an example's prompt and
tools from a test file); `stream_chat` sends it and yields the answer's text as it arrives,
then a final `ChatResult` with the whole message (tool calls assembled) and the usage.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ftprep.errors import UsageError
from ftprep.eval.examples import Example, message_text
from ftprep.eval.runner import CHAT_ENDPOINT
from ftprep.platform.client import PlatformClient
from ftprep.platform.shapes import broken


@dataclass
class ChatResult:
    """The streamed answer, put together."""

    model: str
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "content": self.content, "tool_calls": self.tool_calls,
                "finish_reason": self.finish_reason, "usage": self.usage}


def try_request(model: str, prompt: str | None = None, *, system: str | None = None,
                example: Example | None = None, temperature: float | None = None,
                max_tokens: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """The chat completion body `try` sends (without `stream`)."""
    if example is not None and prompt:
        raise UsageError("prompt: give a PROMPT or an example (--from/--line), not both")
    if example is not None:
        messages = [m for m in example.prompt
                    if system is None or m.get("role") not in ("system", "developer")]
        tools: list[Any] = list(example.tools)
    elif prompt:
        messages, tools = [{"role": "user", "content": prompt}], []
    else:
        raise UsageError("prompt: nothing to send (give PROMPT, stdin, or --from FILE --line N)")
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    body: dict[str, Any] = {"model": model,
                            "messages": [{k: v for k, v in m.items() if k != "weight"}
                                         for m in messages]}
    if tools:
        body["tools"] = tools
    for key, value in (("temperature", temperature), ("max_tokens", max_tokens), ("seed", seed)):
        if value is not None:
            body[key] = value
    return body


def stream_chat(client: PlatformClient, body: dict[str, Any]) -> Iterator[str | ChatResult]:
    """Send `body` streamed, once (never re-sent by a retry); yield text deltas, then one
    ChatResult."""
    result = ChatResult(str(body["model"]))
    calls: dict[int, dict[str, Any]] = {}
    # One attempt, as in eval's runner: after a timeout or a dropped connection the server may
    # have done (and billed) the work, so the SDK must not send it again; a refusal (429/5xx)
    # is reported, and trying again is the user's call.
    once = client.sdk.with_options(max_retries=0)
    stream: Any = client.call(once.chat.completions.create, **body, stream=True)
    try:
        for chunk in stream:
            if getattr(chunk, "usage", None):
                result.usage = {"prompt_tokens": chunk.usage.prompt_tokens,
                                "completion_tokens": chunk.usage.completion_tokens}
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta.content:
                    result.content += delta.content
                    yield delta.content
                for call in delta.tool_calls or []:
                    _merge_call(calls.setdefault(call.index, {}), call)
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason
    except Exception as e:  # a stream broken half-way is an SDK/transport error too
        import openai

        if isinstance(e, openai.OpenAIError):
            raise client.error(e) from None
        if isinstance(e, (AttributeError, TypeError)):  # the SDK does not check chunk shapes
            raise broken(CHAT_ENDPOINT, f"a streamed chunk has an unexpected shape "
                                        f"({type(e).__name__}: {e})") from None
        raise
    result.tool_calls = [calls[i] for i in sorted(calls)]
    yield result


def _merge_call(target: dict[str, Any], call: Any) -> None:
    """Streamed tool calls arrive in pieces: id and name once, arguments in fragments."""
    if call.id:
        target["id"] = call.id
    target.setdefault("type", "function")
    function = target.setdefault("function", {"name": "", "arguments": ""})
    if call.function is not None:
        function["name"] += call.function.name or ""
        function["arguments"] += call.function.arguments or ""


def format_tool_calls(calls: list[dict[str, Any]]) -> str:
    return message_text({"tool_calls": calls}) if calls else ""
