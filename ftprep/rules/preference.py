"""FT6xx: preference (DPO) examples — a prompt conversation and two candidate replies."""
from __future__ import annotations

from collections.abc import Iterator

from ftprep.findings import Severity
from ftprep.formats import PREFERENCE
from ftprep.rules.base import Context, Hit, record_check, role_of, rule
from ftprep.rules.dataset import canonical
from ftprep.rules.roles import ROLES

E, W = Severity.ERROR, Severity.WARNING

OUTPUTS = ("preferred_output", "non_preferred_output")

OUTPUT_SHAPE = rule(
    "FT601", "preference-output-shape", E, "A preferred/non-preferred output is not exactly "
    "one assistant message.",
    why="Preference training compares two single assistant replies to the same input; "
    "anything else cannot be compared and is rejected.",
    fix="Make each output a list with one `{\"role\": \"assistant\", ...}` message; move "
    "earlier turns into `input.messages`.",
)
INPUT_ENDS_WITH_ASSISTANT = rule(
    "FT602", "preference-input-ends-with-assistant", E, "The preference input ends with an "
    "assistant message.",
    why="The outputs are the assistant's next reply; an input that already ends with one "
    "leaves no turn to answer.",
    fix="End `input.messages` with the user (or tool) message the outputs answer.",
)
IDENTICAL_OUTPUTS = rule(
    "FT603", "identical-preference-outputs", W, "The preferred and non-preferred outputs are "
    "identical.",
    why="A pair with no difference teaches no preference; it only dilutes the data.",
    fix="Replace the non-preferred output with a genuinely worse reply, or drop the example.",
)


@record_check(PREFERENCE)
def output_shape(record: dict, ctx: Context) -> Iterator[Hit]:
    for key in OUTPUTS:
        output = record.get(key)
        if not isinstance(output, list):
            continue  # missing or wrong type: the schema's FT202/FT201
        if len(output) != 1:
            yield Hit(OUTPUT_SHAPE.code, key,
                      f"{key} has {len(output)} messages; it needs exactly 1")
            continue
        role = role_of(output[0])
        # Azure also takes tool-role outputs: the target's facts say which roles are allowed
        allowed = ctx.target.dpo_output_roles if ctx.target is not None else ("assistant",)
        if role in ROLES and role not in allowed:
            yield Hit(OUTPUT_SHAPE.code, f"{key}[0].role",
                      f"{key} is a {role} message; it must be from the {' or '.join(allowed)}")


@record_check(PREFERENCE)
def input_ends_with_assistant(record: dict, ctx: Context) -> Iterator[Hit]:
    inp = record.get("input")
    messages = inp.get("messages") if isinstance(inp, dict) else None
    if isinstance(messages, list) and messages and role_of(messages[-1]) == "assistant":
        yield Hit(INPUT_ENDS_WITH_ASSISTANT.code, f"input.messages[{len(messages) - 1}].role",
                  "the input ends with an assistant message; the outputs have no turn to answer")


@record_check(PREFERENCE)
def identical_outputs(record: dict, ctx: Context) -> Iterator[Hit]:
    preferred, rejected = (record.get(k) for k in OUTPUTS)
    if not isinstance(preferred, list) or not preferred:
        return
    same = canonical(preferred)
    if same is not None and same == canonical(rejected):
        yield Hit(IDENTICAL_OUTPUTS.code, "non_preferred_output",
                  "identical to preferred_output: the pair teaches nothing")
