"""Convert end to end on awkward real inputs: token overflow, multi-turn ordering, CR-only CSV,
spreadsheet error cells, stdout sharing (real tokenizer, real files, the installed script
where the behaviour is the CLI's)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ftprep.cli import main
from ftprep.convert import ConvertOptions, convert


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(main, ["convert", *map(str, args)])


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def write_long_conversations(path: Path, conversations: int = 3, turns: int = 40) -> None:
    """Flat multi-turn rows whose conversations are far over gpt-3.5-turbo-0613's 4,096."""
    words = ("alpha", "beta", "gamma", "delta")
    lines = ["cid,turn,speaker,text"]
    for c in range(conversations):
        for t in range(turns):
            speaker = "user" if t % 2 == 0 else "assistant"
            text = " ".join(words[(c + t + i) % 4] for i in range(200))
            lines.append(f"{c},{t},{speaker},{text} end{c}.{t}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


MULTITURN = ["--group-by", "cid", "--order-by", "turn", "--role-column", "speaker",
             "--content-column", "text", "--model", "gpt-3.5-turbo-0613"]


def test_overflow_drop_reason_is_a_stable_key_with_the_counts_in_detail(tmp_path: Path) -> None:
    src, out = tmp_path / "mt.csv", tmp_path / "mt.jsonl"
    write_long_conversations(src)
    r = invoke(src, "-o", out, *MULTITURN, "--on-overflow", "drop", "--format", "json")
    assert r.exit_code == 1, r.output
    summary = json.loads(r.stdout)
    assert summary["reasons"] == {"too_many_tokens": 3}
    rejects = jsonl(tmp_path / "mt.rejects.jsonl")
    assert [x["reason"] for x in rejects] == ["too_many_tokens"] * 3
    assert all(x["field"] == "messages" for x in rejects)
    assert all("over the limit of 4096" in x["detail"] for x in rejects)


def test_overflow_trim_history_end_to_end_fits_and_keeps_system_and_answer(
    tmp_path: Path,
) -> None:
    from ftprep.models import get_model
    from ftprep.tokens import count_example, get_encoding

    src = tmp_path / "mt.csv"
    write_long_conversations(src)
    model = get_model("gpt-3.5-turbo-0613")
    encoding = get_encoding(model.encoding)
    results = {}
    for policy in ("keep", "trim-history", "drop"):
        out = tmp_path / f"{policy}.jsonl"
        results[policy] = convert(src, out, ConvertOptions(
            group_by="cid", order_by="turn", role_column="speaker", content_column="text",
            system_prompt="You are terse.", model="gpt-3.5-turbo-0613", on_overflow=policy))
        result = results[policy]
        assert result.read == result.written + result.rejected == 3 and result.rows == 120
    assert (results["keep"].written, results["drop"].rejected) == (3, 3)
    kept = jsonl(tmp_path / "keep.jsonl")
    assert all(count_example(r, encoding).total > model.max_example_tokens for r in kept)
    trimmed = jsonl(tmp_path / "trim-history.jsonl")
    assert results["trim-history"].written == 3 and len(trimmed) == 3
    for before, after in zip(kept, trimmed, strict=True):
        assert count_example(after, encoding).total <= model.max_example_tokens
        assert after["messages"][0] == {"role": "system", "content": "You are terse."}
        assert after["messages"][-2:] == before["messages"][-2:]  # last question and answer
        assert len(after["messages"]) < len(before["messages"])


def test_one_non_numeric_turn_does_not_reorder_every_conversation(tmp_path: Path) -> None:
    """Before: a single non-number anywhere in --order-by switched the whole file to text
    order, so conversation 1's turn 10 came before its turn 2."""
    rows = ["cid,turn,who,text"]
    rows += [f"1,{t},{'user' if t % 2 == 0 else 'assistant'},m{t}" for t in range(12)]
    rows += ["2,first,user,hello", "2,second,assistant,hi"]
    src, out = tmp_path / "f.csv", tmp_path / "o.jsonl"
    src.write_text("\n".join(rows) + "\n")
    result = convert(src, out, ConvertOptions(
        group_by="cid", order_by="turn", role_column="who", content_column="text"))
    assert (result.read, result.written) == (2, 2)
    first, second = jsonl(out)
    assert [m["content"] for m in first["messages"]] == [f"m{t}" for t in range(12)]
    assert [m["content"] for m in second["messages"]] == ["hello", "hi"]


def test_installed_script_cr_only_csv_to_stdout_reconciles(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "mac.csv"
    src.write_bytes(b'q,a\rHi?,Hello.\r"Two\rlines?",\rWhy?,"Because."\r')
    script = str(Path(sys.executable).with_name("ftprep"))
    proc = subprocess.run(
        [script, "convert", str(src), "-o", "-", "--user", "q", "--assistant", "a",
         "--rejects", str(tmp_path / "r.jsonl"), "--format", "json"],
        capture_output=True, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stderr)
    assert (summary["read"], summary["written"], summary["rejected"]) == (3, 2, 1)
    records = [json.loads(x) for x in proc.stdout.decode().split("\n") if x]
    assert [r["messages"][1]["content"] for r in records] == ["Hello.", "Because."]
    reject = jsonl(tmp_path / "r.jsonl")[0]
    assert (reject["row"], reject["line"], reject["field"], reject["reason"]) == (2, 3, "a", "empty")
    assert reject["source"]["q"] == "Two\rlines?"


def test_spreadsheet_error_cells_are_never_training_text(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["cid", "who", "q", "a"])
    ws.append(["1", "user", "hi", "#N/A"])
    ws.append(["1", "assistant", "#DIV/0!", "ok"])
    ws.append(["2", "user", "fine", "yes"])
    ws.append(["2", "assistant", "good", "#N/A"])  # typed text: missing too, as in a CSV
    for ref in ("D2", "C3"):
        ws[ref].data_type = "e"
    ws["D5"].data_type = "s"  # openpyxl, like Excel, takes a typed "#N/A" for the error
    wb.save(tmp_path / "e.xlsx")
    out = tmp_path / "o.jsonl"
    result = convert(tmp_path / "e.xlsx", out, ConvertOptions(user="q", assistant="a"))
    assert (result.read, result.written, result.reasons) == (4, 1, {"missing": 3})
    assert [r["messages"][1]["content"] for r in jsonl(out)] == ["yes"]
    rejects = jsonl(tmp_path / "o.rejects.jsonl")
    assert [(x["line"], x["field"], x["detail"]) for x in rejects] == [
        (2, "a", "the cell holds the spreadsheet error #N/A"),
        (3, "q", "the cell holds the spreadsheet error #DIV/0!"),
        (5, "a", "the text '#N/A' means no value"),
    ]
    # Opting out of the default spellings keeps the typed text; real error cells stay missing.
    kept = convert(tmp_path / "e.xlsx", tmp_path / "k.jsonl",
                   ConvertOptions(user="q", assistant="a", keep_default_na=False))
    assert (kept.written, kept.reasons) == (2, {"missing": 2})
    assert rejects[0]["source"] == {"cid": "1", "who": "user", "q": "hi", "a": "#N/A"}
    for threshold in (10, 0):  # multi-turn, in memory and spilled
        grouped = convert(tmp_path / "e.xlsx", tmp_path / f"g{threshold}.jsonl", ConvertOptions(
            group_by="cid", role_column="who", content_column="q", spill_threshold=threshold))
        assert (grouped.read, grouped.written, grouped.reasons) == (2, 1, {"missing": 1})
        assert jsonl(tmp_path / f"g{threshold}.jsonl")[0]["messages"][0]["content"] == "fine"


def test_rejects_and_records_cannot_share_stdout(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("q,a\nHi?,\n")
    r = invoke(src, "-o", "-", "--rejects", "-", "--user", "q", "--assistant", "a")
    assert r.exit_code == 2 and "the rejects file cannot be the output file" in r.stderr
    assert r.stdout == ""
    r = invoke(src, "-o", tmp_path / "o.jsonl", "--rejects", "-", "--user", "q", "--assistant", "a")
    assert r.exit_code == 1 and jsonl(tmp_path / "o.jsonl") == []
    assert [json.loads(x)["reason"] for x in r.stdout.splitlines()] == ["empty"]
    assert r.stderr.startswith("read 1, wrote 0, rejected 1")  # the summary kept out of it
