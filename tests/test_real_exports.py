"""Issue #11's acceptance as a new user meets it: the real exports named at the top of the issue
(support-desk CSV, semicolon cp1252, multi-sheet XLSX, HF-style Parquet, ShareGPT and Alpaca
JSON, flat chat logs with UUID speakers, a file with secrets) go through the INSTALLED `ftprep`:
`convert` exits 0/1 as expected, `validate` accepts what it wrote, and every unit read is either
written or in the rejects file with a reason and a location. Counts are checked three ways: the
summary, the files' lines, and what the generator put in (each fixture is built here, seeded)."""
from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FTPREP = str(Path(sys.executable).with_name("ftprep"))  # the installed script


def ftprep(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FTPREP, *map(str, args)], capture_output=True, text=True,
                          check=False, timeout=120)


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Converted:
    summary: dict[str, Any]
    records: list[Any]
    rejects: list[Any]


def convert_and_validate(src: Path, *args: str, rc: int, units: int,
                         validate_args: tuple[str, ...] = ()) -> Converted:
    """convert → the exit code expected → validate accepts the output → written + rejected
    == read == `units` (what the generator made), counted from the files themselves."""
    out = src.with_name(src.stem + ".out.jsonl")
    run = ftprep("convert", src, "-o", out, *args, "--format", "json")
    assert run.returncode == rc, run.stdout + run.stderr
    summary = json.loads(run.stdout)
    records = jsonl(out)
    rejects = jsonl(Path(summary["rejects"])) if summary["rejects"] else []
    if not rejects:  # no rejects file is left behind when nothing was rejected
        assert not out.with_name(out.stem + ".rejects.jsonl").exists()
    assert (len(records), len(rejects)) == (summary["written"], summary["rejected"])
    assert len(records) + len(rejects) == summary["read"] == units
    for reject in rejects:
        assert reject["reason"] and reject["source"] is not None, reject
        assert reject["row"] >= 1 and "line" in reject, reject
        assert reject["field"], reject  # every reject names where, ragged rows included
    check = ftprep("validate", out, *validate_args, "--format", "json")
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert report["valid"] and report["examples"] == len(records)
    return Converted(summary, records, rejects)


def reasons(rejects: list[Any]) -> list[tuple[Any, ...]]:
    return [(r["line"], r["field"], r["reason"]) for r in rejects]


# ---------------------------------------------------------------- support-desk CSV


def support_desk_csv(path: Path, tickets: int = 40, seed: int = 11) -> Path:
    """What a helpdesk tool or `df.to_csv()` writes: a UTF-8 BOM, CRLF, pandas' unnamed index
    column, headers with stray spaces and mixed case, #N/A and empty cells, and one reply that
    starts with a quote that never closes (it swallows the rows up to the next quoted field)."""
    rng = random.Random(seed)
    topics = ["password reset", "invoice copy", "refund", "shipping delay", "plan upgrade"]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["", "Ticket ID", "Customer Question ", " agent REPLY", "Status"])
    for i in range(tickets):
        topic = rng.choice(topics)
        question = (f"Hi, I need help with {topic} (ticket {1000 + i})" if i % 8 == 0
                    else f"Need help with {topic} on ticket {1000 + i}")
        reply = {5: "#N/A", 17: "#N/A", 9: ""}.get(i, f"Ticket {1000 + i} is updated: {topic}")
        out.writerow([i, f"T-{1000 + i}", "" if i == 23 else question, reply,
                      rng.choice(["open", "closed"])])
    text = buf.getvalue().replace("Ticket 1025 is updated", '"Refunds take 5 days')
    path.write_bytes(("\ufeff" + text).encode("utf-8"))
    return path


def test_support_desk_csv(tmp_path: Path) -> None:
    src = support_desk_csv(tmp_path / "support.csv")
    # The quote opened in row 26's reply closes at the quoted question of ticket 1032, so
    # tickets 1026..1032 are text inside row 26: 40 tickets are 33 rows on 41 lines.
    result = convert_and_validate(
        src, "--user", "Customer Question", "--assistant", "agent REPLY",
        "--metadata", "Ticket ID,Status", rc=1, units=33)
    assert (result.summary["rows"], result.summary["lines"]) == (33, 41)
    assert result.summary["reasons"] == {"missing": 2, "empty": 2, "ragged_row": 1}
    assert reasons(result.rejects) == [
        (7, " agent REPLY", "missing"), (11, " agent REPLY", "empty"),
        (19, " agent REPLY", "missing"), (25, "Customer Question ", "empty"),
        (27, "column 6", "ragged_row")]  # past the 5 header columns
    assert result.rejects[0]["detail"] == "the text '#N/A' means no value"
    assert result.summary["warnings"] == [
        "the unnamed first column is a pandas index (0, 1, 2, ...): not read",
        "user='Customer Question' matched the column 'Customer Question ' (spaces trimmed)",
        "assistant='agent REPLY' matched the column ' agent REPLY' (spaces trimmed)",
        "row 26 (line 27): the quoted field ' agent REPLY' spans 8 lines and holds 6 line(s) "
        "that look like whole rows — a stray quote?"]
    # Nothing lost: every ticket is a written record (its metadata) or text in a reject.
    written = {r["metadata"]["Ticket ID"] for r in result.records}
    rejected = json.dumps(result.rejects)
    assert all(f"T-{1000 + i}" in written or f"T-{1000 + i}" in rejected for i in range(40))
    assert not written & {f"T-{i}" for i in range(1025, 1033)}
    first = result.records[0]
    assert first["messages"][0]["content"].startswith("Hi, I need help")  # BOM not in a name
    assert first["metadata"]["Status"] in ("open", "closed")


def test_stray_quote_text_summary_counts_lines_and_rows(tmp_path: Path) -> None:
    src = support_desk_csv(tmp_path / "support.csv")
    run = ftprep("convert", src, "-o", tmp_path / "o.jsonl",
                 "--user", "Customer Question", "--assistant", "agent REPLY")
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("read 33 rows (41 lines), wrote 28, rejected 5")
    assert "warning: row 26 (line 27): the quoted field" in run.stdout


def test_pandas_index_after_a_stray_quote_goes_on_from_the_swallowed_rows(
        tmp_path: Path) -> None:
    """Was exit 2 'the first column ... is not a 0, 1, 2... index (row 27 holds 33)': the
    index values of the swallowed rows sit inside row 26's text. A real gap still stops it."""
    src = support_desk_csv(tmp_path / "support.csv")
    ok = ftprep("convert", src, "-o", tmp_path / "o.jsonl", "--user", "Customer Question",
                "--assistant", "agent REPLY")
    assert ok.returncode == 1 and "rejected 5" in ok.stdout, ok.stderr
    gap = tmp_path / "gap.csv"
    gap.write_text(",q,a\n0,x,y\n1,x,y\n5,x,y\n", encoding="utf-8")
    refused = ftprep("convert", gap, "-o", tmp_path / "g.jsonl", "--user", "q",
                     "--assistant", "a")
    assert refused.returncode == 2
    assert "gap.csv:4: the first column has no name and is not a 0, 1, 2... index (row 3 " \
           "holds '5')" in refused.stderr


# ---------------------------------------------------------------- semicolon / cp1252


def cp1252_csv(path: Path, rows: int = 20) -> Path:
    """German export: `;` between fields, and \u2013 „“ € ä ü as the single cp1252 bytes."""
    lines = ["Frage;Antwort;Kategorie"]
    lines += [f"Wie ändere ich die Adresse für Bestellung {i}?;Unter „Konto“ \u2013 dort "
              f"(Gebühr: {i} €);Konto" for i in range(rows)]
    lines.append("Was kostet der Versand?;N/A;Versand")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def test_semicolon_cp1252_csv(tmp_path: Path) -> None:
    src = cp1252_csv(tmp_path / "de.csv")
    wrong = ftprep("convert", src, "-o", tmp_path / "x.jsonl", "--user", "Frage",
                   "--assistant", "Antwort")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.count("\n") == 1 and "de.csv:2: cannot decode as utf-8" in wrong.stderr
    assert "--encoding" in wrong.stderr
    result = convert_and_validate(src, "--user", "Frage", "--assistant", "Antwort",
                                  "--encoding", "cp1252", rc=1, units=21)
    assert result.summary["warnings"] == [
        "delimiter ';' detected from the header line (--delimiter to override)"]
    assert reasons(result.rejects) == [(22, "Antwort", "missing")]
    assert result.records[3]["messages"] == [
        {"role": "user", "content": "Wie ändere ich die Adresse für Bestellung 3?"},
        {"role": "assistant", "content": "Unter „Konto“ \u2013 dort (Gebühr: 3 €)"}]


# ---------------------------------------------------------------- multi-sheet XLSX


def support_workbook(path: Path, rows: int = 12) -> Path:
    """A report export: a title row and a blank row above the header, a header cell with a
    trailing space, an error cell, a row of formulas a script wrote but nothing calculated,
    and two more sheets that the default read leaves out."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Tickets 2026"
    sheet.append(["Helpdesk export — generated 2026-11-02"])
    sheet.append([])
    sheet.append(["Question", "Answer ", "Score"])
    for i in range(rows):
        sheet.append([f"How do I rotate API key {i}?", f"Settings → Keys → Rotate ({i}).", i])
    sheet.append(["What is my quota?", None, 3])
    error = sheet.cell(row=sheet.max_row, column=2)
    error.value, error.data_type = "#DIV/0!", "e"  # what Excel stores for a failed formula
    sheet.append(['=CONCAT("a","b")', "=A16", 1])  # never calculated: no cached values
    archive = book.create_sheet("Archive")
    archive.append(["Question", "Answer "])
    archive.append(["Old question", "Old answer"])
    book.create_sheet("Lookup").append(["code", "label"])
    book.save(path)
    return path


def test_multi_sheet_xlsx(tmp_path: Path) -> None:
    src = support_workbook(tmp_path / "book.xlsx")
    title = ftprep("convert", src, "-o", tmp_path / "x.jsonl", "--user", "Question",
                   "--assistant", "Answer")
    assert title.returncode == 2
    assert ("--user: unknown column 'Question' (the header read is the single cell "
            "'Helpdesk export — generated 2026-11-02': a title row above the header? give "
            "--header-row N") in title.stderr
    result = convert_and_validate(src, "--user", "Question", "--assistant", "Answer",
                                  "--header-row", "3", rc=1, units=14)
    assert result.summary["warnings"] == [
        "sheet(s) not read: Archive, Lookup (--sheet NAME|INDEX|all)",
        "assistant='Answer' matched the column 'Answer ' (spaces trimmed)"]
    assert reasons(result.rejects) == [(16, "Answer ", "missing"), (17, "Question", "uncached_formula")]
    assert result.rejects[0]["detail"] == "the cell holds the spreadsheet error #DIV/0!"
    assert "A17, B17 were never calculated" in result.rejects[1]["detail"]
    archive = convert_and_validate(src, "--user", "Question", "--assistant", "Answer",
                                   "--sheet", "Archive", rc=0, units=1,
                                   validate_args=("--ignore", "FT107"))  # 1 example < 10
    assert archive.summary["warnings"][0] == (
        "sheet(s) not read: Tickets 2026, Lookup (--sheet NAME|INDEX|all)")
    assert archive.records[0]["messages"][1]["content"] == "Old answer"


def test_pandas_workbook_all_sheets(tmp_path: Path) -> None:
    """`df.to_excel` per sheet (ExcelWriter): each sheet has its own 0..n-1 index left of the
    header. Was exit 2 'a value left of the header's first column' on the second sheet."""
    import pandas as pd

    frame = pd.DataFrame({"Question": [f"q{i}" for i in range(6)],
                          "Answer ": [None if i == 3 else f"a{i}" for i in range(6)]})
    with pd.ExcelWriter(tmp_path / "pd.xlsx") as book:
        frame.to_excel(book, sheet_name="January")
        frame.to_excel(book, sheet_name="February")
    result = convert_and_validate(tmp_path / "pd.xlsx", "--user", "Question", "--assistant",
                                  "Answer", "--sheet", "all", rc=1, units=12)
    assert result.summary["warnings"] == [
        "assistant='Answer' matched the column 'Answer ' (spaces trimmed)",
        "the unnamed first column is a pandas index (0, 1, 2, ...): not read"]
    assert [(r["row"], r["line"], r["reason"]) for r in result.rejects] == [
        (4, 5, "missing"), (10, 5, "missing")]  # sheet row 5 of each sheet


# ---------------------------------------------------------------- HF-style Parquet


def hf_parquet(path: Path, rows: int = 30, seed: int = 13) -> Path:
    """A Hugging Face dataset saved with `to_parquet`: id and provenance columns next to the
    text, a column name with a trailing space, null and 'N/A' answers, NaN scores."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    answers: list[str | None] = [f"Release {i} fixes the login timeout." for i in range(rows)]
    answers[4], answers[7] = None, "N/A"
    pq.write_table(pa.table({
        "id": [f"ex-{i:04d}" for i in range(rows)],
        "question ": [f"Summarise release note {i} in one sentence." for i in range(rows)],
        "answer": answers,
        "source": [rng.choice(["forum", "docs"]) for _ in range(rows)],
        "quality_score": [float("nan") if i == 2 else round(rng.random(), 3)
                          for i in range(rows)],
        "tags": [["release", "notes"]] * rows,
    }), path)
    return path


def test_hf_parquet_with_extra_columns(tmp_path: Path) -> None:
    src = hf_parquet(tmp_path / "hf.parquet")
    result = convert_and_validate(
        src, "--user", "question", "--assistant", "answer",
        "--metadata", "id,source,quality_score", rc=1, units=30)
    assert result.summary["warnings"] == [
        "user='question' matched the column 'question ' (spaces trimmed)"]
    assert [(r["row"], r["line"], r["field"], r["reason"]) for r in result.rejects] == [
        (5, None, "answer", "missing"), (8, None, "answer", "missing")]  # Parquet: no lines
    ids = [r["metadata"]["id"] for r in result.records] + [
        r["source"]["id"] for r in result.rejects]
    assert sorted(ids) == [f"ex-{i:04d}" for i in range(30)]
    assert result.records[2]["metadata"] == {"id": "ex-0002", "source": "forum",
                                             "quality_score": None}  # NaN cell: no value
    split = ftprep("split", src.with_name("hf.out.jsonl"), "--test", "0.25", "--seed", "1",
                   "--group-by", "metadata.source", "-o", tmp_path / "split")
    assert split.returncode == 0, split.stdout + split.stderr


def test_hf_alpaca_parquet_is_detected(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 12
    pq.write_table(pa.table({
        "id": list(range(rows)),
        "instruction ": [f"Classify ticket {i} by urgency." for i in range(rows)],  # sic
        "input": ["" if i % 2 else f"Ticket text {i}" for i in range(rows)],
        "output": ["high" if i % 3 else "low" for i in range(rows)],
        "source": ["crowd"] * rows,
    }), tmp_path / "alpaca.parquet")
    result = convert_and_validate(tmp_path / "alpaca.parquet", "--metadata", "id", rc=0,
                                  units=rows)
    assert result.summary["format_from"] == "alpaca"  # recognised as column options match:
    assert result.summary["warnings"] == [  # the exact name first, else trimmed (said)
        "column 'instruction ' read as 'instruction' (spaces trimmed)"]
    assert result.records[0]["messages"][0]["content"] == (
        "Classify ticket 0 by urgency.\n\nTicket text 0")
    assert result.records[11]["metadata"] == {"id": 11}


# ---------------------------------------------------------------- ShareGPT and Alpaca JSON


def sharegpt_json(path: Path, good: int = 12) -> Path:
    convs: list[dict[str, Any]] = [
        {"id": f"c{i}", "conversations": [
            {"from": "human", "value": f"How do I export report {i}?"},
            {"from": "gpt", "value": f"Use File → Export on report {i}."}]} for i in range(good)]
    convs += [
        {"id": "no-answer", "conversations": [{"from": "human", "value": "Hello? Anyone?"}]},
        {"id": "moderated", "conversations": [
            {"from": "human", "value": "q"}, {"from": "moderator", "value": "[removed]"},
            {"from": "gpt", "value": "a"}]},
        {"id": "empty-turn", "conversations": [
            {"from": "human", "value": "Is it down?"}, {"from": "gpt", "value": ""},
            {"from": "human", "value": "Still there?"}, {"from": "gpt", "value": "Yes, fixed."}]},
        {"id": "system", "conversations": [
            {"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello."}]},
    ]
    path.write_text(json.dumps(convs, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def validate_says_convert(src: Path, source: str) -> None:
    """Item 14 on the shape these exports really have, a JSON array: one FT941 naming the
    command, not FT105 'a JSON array' or an error per line."""
    run = ftprep("validate", src, "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert [(i["code"], i["line"]) for i in report["issues"]] == [("FT941", 1)]
    assert f"--from {source}" in report["issues"][0]["message"]


def test_sharegpt_json(tmp_path: Path) -> None:
    src = sharegpt_json(tmp_path / "sharegpt.json")
    validate_says_convert(src, "sharegpt")
    result = convert_and_validate(src, rc=1, units=16)
    assert result.summary["unknown_speakers"] == {"moderator": 1}
    assert [(r["row"], r["field"], r["reason"]) for r in result.rejects] == [
        (13, "messages", "FT302"), (14, "conversations[1].from", "unknown_role"),
        (15, "conversations[1].value", "empty")]
    text = src.read_text(encoding="utf-8").splitlines()
    for reject in result.rejects:  # each line is where that conversation starts in the file
        assert text[reject["line"] - 1].strip() == "{"
        assert f'"id": "{reject["source"]["id"]}"' in text[reject["line"]]
    lenient = convert_and_validate(src, "--drop-empty-turns", "--role-map", "moderator=user",
                                   rc=1, units=16)
    assert lenient.summary["dropped_turns"] == 1
    assert lenient.summary["reasons"] == {"FT302": 1}
    assert lenient.records[-1]["messages"][0] == {"role": "system", "content": "Be brief."}


def alpaca_json(path: Path) -> Path:
    rows = [{"instruction": f"Translate '{w}' to German.", "input": "", "output": o}
            for w, o in [("house", "Haus"), ("tree", "Baum"), ("car", "Auto"), ("door", "Tür"),
                         ("bread", "Brot"), ("water", "Wasser"), ("night", "Nacht"),
                         ("book", "Buch"), ("train", "Zug"), ("cheese", "Käse")]]
    rows += [{"instruction": "Summarise the text.", "input": "A long text.", "output": ""},
             {"instruction": "", "input": "x", "output": "y"}]
    text = json.dumps(rows, indent=1, ensure_ascii=False)[:-2]  # without the closing "\n]"
    # Python's json writes (and reads) these; they are not JSON numbers, and 1e999 overflows.
    text += (',\n {"instruction": "Divide 1 by 0.", "input": "", "output": Infinity},'
             '\n {"instruction": "How big?", "input": "", "output": 1e999},'
             '\n {"instruction": "Is NaN a number?", "input": "", "output": NaN},'
             '\n {"instruction": "Score it.", "input": "", "output": "7", "score": 1e999}\n]')
    path.write_text(text, encoding="utf-8")
    return path


def test_alpaca_json(tmp_path: Path) -> None:
    src = alpaca_json(tmp_path / "alpaca.json")
    validate_says_convert(src, "alpaca")
    result = convert_and_validate(src, rc=1, units=16)
    assert result.summary["format_from"] == "alpaca"
    assert [(r["row"], r["field"], r["reason"]) for r in result.rejects] == [
        (11, "output", "empty"), (12, "instruction", "empty"), (13, "output", "not_finite"),
        (14, "output", "not_finite"), (15, "output", "missing")]
    assert result.rejects[2]["detail"] == "inf is not a finite number"
    written = [r["messages"][1]["content"] for r in result.records]
    assert "inf" not in written and written[-1] == "7"  # the unused 'score' is not written
    assert "null" not in src.with_name("alpaca.out.jsonl").read_text(encoding="utf-8")


def test_not_finite_numbers_kept_in_a_record_are_rejected_with_the_path(
        tmp_path: Path) -> None:
    """Issue #11 item 7: orjson writes NaN/Infinity as null. A chat record passed through
    with a non-finite number anywhere is rejected, naming where, never written as null."""
    base = '{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"a"}]'
    lines = [base % i + "}" for i in range(10)]
    lines.append(base % 10 + ',"tools":[{"type":"function","function":{"name":"f",'
                 '"parameters":{"type":"object","properties":{"x":{"maximum":1e999}}}}}]}')
    src = tmp_path / "chat.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = convert_and_validate(src, rc=1, units=11)
    assert reasons(result.rejects) == [
        (11, "tools[0].function.parameters.properties.x.maximum", "not_finite")]
    assert "null" not in src.with_name("chat.out.jsonl").read_text(encoding="utf-8")


# ---------------------------------------------------------------- flat chat logs, UUID speakers


def chat_log_csv(path: Path, conversations: int = 12, seed: int = 14) -> Path:
    """One row per message, speakers as UUIDs (customer, agent), rows out of order: the
    order is in the timestamp. One conversation has a third speaker, one an empty message."""
    rng = random.Random(seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    rows = []
    for c in range(conversations):
        cid, customer, agent = new_id(), new_id(), new_id()
        turns = [(customer, f"Hello, order {c} has not arrived"),
                 (agent, f"Sorry about order {c}, let me check."),
                 (customer, "Thanks"), (agent, "It ships tomorrow.")]
        if c == 3:
            turns.insert(2, (new_id(), "A supervisor joined the chat"))
        if c == 5:
            turns[2] = (customer, "")
        rows += [[cid, f"2026-11-{1 + c:02d}T10:{i:02d}:00Z", who, text]
                 for i, (who, text) in enumerate(turns)]
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["conversation_id", "sent_at", "sender_id", "message"])
        writer.writerows(rows)
    return path


def test_flat_chat_log_with_uuid_speakers(tmp_path: Path) -> None:
    src = chat_log_csv(tmp_path / "chatlog.csv")
    columns = ("--group-by", "conversation_id", "--order-by", "sent_at",
               "--role-column", "sender_id", "--content-column", "message")
    plain = ftprep("convert", src, "-o", tmp_path / "plain.jsonl", *columns)
    assert plain.returncode == 1
    assert "wrote 0, rejected 12" in plain.stdout
    assert "or --first-speaker user" in plain.stdout  # the way out, named
    result = convert_and_validate(src, *columns, "--first-speaker", "user",
                                  "--drop-empty-turns", rc=1, units=12)
    assert (result.summary["rows"], result.summary["dropped_turns"]) == (49, 1)
    assert [r["reason"] for r in result.rejects] == ["unknown_role"]
    third = result.rejects[0]
    assert third["field"] == "sender_id" and "a third speaker" in third["detail"]
    assert src.read_text(encoding="utf-8").splitlines()[third["line"] - 1].endswith(
        "A supervisor joined the chat")  # located at the third speaker's own row
    for record in result.records:
        roles = [m["role"] for m in record["messages"]]
        assert roles[0] == "user" and roles[-1] == "assistant"
        assert record["messages"][0]["content"].startswith("Hello, order")  # time order
    text = ftprep("convert", src, "-o", tmp_path / "t.jsonl", *columns, "--first-speaker",
                  "user")
    # Already alternating: the remaining speaker can only be placed with --role-map.
    assert "— map them with --role-map VALUE=ROLE\n" in text.stdout


# ---------------------------------------------------------------- secrets and PII


SECRETS = {
    "sk-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789": "FT901",
    "AKIAIOSFODNN7EXAMPLE": "FT901",
    "4111 1111 1111 1111": "FT903",
    "jane.doe@example.com": "FT911",
}


def test_secrets_are_found_and_redacted(tmp_path: Path) -> None:
    src = tmp_path / "tickets.csv"
    rows = [("My key is sk-proj-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789, leaked?",
             "Rotate it now."),
            ("We use AKIAIOSFODNN7EXAMPLE for S3 uploads", "Move it to a secret store."),
            ("Card 4111 1111 1111 1111 was charged twice", "The second charge is refunded."),
            ("Please write to jane.doe@example.com", "Done.")]
    rows += [(f"Where is invoice {i}?", f"Invoice {i} is under Billing.") for i in range(8)]
    with src.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("question", "answer"), *rows])
    plain = tmp_path / "plain.jsonl"
    assert ftprep("convert", src, "-o", plain, "--user", "question",
                  "--assistant", "answer").returncode == 0
    found = ftprep("validate", plain, "--format", "json")
    assert found.returncode == 1
    issues = json.loads(found.stdout)["issues"]
    assert sorted((i["code"], i["line"]) for i in issues) == [
        ("FT901", 1), ("FT901", 2), ("FT903", 3), ("FT911", 4)]
    shown = ftprep("validate", plain)
    for secret in SECRETS:  # masked in every output, never printed
        assert secret not in found.stdout + shown.stdout + shown.stderr
    redacted = convert_and_validate(src, "--user", "question", "--assistant", "answer",
                                    "--redact", rc=0, units=12)
    assert redacted.summary["redacted"] == {"aws_key": 1, "card_number": 1, "email": 1,
                                            "openai_key": 1}
    text = src.with_name("tickets.out.jsonl").read_text(encoding="utf-8")
    assert not [s for s in SECRETS if s in text]
    assert "<OPENAI_KEY>" in text and "<EMAIL>" in text


@pytest.mark.parametrize("fixture", ["support", "chatlog"])
def test_conversions_are_byte_identical_on_rerun(tmp_path: Path, fixture: str) -> None:
    src = (support_desk_csv(tmp_path / "s.csv") if fixture == "support"
           else chat_log_csv(tmp_path / "c.csv"))
    args = (["--user", "Customer Question", "--assistant", "agent REPLY"] if fixture == "support"
            else ["--group-by", "conversation_id", "--order-by", "sent_at", "--role-column",
                  "sender_id", "--content-column", "message", "--first-speaker", "user"])
    outputs = []
    for n in (1, 2):
        out = tmp_path / f"o{n}.jsonl"
        ftprep("convert", src, "-o", out, *args)
        outputs.append((out.read_bytes(), out.with_name(f"o{n}.rejects.jsonl").read_bytes()))
    assert outputs[0] == outputs[1] and outputs[0][0]
