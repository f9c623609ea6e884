"""The `judge` metric: a model grades each answer against the reference on a stated scale.

The judge sees the conversation, the reference answer and the candidate's answer, and replies
with a JSON object `{"score": 1..5, "reason": "..."}`; the score maps to 0..1 as
(score - 1) / 4. A reply without a readable score leaves that example unscored for `judge`
(reported, never counted as 0). A model never grades its own answers: a judge that is also a
candidate is refused. `--dry-run` shows the judge's request exactly.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.eval.examples import message_text

JUDGE_METRIC = "judge"
SCALE = (1, 5)
JUDGE_MAX_TOKENS = 300
DEFAULT_RUBRIC = """\
5: the answer says what the reference says (wording may differ); nothing wrong is added.
4: the same substance, with a minor omission or harmless extra detail.
3: partly right: an important part is missing or unclear.
2: mostly wrong or off-topic, with a small correct part.
1: wrong, harmful, empty or a refusal where the reference answers."""

SYSTEM = """You are a strict grader. You compare an ANSWER to a REFERENCE answer for the same \
conversation and grade the ANSWER on a scale from {low} to {high} using this rubric:

{rubric}

Reply with only a JSON object: {{"score": <integer {low}-{high}>, "reason": "<one sentence>"}}"""

USER = """CONVERSATION:
{conversation}

REFERENCE:
{reference}

ANSWER:
{answer}"""


def load_rubric(path: str | Path | None) -> str:
    if path is None:
        return DEFAULT_RUBRIC
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"rubric={path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    if not text:
        raise UsageError(f"rubric={path}: the file is empty")
    return text


def check_judge(judge: str, candidate_models: list[str]) -> None:
    if judge in candidate_models:
        raise UsageError(f"judge={judge!r} is also a candidate: a model never grades its own "
                         "answers; pick another judge model")


def judge_messages(prompt: list[dict[str, Any]], reference: dict[str, Any],
                   answer: dict[str, Any], rubric: str) -> list[dict[str, str]]:
    low, high = SCALE
    return [
        {"role": "system", "content": SYSTEM.format(low=low, high=high, rubric=rubric)},
        {"role": "user", "content": USER.format(conversation=_conversation(prompt),
                                                reference=message_text(reference),
                                                answer=message_text(answer))},
    ]


def _conversation(messages: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{m.get('role', '?')}] {message_text(m)}" for m in messages)


_SCORE = re.compile(r'"score"\s*:\s*"?(\d+)')


def parse_grade(text: object) -> float | None:
    """The 0..1 score in a judge reply's content, or None when it holds no score on the scale
    (or is not text: the server's answer is not checked before this)."""
    if not isinstance(text, str) or not text:
        return None
    low, high = SCALE
    match = _SCORE.search(text) or re.fullmatch(r"\s*(\d+)\s*", text)
    if not match:
        return None
    value = int(match.group(1))
    if not low <= value <= high:
        return None
    return (value - low) / (high - low)
