"""Conversion of real exports (issue #11): missing-value spellings, speakers, and the promise
that convert never writes a record its own validate refuses. Each test uses the shape of
input that showed the problem."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftprep.convert import ConvertOptions, convert
from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))  # the installed script


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def rejects_of(path: Path) -> list[tuple[Any, ...]]:
    return [(r["line"], r["field"], r["reason"]) for r in jsonl(path)]


# ---------------------------------------------------------------- item 2: one missing-value rule


def test_csv_na_spellings_are_missing_like_in_xlsx(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nq1,#N/A\nq2,N/A\nq3,NULL\nq4,real answer\nq5, na \n")
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions(user="q", assistant="a"))
    assert (result.read, result.written, result.reasons) == (5, 1, {"missing": 4})
    assert rejects_of(tmp_path / "o.rejects.jsonl") == [
        (2, "a", "missing"), (3, "a", "missing"), (4, "a", "missing"), (6, "a", "missing")]
    detail = jsonl(tmp_path / "o.rejects.jsonl")[0]["detail"]
    assert detail == "the text '#N/A' means no value"


def test_na_values_adds_and_no_default_keeps_text(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "q,a\nq1,-\nq2,None\nq3,ok\n")
    more = convert(src, tmp_path / "a.jsonl",
                   ConvertOptions(user="q", assistant="a", na_values=("-",)))
    assert (more.written, more.reasons) == (1, {"missing": 2})
    only = convert(src, tmp_path / "b.jsonl", ConvertOptions(
        user="q", assistant="a", na_values=("-",), keep_default_na=False))
    assert (only.written, only.reasons) == (2, {"missing": 1})
    assert [r["messages"][1]["content"] for r in jsonl(tmp_path / "b.jsonl")] == ["None", "ok"]


def test_na_rule_applies_to_parquet_and_multiturn(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"q": ["a", "b"], "a": ["#N/A", "yes"]}), tmp_path / "t.parquet")
    result = convert(tmp_path / "t.parquet", tmp_path / "o.jsonl",
                     ConvertOptions(user="q", assistant="a"))
    assert (result.written, result.reasons) == (1, {"missing": 1})
    flat = write(tmp_path / "f.csv", "c,who,t\n1,user,hi\n1,assistant,N/A\n")
    grouped = convert(flat, tmp_path / "g.jsonl", ConvertOptions(
        group_by="c", role_column="who", content_column="t"))
    assert grouped.reasons == {"missing": 1}


# ---------------------------------------------------------------- item 5: never write what validate refuses


def test_chat_passthrough_with_unknown_keys_is_rejected_with_the_rule_code(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    bad_key = {"messages": [{"role": "user", "content": "q", "mood": "x"},
                            {"role": "assistant", "content": "a"}]}
    src = write(tmp_path / "c.jsonl", f"{json.dumps(good)}\n{json.dumps(bad_key)}\n")
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions())
    assert (result.written, result.reasons) == (1, {"FT203": 1})
    reject = jsonl(tmp_path / "o.rejects.jsonl")[0]
    assert (reject["line"], reject["field"], reject["reason"]) == (2, "messages[0].mood", "FT203")
    assert "unknown key 'mood'" in reject["detail"]


def test_sharegpt_without_assistant_turn_is_rejected_ft302(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "human", "value": "only a question"}]},
            {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}]
    src = write(tmp_path / "s.json", json.dumps(rows))
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions())
    assert (result.written, result.reasons) == (1, {"FT302": 1})
    assert validate_file(tmp_path / "o.jsonl", ignore=["FT107"]).ok  # FT107: 1 example < 10


_text = st.one_of(st.sampled_from(["", " ", "hi", "N/A", "<|endoftext|>", "x" * 3]),
                  st.text(max_size=12))
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "human"]),
     "content": st.one_of(_text, st.none())},
    optional={"weight": st.sampled_from([0, 1, 2, True]), "name": st.sampled_from(["a", "b c"])})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.fixed_dictionaries({"messages": st.lists(_message, max_size=4)},
                                              optional={"extra": st.just(1)}),
                        min_size=1, max_size=6))
def test_whatever_convert_writes_validate_accepts(tmp_path: Path, records: list[Any]) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    records = [good, *records]  # at least one record is written, so validate always has work
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "p.out.jsonl"
    result = convert(src, out, ConvertOptions())
    assert result.read == len(records) == result.written + result.rejected
    assert result.written >= 1
    report = validate_file(out, ignore=["FT107"])  # the example count is not a record's fault
    assert report.errors == 0, [f.to_dict() for f in report.findings][:3]


# ---------------------------------------------------------------- item 6: speakers


def test_role_map_applies_to_sharegpt(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "customer", "value": "q"},
                               {"from": "Agent", "value": "a"}]}]
    src = write(tmp_path / "s.json", json.dumps(rows))
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions(
        role_map={"customer": "user", "agent": "assistant"}))
    assert result.written == 1
    assert [m["role"] for m in jsonl(tmp_path / "o.jsonl")[0]["messages"]] == ["user", "assistant"]


def test_uuid_speakers_alternate_from_first_speaker(tmp_path: Path) -> None:
    src = write(tmp_path / "f.csv", "cid,speaker,text\n"
                "1,7f0c,hello\n1,9b2e,hi\n1,7f0c,how are you\n1,9b2e,fine\n"
                "2,aa,x\n2,bb,y\n2,cc,z\n")
    opts = {"group_by": "cid", "role_column": "speaker", "content_column": "text"}
    plain = convert(src, tmp_path / "a.jsonl", ConvertOptions(**opts))
    assert plain.written == 0 and plain.unknown_speakers == {"7f0c": 1, "aa": 1}
    alternating = convert(src, tmp_path / "b.jsonl", ConvertOptions(**opts, first_speaker="user"))
    assert (alternating.written, alternating.reasons) == (1, {"unknown_role": 1})
    roles = [m["role"] for m in jsonl(tmp_path / "b.jsonl")[0]["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    third = jsonl(tmp_path / "b.rejects.jsonl")[0]
    assert (third["line"], third["value"]) == (8, "cc")  # located at the third speaker's row


def test_drop_empty_turns_keeps_the_conversation_and_counts(tmp_path: Path) -> None:
    src = write(tmp_path / "f.csv", "cid,who,text\n1,user,q\n1,assistant,\n1,assistant,a\n")
    opts = {"group_by": "cid", "role_column": "who", "content_column": "text"}
    strict = convert(src, tmp_path / "a.jsonl", ConvertOptions(**opts))
    assert strict.reasons == {"empty": 1}
    lenient = convert(src, tmp_path / "b.jsonl", ConvertOptions(**opts, drop_empty_turns=True))
    assert (lenient.written, lenient.dropped_turns) == (1, 1)
    assert jsonl(tmp_path / "b.jsonl")[0]["messages"][1] == {"role": "assistant", "content": "a"}
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": " "},
                               {"from": "gpt", "value": "a"}]}]
    sg = convert(write(tmp_path / "s.json", json.dumps(rows)), tmp_path / "c.jsonl",
                 ConvertOptions(drop_empty_turns=True))
    assert (sg.written, sg.dropped_turns) == (1, 1)


def test_cli_names_unknown_speakers_in_the_summary(tmp_path: Path) -> None:
    src = write(tmp_path / "f.csv", "cid,who,text\n1,human,q\n1,bot,a\n2,human,q\n2,bot,b\n")
    run = subprocess.run(
        [FTPREP, "convert", str(src), "-o", str(tmp_path / "o.jsonl"),
         "--group-by", "cid", "--role-column", "who", "--content-column", "text"],
        capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "speakers without a role: 'human' ×2 — map them with --role-map" in run.stdout
    fixed = subprocess.run(
        [FTPREP, "convert", str(src), "-o", str(tmp_path / "o.jsonl"),
         "--group-by", "cid", "--role-column", "who", "--content-column", "text",
         "--role-map", "human=user,bot=assistant", "--format", "json"],
        capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stderr
    summary = json.loads(fixed.stdout)
    assert (summary["written"], summary["unknown_speakers"], summary["dropped_turns"]) == (2, {}, 0)


def test_cli_flags_reach_the_library(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ftprep.cli import main

    src = write(tmp_path / "f.csv", "cid,who,text\n1,u1,q\n1,u2,\n1,u2,None\n1,u2,-\n1,u2,a\n")
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(main, [
        "convert", str(src), "-o", str(out), "--group-by", "cid", "--role-column", "who",
        "--content-column", "text", "--first-speaker", "user", "--drop-empty-turns",
        "--na-values", "-", "--no-default-na", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["dropped_turns"] == 2  # '' and '-'; 'None' is text here
    assert [m["content"] for m in jsonl(out)[0]["messages"]] == ["q", "None\n\na"]


# ---------------------------------------------------------------- items 1, 3, 4, 9: reading real exports


def test_stray_quote_is_read_but_named_with_lines_vs_rows(tmp_path: Path) -> None:
    lines = ["q,a", '"I\'m stuck,help'] + [f"q{i},a{i}" for i in range(6)] + ['end",x', "q9,a9"]
    src = write(tmp_path / "t.csv", "\n".join(lines) + "\n")
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions(user="q", assistant="a"))
    assert (result.rows, result.lines) == (2, 10)  # 2 rows from 10 physical lines
    assert result.warnings == [
        "row 1 (line 2): the quoted field 'q' spans 8 lines and holds 6 line(s) that look like "
        "whole rows — a stray quote?"]


def test_semicolon_csv_is_sniffed_and_delimiter_can_be_forced(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "Frage;Antwort\nHallo, wie geht's?;Gut, danke\n")
    result = convert(src, tmp_path / "o.jsonl", ConvertOptions(user="Frage", assistant="Antwort"))
    assert result.written == 1 and "delimiter ';' detected" in result.warnings[0]
    assert jsonl(tmp_path / "o.jsonl")[0]["messages"][0]["content"] == "Hallo, wie geht's?"
    comma = write(tmp_path / "c.csv", "q;x,a\n1;2,3\n")
    forced = convert(comma, tmp_path / "f.jsonl",
                     ConvertOptions(user="q;x", assistant="a", delimiter=","))
    assert forced.written == 1 and forced.warnings == []


def test_pandas_index_column_is_dropped_only_when_it_is_an_index(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"q": ["x", "y"], "a": ["1", "2"]})
    frame.to_csv(tmp_path / "p.csv")  # pandas' default: index=True, header ",q,a"
    result = convert(tmp_path / "p.csv", tmp_path / "o.jsonl",
                     ConvertOptions(user="q", assistant="a"))
    assert result.written == 2 and "pandas index" in result.warnings[0]
    frame.to_excel(tmp_path / "p.xlsx")
    assert convert(tmp_path / "p.xlsx", tmp_path / "x.jsonl",
                   ConvertOptions(user="q", assistant="a")).written == 2
    write(tmp_path / "n.csv", ",q,a\n0,x,y\n7,x,y\n")
    import pytest

    from ftprep.errors import InputError
    with pytest.raises(InputError, match=r"n\.csv:3: the first column has no name"):
        convert(tmp_path / "n.csv", tmp_path / "n.jsonl", ConvertOptions(user="q", assistant="a"))


def test_header_spaces_match_the_same_in_every_format(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    write(tmp_path / "t.csv", "Customer Question ,Answer\nq,a\n")
    pq.write_table(pa.table({"Customer Question ": ["q"], "Answer": ["a"]}), tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        result = convert(tmp_path / name, tmp_path / f"{name}.jsonl",
                         ConvertOptions(user="Customer Question", assistant="Answer"))
        assert result.written == 1, name
        assert result.warnings == ["user='Customer Question' matched the column "
                                   "'Customer Question ' (spaces trimmed)"], name
    templated = convert(tmp_path / "t.csv", tmp_path / "tpl.jsonl", ConvertOptions(
        user_template="Q: {Customer Question}", assistant="Answer"))
    assert jsonl(tmp_path / "tpl.jsonl")[0]["messages"][0]["content"] == "Q: q"
    assert templated.written == 1


def test_xlsx_row_level_rejects_name_the_sheet_column(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    sheet = wb.active
    for row in ([None, "q", "a"], [None, "x", "y", "extra"], [None, "p", "=1+1"],
                [None, "p", "q", None, "=2+2"], [None, "ok", "fine"]):
        sheet.append(row)  # the table starts in column B
    wb.save(tmp_path / "b.xlsx")
    result = convert(tmp_path / "b.xlsx", tmp_path / "b.jsonl", ConvertOptions(user="q",
                                                                               assistant="a"))
    assert (result.written, result.rejected) == (1, 3)
    # a cell past the header, a formula in a named column, a formula past the header
    assert [(r["line"], r["field"], r["reason"]) for r in jsonl(tmp_path / "b.rejects.jsonl")] \
        == [(2, "column D", "ragged_row"), (3, "a", "uncached_formula"),
            (4, "column E", "uncached_formula")]


def _workbook(tmp_path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "Q1"
    first.append(["Support export, Q1"])  # a title row above the header
    first.append([])
    first.append(["q", "a"])
    first.append(["x", "y"])
    first.append(["=1+1", "=A5"])  # formulas never calculated (written by a script)
    second = wb.create_sheet("Q2")
    second.append(["q", "a"])
    second.append(["x2", "y2"])
    wb.create_sheet("Notes").append(["free text"])
    wb.save(tmp_path / "w.xlsx")
    return tmp_path / "w.xlsx"


def test_xlsx_sheets_header_row_and_uncached_formulas(tmp_path: Path) -> None:
    book = _workbook(tmp_path)
    opts = {"user": "q", "assistant": "a", "header_row": 3}
    first = convert(book, tmp_path / "a.jsonl", ConvertOptions(**opts))
    assert (first.read, first.written, first.reasons) == (2, 1, {"uncached_formula": 1})
    assert first.warnings == ["sheet(s) not read: Q2, Notes (--sheet NAME|INDEX|all)"]
    reject = jsonl(tmp_path / "a.rejects.jsonl")[0]
    assert (reject["line"], reject["field"], reject["reason"]) == (5, "q", "uncached_formula")
    assert "A5, B5 were never calculated" in reject["detail"]
    second = convert(book, tmp_path / "b.jsonl",
                     ConvertOptions(user="q", assistant="a", sheet="Q2"))
    assert second.written == 1 and second.warnings == ["sheet(s) not read: Q1, Notes (--sheet "
                                                       "NAME|INDEX|all)"]
    by_position = convert(book, tmp_path / "c.jsonl",
                          ConvertOptions(user="q", assistant="a", sheet="2"))
    assert jsonl(tmp_path / "c.jsonl") == jsonl(tmp_path / "b.jsonl")
    assert by_position.written == 1
    import pytest

    from ftprep.errors import InputError, UsageError
    with pytest.raises(UsageError, match="no such sheet"):
        convert(book, tmp_path / "d.jsonl", ConvertOptions(user="q", assistant="a", sheet="Q9"))
    every = convert(book, tmp_path / "e.jsonl", ConvertOptions(**opts, sheet="all"))
    assert every.read == 2  # Q2 and Notes have nothing from row 3 on: said, not dropped
    assert every.warnings == ["sheet 'Q2' has no header row: not read",
                              "sheet 'Notes' has no header row: not read"]
    import openpyxl

    other = openpyxl.Workbook()
    other.active.append(["q", "a"])
    other.create_sheet("B").append(["question", "answer"])
    other.save(tmp_path / "o.xlsx")
    with pytest.raises(InputError, match="sheet 'B' has other columns"):
        convert(tmp_path / "o.xlsx", tmp_path / "f.jsonl",
                ConvertOptions(sheet="all", user="q", assistant="a"))


def test_xlsx_all_sheets_read_in_order(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["q", "a"])
    wb.active.append(["x1", "y1"])
    wb.create_sheet("B").append(["q", "a"])
    wb["B"].append(["x2", "y2"])
    wb.save(tmp_path / "w.xlsx")
    result = convert(tmp_path / "w.xlsx", tmp_path / "o.jsonl",
                     ConvertOptions(user="q", assistant="a", sheet="all"))
    assert (result.written, result.warnings) == (2, [])
    assert [r["messages"][0]["content"] for r in jsonl(tmp_path / "o.jsonl")] == ["x1", "x2"]


def test_rejects_of_several_sheets_name_their_sheet(tmp_path: Path) -> None:
    # Row 2 of sheet A and row 2 of sheet B: the sheet row alone would not say which.
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "A"
    for values in (["q", "a"], ["x1", None], ["x2", "y2"]):
        wb.active.append(values)
    sheet_b = wb.create_sheet("B")
    for values in (["q", "a"], ["x3", None]):
        sheet_b.append(values)
    wb.save(tmp_path / "w.xlsx")
    every = convert(tmp_path / "w.xlsx", tmp_path / "o.jsonl",
                    ConvertOptions(user="q", assistant="a", sheet="all"))
    assert (every.read, every.written, every.rejected) == (3, 1, 2)
    assert [(r["row"], r.get("sheet"), r["line"]) for r in jsonl(tmp_path / "o.rejects.jsonl")] \
        == [(1, "A", 2), (3, "B", 2)]
    one = convert(tmp_path / "w.xlsx", tmp_path / "b.jsonl",
                  ConvertOptions(user="q", assistant="a", sheet="B"))
    assert one.rejected == 1
    assert list(jsonl(tmp_path / "b.rejects.jsonl")[0])[:3] == ["row", "line", "field"]  # no sheet


# ---------------------------------------------------------------- item 9: usage dead ends


def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from ftprep.cli import main

    return CliRunner().invoke(main, list(args))


def test_split_test_written_as_a_fraction_is_a_fraction() -> None:
    import pytest

    from ftprep.errors import UsageError
    from ftprep.split import parse_test_size

    assert (parse_test_size("1"), parse_test_size("0.25"), parse_test_size(3)) == (1, 0.25, 3)
    for whole_fraction in ("1.0", "2.0", 1.0, "500.0"):
        with pytest.raises(UsageError, match="nothing for train"):
            parse_test_size(whole_fraction)


def test_count_and_estimate_of_an_empty_file_exit_1(tmp_path: Path) -> None:
    empty = write(tmp_path / "e.jsonl", "")
    for command in ("count", "estimate"):
        r = _cli(command, str(empty), "-m", "gpt-4o-mini")
        assert r.exit_code == 1, (command, r.output)
        assert f"{empty}: no examples (is the file empty?)" in r.output


def test_token_rules_without_a_model_are_a_usage_error(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    src = write(tmp_path / "c.jsonl", json.dumps(good) + "\n")
    r = _cli("validate", str(src), "--select", "FT7")
    assert r.exit_code == 2 and "token-limit rules (FT7xx), which need" in r.output
    assert _cli("validate", str(src), "--select", "FT7", "-m", "gpt-4o-mini").exit_code == 0


def test_preference_table_with_other_column_names(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", "question,good,bad\nq1,a1,b1\nq2,N/A,b2\n")
    result = convert(src, tmp_path / "o.jsonl",
                     ConvertOptions(prompt="question", chosen="good", rejected="bad"))
    assert (result.format_from, result.written, result.reasons) == (
        "preference", 1, {"missing": 1})
    record = jsonl(tmp_path / "o.jsonl")[0]
    assert record["input"]["messages"] == [{"role": "user", "content": "q1"}]
    assert record["non_preferred_output"] == [{"role": "assistant", "content": "b1"}]
    import pytest

    from ftprep.errors import UsageError
    with pytest.raises(UsageError, match=r"^rejected: unknown column 'rejected'"):
        convert(src, tmp_path / "x.jsonl", ConvertOptions(prompt="question", chosen="good"))


def test_mapped_table_rejects_name_the_input_column(tmp_path: Path) -> None:
    # A preference table's rejects said the record key (`prompt`, `chosen[0].content`), not
    # the column the user can fix; chat tables and templates already named their column.
    src = write(tmp_path / "p.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"q": "", "good": "a", "bad": "b"}, {"q": "x", "good": None, "bad": "b"},
        {"q": "x", "good": "a", "bad": " "},
        {"q": [{"role": "user", "content": None}], "good": "a", "bad": "b"},
        {"q": "x", "good": ["a"], "bad": "b"}]))
    result = convert(src, tmp_path / "o.jsonl",
                     ConvertOptions(prompt="q", chosen="good", rejected="bad"))
    assert (result.read, result.written, result.rejected) == (5, 0, 5)
    rejects = jsonl(Path(result.rejects or ""))
    assert [(x["field"], x["reason"]) for x in rejects] == [
        ("q", "empty"), ("good", "missing"), ("bad", "empty"), ("q[0].content", "missing"),
        ("good", "bad_messages")]
    assert list(rejects[0]) == ["row", "line", "field", "reason", "source"]  # keys unchanged
    # Only --chosen mapped: the others default to their own names, and say so.
    other = write(tmp_path / "d.csv", "prompt,good,rejected\n,a,b\n")
    convert(other, tmp_path / "d.jsonl", ConvertOptions(chosen="good"))
    assert jsonl(tmp_path / "d.rejects.jsonl")[0]["field"] == "prompt"

    table = write(tmp_path / "t.csv", "question,answer\n,x\ny,\n")
    for options in (ConvertOptions(user="question", assistant="answer"),
                    ConvertOptions(user_template="Q: {question}", assistant_template="{answer}")):
        convert(table, tmp_path / "t.jsonl", options)
        assert [x["field"] for x in jsonl(tmp_path / "t.rejects.jsonl")] == ["question", "answer"]


def test_installed_preference_table_rejects_name_the_column(tmp_path: Path) -> None:
    src = write(tmp_path / "p.csv", "q,c,r\nhello,good,bad\nhi,,bad\n")
    out = tmp_path / "o.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--prompt", "q", "--chosen",
                        "c", "--rejected", "r"], capture_output=True, text=True, check=False,
                       timeout=60)
    assert r.returncode == 1, r.stderr
    assert (tmp_path / "o.rejects.jsonl").read_text(encoding="utf-8") == (
        '{"row":2,"line":3,"field":"c","reason":"empty","source":{"q":"hi","c":"","r":"bad"}}\n')


def test_every_command_with_a_model_takes_m() -> None:
    for command in (["convert"], ["validate"], ["count"], ["estimate"], ["split"], ["submit"]):
        assert "-m, --model" in _cli(*command, "--help").output, command


def test_click_usage_errors_are_one_line_exit_2() -> None:
    for args, text in ((["convert", "x.csv", "--bogus"], "No such option '--bogus'"),
                       (["split", "x.jsonl", "--test"], "'--test' requires an argument"),
                       (["nosuch"], "No such command 'nosuch'"),
                       (["--bogus"], "No such option '--bogus'")):
        proc = subprocess.run([FTPREP, *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("ftprep: error: "), args
        assert text in proc.stderr and "--help')" in proc.stderr, args
