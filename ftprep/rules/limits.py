"""Token rules (FT7xx), active with `validate --model M`: examples against the model's limit."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from ftprep.findings import Facts, Severity
from ftprep.rules.base import Context, Hit, record_check, rule

OVER_TOKEN_LIMIT = rule(
    "FT701", "over-token-limit", Severity.WARNING,
    "The example has more tokens than the model accepts per training example.",
    why="The platform cuts every example at the model's limit: the tokens beyond it are "
    "billed for nothing and the model never sees them.",
    fix="Shorten the example, or trim old turns: `ftprep convert --model M --on-overflow "
    "trim-history` (or `drop`).",
)
ANSWER_TRUNCATED = rule(
    "FT702", "answer-truncated", Severity.ERROR,
    "The final assistant answer starts beyond the model's token limit.",
    why="After the cut at the limit nothing of the answer remains, so the example teaches "
    "nothing and still costs money.",
    fix="Shorten the conversation before the answer, e.g. `ftprep convert --model M "
    "--on-overflow trim-history`, or drop the example.",
)


@record_check()
def token_limit(record: dict, ctx: Context) -> Iterator[Hit]:
    if ctx.model is None or ctx.encoding is None:
        return
    from ftprep.tokens import count_totals  # count's own fast path for plain chat

    limit = ctx.model.max_example_tokens
    total, answer_start = count_totals(record, ctx.encoding)
    if total <= limit:
        return
    yield Hit(
        OVER_TOKEN_LIMIT.code, "",
        f"{total} tokens; {ctx.model.id} keeps {limit}, "
        f"{total - limit} would be cut", facts=Facts(tokens=total, limit=limit),
    )
    if answer_start is not None and answer_start >= limit:
        yield Hit(
            ANSWER_TRUNCATED.code, _answer_path(record),
            f"the final answer starts at token {answer_start}, past the limit of {limit}",
            facts=Facts(tokens=total, limit=limit),
        )


def fits_by_size(limit: int) -> Callable[[bytes, dict], bool]:
    """A test that a plain chat record (one `fastpath.clears_but_unknown_keys` lets through:
    messages of strings and scalars, no tools, no content parts) whose JSON line is `raw`
    has at most `limit` tokens, so that `token_limit` need not count it: True is certain,
    False means "count". Every token stands for at least one byte of UTF-8 text, and each
    string's UTF-8 bytes stand in the line as they are or escaped longer (`\\n`: two bytes
    for one, `\\uXXXX`: six for at most three); besides its strings the count adds only
    TOKENS_PER_MESSAGE (and TOKENS_PER_NAME) a message and REPLY_PRIMING. Most examples are
    far below a model's limit, so `validate --model` counts only the long ones."""
    from ftprep.tokens.core import REPLY_PRIMING, TOKENS_PER_MESSAGE, TOKENS_PER_NAME

    per_message = TOKENS_PER_MESSAGE + TOKENS_PER_NAME
    room = limit - REPLY_PRIMING

    def fits(raw: bytes, record: dict) -> bool:
        return len(raw) + per_message * len(record["messages"]) <= room

    return fits


def _answer_path(record: dict) -> str:
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        return f"messages[{len(messages) - 1}]"
    if "preferred_output" in record:
        return "preferred_output[0]"
    return "completion" if "completion" in record else ""
