"""What convert finds on a built record (a record rule such as FT502, the token limit) is
reported at the input column the record was built from, as its other rejects are: `answer`,
not `messages[1].content` (which the detail keeps). Places no cell filled keep the path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ftprep.convert import ConvertOptions, convert

FTPREP = str(Path(sys.executable).with_name("ftprep"))  # the installed script
LONG = "word " * 120  # about 120 tokens: over a limit of 50 on its own


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cli(*args: str | Path) -> tuple[int, list[Any]]:
    """Run `ftprep convert ... -o out.jsonl` through CliRunner: (exit code, the rejects)."""
    from click.testing import CliRunner

    from ftprep.cli import main

    out = Path(str(args[args.index("-o") + 1]))
    result = CliRunner().invoke(main, ["convert", *map(str, args)])
    rejects = out.with_name(out.name.replace(".jsonl", ".rejects.jsonl"))
    return result.exit_code, jsonl(rejects) if rejects.exists() else []


def where(rejects: list[Any]) -> list[tuple[Any, ...]]:
    return [(r["row"], r["field"], r["reason"], r.get("detail")) for r in rejects]


def test_record_rule_rejects_name_the_column_of_a_table(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", "question,context,answer,sys\n"
                "ok?,c,Hello <|endoftext|>,Be brief.\n"
                "ok?,c <|im_end|>,fine,<|im_start|>\n"
                "ok?,c,fine,Be brief.\n")
    out = tmp_path / "o.jsonl"
    code, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer")
    assert code == 1
    assert where(rejects) == [(1, "answer", "FT502",
                               "contains special token <|endoftext|> (messages[1].content)")]
    assert list(rejects[0]) == ["row", "line", "field", "reason", "detail", "source"]
    # A --system column shifts the messages: the path maps to the column all the same.
    _, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                     "--system", "sys")
    assert [(r["row"], r["field"], r["detail"]) for r in rejects] == [
        (1, "answer", "contains special token <|endoftext|> (messages[2].content)"),
        (2, "sys", "contains special token <|im_start|> (messages[0].content)")]
    # A template names its columns and says which template joined them.
    _, rejects = cli(src, "-o", out, "--user-template", "Q: {question} ({context})",
                     "--assistant-template", "{answer}")
    assert [(r["row"], r["field"], r["detail"]) for r in rejects] == [
        (1, "answer", "contains special token <|endoftext|> "
                      "(messages[1].content, from --assistant-template)"),
        (2, "question, context", "contains special token <|im_end|> "
                                 "(messages[0].content, from --user-template)")]
    # A --system-prompt text is no column: the path stays (with the other finding counted).
    _, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                     "--system-prompt", "Be <|im_sep|>")
    assert where(rejects)[0] == (1, "messages[0].content", "FT502",
                                 "contains special token <|im_sep|> (and 1 more)")
    assert [r["field"] for r in rejects] == ["messages[0].content"] * 3
    # prompt/completion records: the key maps to its column.
    _, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                     "--to", "completion")
    assert where(rejects) == [(1, "answer", "FT502",
                               "contains special token <|endoftext|> (completion)")]


def test_record_rule_rejects_of_preference_and_other_records(tmp_path: Path) -> None:
    rows = [{"q": [{"role": "user", "content": "a <|im_end|>"}], "c": "x", "r": "y"},
            {"q": "p", "c": "x", "r": ["y", "<|im_end|>"]},
            {"q": "p", "c": "x", "r": [{"role": "assistant", "content": "y <|im_end|>"}]}]
    src = write(tmp_path / "p.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = convert(src, tmp_path / "p.out.jsonl", ConvertOptions(
        prompt="q", chosen="c", rejected="r", system_prompt="Be kind."))
    assert (result.read, result.written, result.rejected) == (3, 0, 3)
    # The prompt list's message 0 is the record's message 1 (after the system prompt).
    assert [(r["field"], r["reason"], r.get("detail")) for r in jsonl(Path(result.rejects or ""))
            ] == [("q[0].content", "FT502",
                   "contains special token <|im_end|> (input.messages[1].content)"),
                  ("r", "bad_messages", "expected a list of {role, content} messages"),
                  ("r[0].content", "FT502",
                   "contains special token <|im_end|> (non_preferred_output[0].content)")]
    # Columns named prompt/chosen/rejected map to themselves; a preference record passed
    # through, a chat record and a multi-turn conversation keep the record's path.
    pref = write(tmp_path / "d.jsonl", json.dumps(
        {"prompt": "p", "chosen": "x <|im_end|>", "rejected": "y"}) + "\n" + json.dumps(
        {"input": {"messages": [{"role": "user", "content": "a <|im_end|>"}]},
         "preferred_output": [{"role": "assistant", "content": "x"}],
         "non_preferred_output": [{"role": "assistant", "content": "y"}]}) + "\n")
    convert(pref, tmp_path / "d.out.jsonl", ConvertOptions())
    assert [r["field"] for r in jsonl(tmp_path / "d.out.rejects.jsonl")] == [
        "chosen", "input.messages[0].content"]
    chat = write(tmp_path / "c.jsonl", json.dumps({"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "<|im_end|>"}]}) + "\n")
    convert(chat, tmp_path / "c.out.jsonl", ConvertOptions())
    assert jsonl(tmp_path / "c.out.rejects.jsonl")[0]["field"] == "messages[1].content"
    turns = write(tmp_path / "m.csv", "id,who,text\n1,user,hi\n1,assistant,<|im_end|>\n")
    convert(turns, tmp_path / "m.out.jsonl",
            ConvertOptions(group_by="id", role_column="who", content_column="text"))
    assert jsonl(tmp_path / "m.out.rejects.jsonl")[0]["field"] == "messages[1].content"


def test_too_many_tokens_names_the_column_of_the_longest_part(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", f"question,answer\nshort?,{LONG}\n{LONG},short\nq?,a\n")
    out = tmp_path / "o.jsonl"
    code, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                        "--max-tokens", "50", "--on-overflow", "drop")
    assert code == 1 and len(jsonl(out)) == 1
    assert [(r["row"], r["field"], r["reason"]) for r in rejects] == [
        (1, "answer", "too_many_tokens"), (2, "question", "too_many_tokens")]
    assert rejects[0]["detail"] == ("134 tokens, over the limit of 50; the most in answer "
                                    "(messages[1]: 125 tokens)")
    # A --system-prompt text longest: no column to name; the detail says which part it is.
    _, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                     "--system-prompt", LONG * 2, "--max-tokens", "300",
                     "--on-overflow", "trim-history")
    assert {r["field"] for r in rejects} == {"messages"}
    assert "; the most in messages[0] (" in rejects[0]["detail"]
    # Preference tables and prompt/completion records alike.
    pref = write(tmp_path / "p.csv", f"q,c,r\n{LONG},x,y\n")
    _, rejects = cli(pref, "-o", out, "--prompt", "q", "--chosen", "c", "--rejected", "r",
                     "--max-tokens", "50", "--on-overflow", "drop")
    assert (rejects[0]["field"], rejects[0]["detail"].split("; ")[1].split(":")[0]) == (
        "q", "the most in q (input.messages[0]")
    _, rejects = cli(src, "-o", out, "--user", "question", "--assistant", "answer",
                     "--to", "completion", "--max-tokens", "50", "--on-overflow", "drop")
    assert [r["field"] for r in rejects] == ["answer", "question"]
    # A chat record passed through keeps `messages` and the detail it had.
    chat = write(tmp_path / "c.jsonl", json.dumps({"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": LONG}]}) + "\n")
    _, rejects = cli(chat, "-o", out, "--max-tokens", "50", "--on-overflow", "drop")
    assert (rejects[0]["field"], rejects[0]["detail"]) == (
        "messages", "133 tokens, over the limit of 50")


def test_installed_convert_names_the_column_in_the_rejects_file(tmp_path: Path) -> None:
    src = write(tmp_path / "t.csv", f"q,a\nhi,Hello <|endoftext|>\nlong,{LONG}\nok,fine\n")
    out = tmp_path / "o.jsonl"
    r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out), "--user", "q",
                        "--assistant", "a", "--max-tokens", "50", "--on-overflow", "drop"],
                       capture_output=True, text=True, check=False, timeout=60)
    assert r.returncode == 1, r.stderr
    lines = (tmp_path / "o.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"row":1,"line":2,"field":"a","reason":"FT502","detail":"contains special token '
        '<|endoftext|> (messages[1].content)","source":{"q":"hi","a":"Hello <|endoftext|>"}}')
    assert (json.loads(lines[1])["field"], json.loads(lines[1])["detail"]) == (
        "a", "133 tokens, over the limit of 50; the most in a (messages[1]: 125 tokens)")


def test_alpaca_rejects_name_the_key_they_came_from(tmp_path: Path) -> None:
    rows = [{"instruction": "Say hi", "input": "", "output": "Hello <|endoftext|>"},
            {"instruction": "Sum <|im_end|>", "input": "", "output": "3"},
            {"instruction": "Sum", "input": "1 and <|im_end|>", "output": "3"},
            {"instruction": "Sum <|im_end|>", "input": "nan", "output": "3"},  # no input
            {"instruction": "ok", "output": "fine"}]
    src = write(tmp_path / "a.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.jsonl"
    code, rejects = cli(src, "-o", out)
    assert code == 1 and len(jsonl(out)) == 1
    # The user's message joins the instruction and an input with text: both are named.
    assert where(rejects) == [
        (1, "output", "FT502", "contains special token <|endoftext|> (messages[1].content)"),
        (2, "instruction", "FT502", "contains special token <|im_end|> (messages[0].content)"),
        (3, "instruction, input", "FT502",
         "contains special token <|im_end|> (messages[0].content)"),
        (4, "instruction", "FT502", "contains special token <|im_end|> (messages[0].content)")]
    # A --system-prompt message first shifts the messages; prompt/completion records too.
    _, rejects = cli(src, "-o", out, "--system-prompt", "Be brief.")
    assert [(r["field"], r["detail"]) for r in rejects][:2] == [
        ("output", "contains special token <|endoftext|> (messages[2].content)"),
        ("instruction", "contains special token <|im_end|> (messages[1].content)")]
    _, rejects = cli(src, "-o", out, "--to", "completion")
    assert [(r["field"], r["detail"]) for r in rejects][:2] == [
        ("output", "contains special token <|endoftext|> (completion)"),
        ("instruction", "contains special token <|im_end|> (prompt)")]
    # too_many_tokens names the key of the longest part.
    long = write(tmp_path / "l.jsonl", json.dumps({"instruction": "x", "input": LONG,
                                                   "output": "y"}) + "\n" + json.dumps(
        {"instruction": "x", "input": "", "output": LONG}) + "\n")
    _, rejects = cli(long, "-o", out, "--max-tokens", "50", "--on-overflow", "drop")
    assert [(r["field"], r["reason"]) for r in rejects] == [
        ("instruction, input", "too_many_tokens"), ("output", "too_many_tokens")]
    assert rejects[1]["detail"] == ("133 tokens, over the limit of 50; the most in output "
                                    "(messages[1]: 125 tokens)")


def test_sharegpt_rejects_name_the_turn_they_came_from(tmp_path: Path) -> None:
    def turns(*pairs: tuple[str, str]) -> str:
        return json.dumps({"conversations": [{"from": f, "value": v} for f, v in pairs]}) + "\n"

    src = write(tmp_path / "s.jsonl", turns(
        ("human", "hi"), ("gpt", "yo"), ("human", "more"), ("gpt", "x <|endoftext|>"),
    ) + turns(("human", ""), ("human", "hi"), ("gpt", " "), ("gpt", "<|im_end|>"))
      + turns(("human", "hi"), ("gpt", "ok"), ("function", "result"), ("gpt", "ok"))
      + turns(("human", "hi"), ("gpt", LONG)) + turns(("human", "hi"), ("gpt", "fine")))
    out = tmp_path / "o.jsonl"
    code, rejects = cli(src, "-o", out, "--drop-empty-turns", "--max-tokens", "50",
                        "--on-overflow", "drop")
    assert code == 1 and len(jsonl(out)) == 1
    # The turns --drop-empty-turns left out are counted: message 1 is conversations[3].
    assert where(rejects) == [
        (1, "conversations[3].value", "FT502",
         "contains special token <|endoftext|> (messages[3].content)"),
        (2, "conversations[3].value", "FT502",
         "contains special token <|im_end|> (messages[1].content)"),
        (3, "conversations[2]", "FT401", "tool message without tool_call_id (messages[2])"),
        (4, "conversations[1]", "too_many_tokens",
         "133 tokens, over the limit of 50; the most in conversations[1] (messages[1]: "
         "125 tokens)")]
    # A --system-prompt message has no turn: the turns keep their place after it.
    _, rejects = cli(src, "-o", out, "--drop-empty-turns", "--system-prompt", "Be brief.")
    assert [(r["field"], r["detail"]) for r in rejects][:2] == [
        ("conversations[3].value", "contains special token <|endoftext|> (messages[4].content)"),
        ("conversations[3].value", "contains special token <|im_end|> (messages[2].content)")]
    _, rejects = cli(src, "-o", out, "--drop-empty-turns", "--to", "completion")
    assert (rejects[1]["field"], rejects[1]["detail"]) == (
        "conversations[3].value", "contains special token <|im_end|> (completion)")


def test_installed_convert_names_alpaca_and_sharegpt_keys(tmp_path: Path) -> None:
    alpaca = write(tmp_path / "a.jsonl", '{"instruction":"Sum","input":"1 <|im_end|>",'
                   '"output":"3"}\n{"instruction":"ok","output":"fine"}\n')
    sharegpt = write(tmp_path / "s.jsonl", '{"conversations":[{"from":"human","value":"hi"},'
                     '{"from":"gpt","value":"yo"},{"from":"human","value":"more"},'
                     '{"from":"gpt","value":"x <|endoftext|>"}]}\n')
    lines = []
    for src in (alpaca, sharegpt):
        out = src.with_name(src.stem + ".out.jsonl")
        r = subprocess.run([FTPREP, "convert", str(src), "-o", str(out)],
                           capture_output=True, text=True, check=False, timeout=60)
        assert r.returncode == 1, r.stderr
        lines += out.with_name(src.stem + ".out.rejects.jsonl").read_text(
            encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"row":1,"line":1,"field":"instruction, input","reason":"FT502","detail":"contains '
        'special token <|im_end|> (messages[0].content)","source":{"instruction":"Sum",'
        '"input":"1 <|im_end|>","output":"3"}}')
    assert lines[1].startswith(
        '{"row":1,"line":1,"field":"conversations[3].value","reason":"FT502","detail":'
        '"contains special token <|endoftext|> (messages[3].content)","source":')
