"""The conversion library: mapping, templates, adapters, multi-turn regrouping, rejects."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftprep.convert import (
    Converted,
    ConvertOptions,
    Rejected,
    convert,
    default_rejects_path,
    iter_converted,
)
from ftprep.convert.records import DEFAULT_NA_VALUES
from ftprep.errors import InputError, UsageError
from ftprep.rules import record_errors

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path) -> list[Any]:
    # split on "\n" only: str.splitlines() would also break inside content at U+0085 etc.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def run(tmp_path: Path, src: Path, **options: Any) -> tuple[list[Any], Any]:
    out = tmp_path / "out.jsonl"
    result = convert(src, out, ConvertOptions(**options))
    return jsonl(out), result


def chat(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


# ---------------------------------------------------------------- plain tables


def test_column_mapping_with_system_column(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "s,q,a\nBe brief.,Hi?,Hello.\n")
    records, result = run(tmp_path, src, user="q", assistant="a", system="s")
    assert records == [chat(("system", "Be brief."), ("user", "Hi?"), ("assistant", "Hello."))]
    assert (result.read, result.written, result.rejected) == (1, 1, 0)
    assert result.format_from == "table" and result.format_to == "chat"


def test_system_prompt(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    records, _ = run(tmp_path, src, user="q", assistant="a", system_prompt="Be kind.")
    assert records[0]["messages"][0] == {"role": "system", "content": "Be kind."}


def test_unknown_column_lists_available(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "question,answer\nHi?,Hello.\n")
    with pytest.raises(UsageError, match=r"^user: unknown column 'q'.*question, answer"):
        run(tmp_path, src, user="q", assistant="answer")
    assert not (tmp_path / "out.jsonl").exists()


def test_table_needs_both_sides(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    with pytest.raises(UsageError, match="needs both user "):
        run(tmp_path, src, user="q")


def test_templates_and_brace_escapes(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "question,context,answer\nWhy?,Because.,So.\n")
    records, _ = run(
        tmp_path, src,
        user_template="Q: {question}\nContext: {context} {{literal}}",
        assistant_template="{answer!r}",
        system_template="ctx={context:>9}",
    )
    assert records == [chat(
        ("system", "ctx= Because."),
        ("user", "Q: Why?\nContext: Because. {literal}"),
        ("assistant", "'So.'"),
    )]


@pytest.mark.parametrize("template", ["{nope}", "{}", "{0}"])
def test_template_unknown_name(tmp_path: Path, template: str) -> None:
    src = write(tmp_path / "t.csv", "question,answer\nHi?,Hello.\n")
    with pytest.raises(UsageError, match=r"unknown column \{.*available columns: question, answer"):
        run(tmp_path, src, user_template=template, assistant="answer")


def test_template_syntax_error(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "question,answer\nHi?,Hello.\n")
    with pytest.raises(UsageError, match="bad template"):
        run(tmp_path, src, user_template="{question", assistant="answer")


def test_empty_template_field_rejects_the_row(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "question,context,answer\nWhy?,,So.\nHow?,ctx,Thus.\n")
    records, result = run(
        tmp_path, src, user_template="{question} {context}", assistant="answer"
    )
    assert len(records) == 1 and result.reasons == {"empty": 1}
    rejected = jsonl(tmp_path / "out.rejects.jsonl")
    assert rejected[0]["field"] == "context" and rejected[0]["line"] == 2


def test_sample_qa_reconciles_and_lists_rejects(tmp_path: Path) -> None:
    records, result = run(
        tmp_path, SAMPLES / "qa.csv", user_template="Q: {question}\nContext: {context}",
        assistant="answer",
    )
    assert result.read == result.written + result.rejected == 30
    assert (result.written, result.rejected, result.reasons) == (28, 2, {"empty": 2})
    assert len(records) == 28
    rejects = jsonl(tmp_path / "out.rejects.jsonl")
    assert result.rejects == str(tmp_path / "out.rejects.jsonl")
    assert [(r["row"], r["line"], r["field"], r["reason"]) for r in rejects] == [
        (10, 11, "answer", "empty"),
        (22, 23, "answer", "empty"),
    ]
    assert rejects[0]["source"]["question"] == "How do I reset my vault password?"


@pytest.mark.parametrize("null", ["nan", "NaN", "None", "NaT", "null", "  ", ""])
def test_null_like_text_is_never_written(tmp_path: Path, null: str) -> None:
    src = write(tmp_path / "t.csv", f"q,a\nHi?,{null}\nOk?,Yes\n")
    records, result = run(tmp_path, src, user="q", assistant="a")
    assert records == [chat(("user", "Ok?"), ("assistant", "Yes"))]
    assert result.rejected == 1
    assert set(result.reasons) <= {"missing", "empty"}


def test_parquet_nulls_nan_and_integers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({
        "q": ["a", "b", "c", "d"],
        "n": pa.array([3, None, 10, 7], pa.int64()),
        "f": [1.5, 2.0, float("nan"), 4.0],
    }), src)
    records, result = run(tmp_path, src, user="q", assistant="n")
    assert [r["messages"][1]["content"] for r in records] == ["3", "10", "7"]
    assert result.reasons == {"missing": 1}
    records, result = run(tmp_path, src, user="q", assistant="f")
    assert [r["messages"][1]["content"] for r in records] == ["1.5", "2.0", "4.0"]
    assert result.reasons == {"missing": 1}
    text = (tmp_path / "out.jsonl").read_text()
    assert "nan" not in text.lower() and "None" not in text


def test_xlsx_integers_stay_integers(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["q", "a"])
    wb.active.append(["2+1?", 3])
    wb.active.append(["empty?", None])
    src = tmp_path / "t.xlsx"
    wb.save(src)
    records, _ = run(tmp_path, src, user="q", assistant="a")
    assert records == [chat(("user", "2+1?"), ("assistant", "3"))]
    assert jsonl(tmp_path / "out.rejects.jsonl")[0]["line"] == 3


def test_ragged_row_is_rejected_with_location(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a,n\nHi?,Hello.,1,extra\nOk?,Yes,2\nNo?,Nope\n")
    records, result = run(tmp_path, src, user="q", assistant="a")
    assert len(records) == 1 and result.reasons == {"ragged_row": 2}
    # field: the first cell past the header (by position), or the first column with no cell
    assert [(r["row"], r["line"], r["field"], r["detail"])
            for r in jsonl(tmp_path / "out.rejects.jsonl")] == [
        (1, 2, "column 4", "4 fields, the header has 3"),
        (3, 4, "n", "2 fields, the header has 3")]


def test_ragged_row_rejects_the_conversation_it_belongs_to(tmp_path: Path) -> None:
    # Conversation 2's user row lacks its text cell: writing 2 without that turn would lose
    # it from the record unsaid; the whole conversation is the reject, at that row.
    src = write(tmp_path / "t.csv", "c,who,text\n1,user,Hi\n1,assistant,Yo\n2,user\n"
                                    "2,assistant,Ok\n")
    records, result = run(tmp_path, src, group_by="c", role_column="who", content_column="text")
    assert records == [chat(("user", "Hi"), ("assistant", "Yo"))]
    assert (result.rows, result.read, result.reasons) == (4, 2, {"ragged_row": 1})
    reject = jsonl(tmp_path / "out.rejects.jsonl")[0]
    assert (reject["line"], reject["field"]) == (4, "text")
    assert [r["who"] for r in reject["source"]["rows"]] == ["user", "assistant"]


def test_ragged_row_in_a_conversation_names_its_field(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "c,who,text\n1,user,Hi\n1,assistant,Yo\n2,user,Hey,x\n")
    _, result = run(tmp_path, src, group_by="c", role_column="who", content_column="text")
    assert (result.written, result.reasons) == (1, {"ragged_row": 1})
    assert jsonl(tmp_path / "out.rejects.jsonl")[0]["field"] == "column 4"


def test_no_rejects_file_when_nothing_is_rejected(tmp_path: Path) -> None:
    stale = tmp_path / "out.rejects.jsonl"
    stale.write_text("old\n")
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    _, result = run(tmp_path, src, user="q", assistant="a")
    # a leftover from an earlier run would describe rows this output no longer lacks
    assert result.rejects is None and not stale.exists()


def test_header_only_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\n")
    with pytest.raises(InputError, match="no rows to convert"):
        run(tmp_path, src, user="q", assistant="a")
    assert list(tmp_path.iterdir()) == [src]


def test_atomic_no_partial_output_on_error(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    src = write(tmp_path / "t.json", '[{"prompt": "a", "completion": "b"}, {"prompt": ')
    with pytest.raises(InputError, match=r"t\.json"):
        convert(src, out, ConvertOptions())
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "t.json"]


def test_refuses_to_overwrite_input(tmp_path: Path) -> None:
    src = write(tmp_path / "t.jsonl", '{"prompt": "a", "completion": "b"}\n')
    with pytest.raises(UsageError, match="is the input file"):
        convert(src, src, ConvertOptions())


def test_default_rejects_path() -> None:
    assert default_rejects_path("d/train.jsonl") == str(Path("d/train.rejects.jsonl"))
    assert default_rejects_path("d/train.jsonl.gz") == str(Path("d/train.rejects.jsonl"))


def test_gz_output_is_deterministic(tmp_path: Path) -> None:
    import gzip

    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    outs = []
    for name in ("a.jsonl.gz", "b.jsonl.gz"):
        convert(src, tmp_path / name, ConvertOptions(user="q", assistant="a"))
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert json.loads(gzip.decompress(outs[0])) == chat(("user", "Hi?"), ("assistant", "Hello."))


# ---------------------------------------------------------------- source formats


def test_alpaca_sample(tmp_path: Path) -> None:
    records, result = run(tmp_path, SAMPLES / "support.jsonl")
    assert result.format_from == "alpaca"
    first_user = records[0]["messages"][0]["content"]
    assert first_user.startswith("Summarise the ticket in one sentence.\n\nCustomer cannot")
    assert records[2]["messages"][0]["content"] == (
        "Write a polite reply declining a refund after 30 days."  # empty input: no blank line
    )
    assert result.reasons == {"missing": 1}
    assert jsonl(tmp_path / "out.rejects.jsonl")[0]["field"] == "output"


def test_sharegpt_sample(tmp_path: Path) -> None:
    records, result = run(tmp_path, SAMPLES / "sharegpt.json")
    assert result.format_from == "sharegpt" and result.written == 3
    assert [m["role"] for m in records[0]["messages"]] == ["system", "user", "assistant"]


def test_sharegpt_bad_turns(tmp_path: Path) -> None:
    src = write(tmp_path / "s.jsonl", "\n".join(json.dumps(r) for r in [
        {"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "y"}]},
        {"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": " "}]},
        {"conversations": [{"from": "tool", "value": "42"}, {"from": "gpt", "value": "ok"}]},
    ]) + "\n")
    records, _ = run(tmp_path, src)
    assert records == []  # a tool turn without tool_call_id would fail validate (FT401)
    rejects = [(r["field"], r["reason"]) for r in jsonl(tmp_path / "out.rejects.jsonl")]
    assert rejects == [("conversations[0].from", "unknown_role"),
                       ("conversations[1].value", "empty"),
                       ("conversations[0]", "FT401")]  # the turn, not messages[0]


def test_completion_to_chat_and_back(tmp_path: Path) -> None:
    src = write(tmp_path / "c.jsonl", '{"prompt": "2+2=", "completion": " 4"}\n')
    records, result = run(tmp_path, src)
    assert records == [chat(("user", "2+2="), ("assistant", " 4"))]
    assert result.format_from == "completion"
    records, result = run(tmp_path, src, target_format="completion")
    assert records == [{"prompt": "2+2=", "completion": " 4"}]


def test_chat_passthrough_keeps_other_keys(tmp_path: Path) -> None:
    record = {**chat(("user", "hi"), ("assistant", "yo")),
              "tools": [{"type": "function", "function": {"name": "f"}}]}
    src = write(tmp_path / "c.jsonl", json.dumps(record) + "\n" + '{"messages": []}\n')
    records, result = run(tmp_path, src, system_prompt="S")
    assert records[0]["tools"] == record["tools"]
    assert records[0]["messages"][0] == {"role": "system", "content": "S"}
    assert result.reasons == {"missing": 1}


def test_table_to_completion_and_multi_turn_chat_rejected(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    records, _ = run(tmp_path, src, user="q", assistant="a", target_format="completion")
    assert records == [{"prompt": "Hi?", "completion": "Hello."}]
    two_turns = chat(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    src = write(tmp_path / "c.jsonl", json.dumps(two_turns) + "\n")
    records, result = run(tmp_path, src, target_format="completion")
    assert records == [] and result.reasons == {"not_single_turn": 1}


def test_preference(tmp_path: Path) -> None:
    rows = [{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
            {"prompt": "2+2?", "chosen": "4", "rejected": None}]
    src = write(tmp_path / "p.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    records, result = run(tmp_path, src, system_prompt="Answer briefly.")
    assert result.format_to == "preference" and result.reasons == {"missing": 1}
    assert records == [{
        "input": {"messages": [{"role": "system", "content": "Answer briefly."},
                               {"role": "user", "content": "Capital of France?"}]},
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon."}],
    }]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_format": "chat"}, "cannot convert preference input to chat"),
        ({"target_format": "completion"}, "cannot convert preference input to completion"),
    ],
)
def test_impossible_preference_combinations(tmp_path: Path, options: dict, message: str) -> None:
    src = write(tmp_path / "p.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n')
    with pytest.raises(UsageError, match=message):
        run(tmp_path, src, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user": "q", "assistant": "a", "target_format": "preference"}, "cannot convert table"),
        ({"user": "q", "assistant": "a", "source_format": "alpaca"}, "implies a plain table"),
        ({"source_format": "alpaca"}, "needs the columns instruction/output"),
        ({"user": "q", "assistant": "a", "system_prompt": "s", "target_format": "completion"},
         "no system message"),
        ({"user": "q", "assistant": "a", "group_by": "q"}, "do not mix"),
        ({"user": "q", "user_template": "{q}", "assistant": "a"}, "give user or user_template, not both"),
        ({"group_by": "q"}, "also needs role_column, content_column"),
        ({}, "cannot tell the input format"),
    ],
)
def test_usage_errors(tmp_path: Path, options: dict, message: str) -> None:
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\n")
    with pytest.raises(UsageError, match=message):
        run(tmp_path, src, **options)


# ---------------------------------------------------------------- multi-turn


TURNS = [  # (conversation, turn, speaker, text)
    ("c1", 1, "human", "Hello"),
    ("c1", 2, "bot", "Hi! How can I help?"),
    ("c1", 3, "human", "My order is late."),
    ("c1", 4, "human", "It is #42."),
    ("c1", 10, "bot", "Checking #42 now."),
    ("c2", 1, "human", "Dark mode?"),
    ("c2", 2, "bot", "Settings > Appearance."),
    ("c3", 2, "human", "Only a user turn."),
]
GROUP_OPTIONS = {
    "group_by": "conversation_id", "order_by": "turn", "role_column": "speaker",
    "content_column": "text", "role_map": {"human": "user", "bot": "assistant"},
}
EXPECTED_C1 = chat(
    ("user", "Hello"), ("assistant", "Hi! How can I help?"),
    ("user", "My order is late.\n\nIt is #42."), ("assistant", "Checking #42 now."),
)


def flat_csv(tmp_path: Path, turns: list[tuple[Any, ...]], seed: int = 3) -> Path:
    rows = list(turns)
    random.Random(seed).shuffle(rows)
    lines = ["conversation_id,turn,speaker,text"] + [",".join(map(str, r)) for r in rows]
    return write(tmp_path / "flat.csv", "\n".join(lines) + "\n")


def first_appearance(path: Path) -> list[str]:
    seen: list[str] = []
    for line in path.read_text().splitlines()[1:]:
        key = line.split(",")[0]
        if key not in seen:
            seen.append(key)
    return seen


@pytest.mark.parametrize("spill_threshold", [200_000, 2])
def test_multi_turn_regroups_shuffled_rows(tmp_path: Path, spill_threshold: int) -> None:
    src = flat_csv(tmp_path, TURNS)
    records, result = run(tmp_path, src, spill_threshold=spill_threshold, **GROUP_OPTIONS)
    by_first_user = {r["messages"][0]["content"]: r for r in records}
    assert by_first_user["Hello"] == EXPECTED_C1  # 2 < 10: numeric order, merged user turns
    assert by_first_user["Dark mode?"] == chat(("user", "Dark mode?"),
                                               ("assistant", "Settings > Appearance."))
    order = [k for k in first_appearance(src) if k != "c3"]
    assert [{"c1": "Hello", "c2": "Dark mode?"}[k] for k in order] == [
        r["messages"][0]["content"] for r in records
    ]
    assert (result.read, result.written, result.rejected, result.rows) == (3, 2, 1, 8)
    assert result.reasons == {"no_assistant_message": 1}
    assert result.unit == "conversation"


def test_spill_gives_byte_identical_output(tmp_path: Path) -> None:
    many = [(f"k{i % 37}", i // 37, "human" if (i // 37) % 2 == 0 else "bot", f"t{i}")
            for i in range(600)]
    rejected = [("blank", 0, "human", " "), ("blank", 1, "bot", "a"), ("quiet", 0, "human", "q"),
                ("alien", 0, "martian", "x"), ("alien", 1, "bot", "y"), ("", 0, "human", "q")]
    src = flat_csv(tmp_path, many + rejected, seed=11)
    outputs = []
    for threshold in (10_000, 5):
        out = tmp_path / f"out{threshold}.jsonl"
        result = convert(src, out, ConvertOptions(spill_threshold=threshold, **GROUP_OPTIONS))
        rejects = (tmp_path / f"out{threshold}.rejects.jsonl").read_bytes()
        outputs.append((out.read_bytes(), rejects, result.reasons, result.unknown_speakers))
    assert outputs[0] == outputs[1] and outputs[0][0].count(b"\n") == 37
    assert outputs[0][2] == {"empty": 2, "no_assistant_message": 1,
                             "unknown_role": 1}


def test_text_order_when_not_all_numeric(tmp_path: Path) -> None:
    turns = [("c", "b", "bot", "second"), ("c", "a", "human", "first")]
    records, _ = run(tmp_path, flat_csv(tmp_path, turns), **GROUP_OPTIONS)
    assert records == [chat(("user", "first"), ("assistant", "second"))]


def test_without_order_by_input_order_is_kept(tmp_path: Path) -> None:
    src = write(tmp_path / "f.csv", "cid,who,text\n1,user,a\n2,user,x\n1,assistant,b\n")
    options = {"group_by": "cid", "role_column": "who", "content_column": "text"}
    records, result = run(tmp_path, src, **options)
    assert records == [chat(("user", "a"), ("assistant", "b"))]
    assert result.reasons == {"no_assistant_message": 1}


def test_a_bad_turn_rejects_its_whole_conversation(tmp_path: Path) -> None:
    src = write(tmp_path / "f.csv", "cid,who,text\n1,user,a\n1,alien,b\n1,assistant,c\n,user,q\n")
    options = {"group_by": "cid", "role_column": "who", "content_column": "text"}
    records, result = run(tmp_path, src, **options)
    assert records == [] and result.read == 2 and result.rows == 4
    rejects = jsonl(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["field"], r["reason"]) for r in rejects] == [
        (3, "who", "unknown_role"), (5, "cid", "empty"),
    ]
    assert rejects[0]["source"]["group"] == "1" and len(rejects[0]["source"]["rows"]) == 3


def test_sample_conversations(tmp_path: Path) -> None:
    records, result = run(tmp_path, SAMPLES / "conversations_flat.csv", **GROUP_OPTIONS | {
        "group_by": "conversation_id"})
    assert (result.written, result.rejected) == (4, 0)
    assert all(r["messages"][-1]["role"] == "assistant" for r in records)


def test_iter_converted_streams_outcomes(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nHi?,Hello.\nNo?,\n")
    outcomes = list(iter_converted(src, ConvertOptions(user="q", assistant="a")))
    assert isinstance(outcomes[0], Converted) and isinstance(outcomes[1], Rejected)
    assert outcomes[1].to_dict() == {"row": 2, "line": 3, "field": "a", "reason": "empty",
                                     "source": {"q": "No?", "a": ""}}


_CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(_CELL, _CELL), min_size=1, max_size=8))
def test_property_csv_round_trip_reconciles(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    """Any cells (quotes, newlines, commas, blanks, "nan"): each row is written verbatim or
    rejected, never altered, and the counts add up."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([("q", "a"), *rows])  # "\r\n" ends: fields with \r get quoted
    src = write(tmp_path / "p.csv", buf.getvalue())
    rejects = tmp_path / "p.rejects.jsonl"
    rejects.unlink(missing_ok=True)
    records, result = run(tmp_path, src, user="q", assistant="a", rejects_path=str(rejects))

    def usable(cell: str) -> bool:
        return bool(cell.strip()) and cell.strip().casefold() not in DEFAULT_NA_VALUES

    candidates = [chat(("user", q), ("assistant", a)) for q, a in rows if usable(q) and usable(a)]
    # ... of which convert writes exactly those validate accepts (e.g. no "<|im_sep|>": FT502)
    expected = [r for r in candidates if not record_errors(r, "chat")]
    assert records == expected
    assert result.read == len(rows) == result.written + result.rejected
    assert (len(jsonl(rejects)) if result.rejected else 0) == result.rejected
    reasons = {r["reason"] for r in jsonl(rejects)} if result.rejected else set()
    assert all(r in ("empty", "missing") or r.startswith("FT5") for r in reasons), reasons


_USABLE = st.sampled_from(["user", "assistant", "hello there", "2", "c1", " 10 "])
_CELLS = st.one_of(_USABLE, _USABLE, _USABLE, _USABLE, _USABLE,  # most rows are plain
                   st.none(), st.integers(-3, 3), st.floats(allow_nan=True),
                   st.sampled_from(["", " ", "\u3000", "nan", " N/A ", "NULL", "user", " bot ",
                                    "assistant", "Kelvin \u212a", "x" * 9, "#N/A", "Boß",
                                    "hello there", "2"]),
                   st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(values=st.fixed_dictionaries({"cid": _CELLS, "turn": _CELLS, "who": _CELLS,
                                     "text": _CELLS}),
       order=st.booleans(), drop=st.booleans(), na=st.sampled_from([(), ("bot", "boss")]))
def test_plain_turn_shortcut_agrees_with_the_checked_turn(
    values: dict[str, Any], order: bool, drop: bool, na: tuple[str, ...],
) -> None:
    from ftprep.convert.grouping import GroupSpec, _checked_turn, _plain_turn
    from ftprep.convert.records import Cells, Speakers
    from ftprep.io.readers import Row
    from ftprep.io.readers.xlsx import CellError

    if isinstance(values["text"], str) and values["text"].startswith("#"):
        values["text"] = CellError(values["text"])  # a spreadsheet error is never text
    spec = GroupSpec("cid", "text", "who", "turn" if order else None,
                     Speakers(drop_empty_turns=drop), Cells.with_na(na))
    row = Row(7, 9, values)
    shortcut = _plain_turn(row, 3, spec)
    assert shortcut is None or shortcut == _checked_turn(row, 3, spec)
    plain = {"cid": "c1", "turn": " 2 ", "who": " user ", "text": "hello there "}
    assert _plain_turn(Row(1, 2, plain), 3, spec) == _checked_turn(Row(1, 2, plain), 3, spec)
    edges = [None, 3, float("nan"), "", " ", "\u3000", "nan", " N/A ", "Boß", "BOSS", " bot",
             CellError("#N/A"), CellError("fine text"), "Kelvin \u212a"]
    for column in plain:  # one unusual cell among plain ones: every edge in every column
        for edge in edges:
            row = Row(1, 2, {**plain, column: edge})
            shortcut = _plain_turn(row, 3, spec)
            assert shortcut is None or shortcut == _checked_turn(row, 3, spec), (column, edge)
