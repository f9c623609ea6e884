"""count_file / ftprep count: exact agreement with an independent implementation of the
cookbook formula, in-process and with worker processes, plus limits, errors and outputs."""
from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
from click.testing import CliRunner

from ftprep import count as count_mod
from ftprep.count import count_file
from ftprep.errors import InputError, UsageError
from ftprep.tokens import get_encoding

WORDS = ["alpha", "beta", "gamma", "Ünïcödé", "数据", "emoji 🎉", "tab\tx", "new\nline",
         "  spaces", "123456", "don't", "<|endoftext|>", "é", "", "the quick brown fox"]


def reference_count(record: dict, enc: tiktoken.Encoding) -> int:
    """The OpenAI cookbook formula, written out independently with plain loops."""
    total = 0
    for message in record["messages"]:
        total += 3
        for key, value in message.items():
            total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total + 3


def make_chat_file(path: Path, n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    system = "You are a helpful assistant for the ACME help desk. " * 5
    records = []
    for _ in range(n):
        messages = [{"role": "system", "content": system}]
        for _turn in range(rng.randint(1, 4)):
            user = {"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(0, 30)))}
            if rng.random() < 0.2:
                user["name"] = rng.choice(["ann", "bo_b", "Zoë"])
            messages.append(user)
            messages.append({"role": "assistant",
                             "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 40)))})
        records.append({"messages": messages})
    path.write_text("".join(json.dumps(r, ensure_ascii=rng.random() < 0.5) + "\n"
                            for r in records), encoding="utf-8")
    return records


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    path = tmp_path_factory.mktemp("count") / "chat.jsonl"
    return path, make_chat_file(path, 300)


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-4-0613", "cl100k_base"),
    ("gpt-4o-mini", "o200k_base"),
])
@pytest.mark.parametrize("workers", [1, 2])
def test_counts_equal_reference_exactly(
    chat_data: tuple[Path, list[dict]], model: str, encoding: str, workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, records = chat_data
    monkeypatch.setattr(count_mod, "BATCH_BYTES", 997)  # many batches: order must hold
    enc = get_encoding(encoding)
    expected = [reference_count(r, enc) for r in records]
    report = count_file(path, model=model, workers=workers)
    assert report.encoding == encoding
    assert list(report.counts.tokens) == expected
    assert list(report.counts.lines) == list(range(1, len(records) + 1))
    assert report.examples == len(records)
    assert report.total_tokens == sum(expected)
    assert report.tokens_per_example["min"] == min(expected)
    assert report.tokens_per_example["max"] == max(expected)
    assert report.tokens_per_example["median"] == statistics.median(expected)
    assert report.tokens_per_example["mean"] == round(statistics.fmean(expected), 2)
    ranked = sorted(expected)
    assert report.tokens_per_example["p95"] == ranked[int(-(-0.95 * len(ranked) // 1)) - 1]
    assert report.messages_per_example["max"] == max(len(r["messages"]) for r in records)


def test_limit_billing_and_cut_answers(tmp_path: Path) -> None:
    enc = get_encoding("cl100k_base")
    short = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    long_answer = {"messages": [{"role": "user", "content": "hi"},
                                {"role": "assistant", "content": "word " * 80}]}
    long_prompt = {"messages": [{"role": "user", "content": "word " * 80},
                                {"role": "assistant", "content": "yo"}]}
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (short, long_answer, long_prompt)) + "\n")
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 50\n'
                      'encoding = "cl100k_base"\n')
    report = count_file(path, model="gpt-4o-mini", models_file=models)
    sizes = [reference_count(r, enc) for r in (short, long_answer, long_prompt)]
    assert report.max_tokens == 50
    assert report.over_limit == 2 and report.over_limit_lines == [2, 3]
    assert report.tokens_cut == sizes[1] - 50 + sizes[2] - 50
    assert report.billed_tokens == sizes[0] + 50 + 50
    assert report.answer_cut == 1 and report.answer_cut_lines == [3]
    assert not report.ok
    data = report.to_dict()
    for key in ("examples", "total_tokens", "max_tokens", "over_limit", "billed_tokens"):
        assert key in data
    assert data["billed_tokens"] == sizes[0] + 100


def test_blank_lines_skipped_gzip_read(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    line = json.dumps({"messages": [{"role": "user", "content": "a"},
                                    {"role": "assistant", "content": "b"}]})
    path.write_bytes(gzip.compress(f"{line}\n\n{line}\n".encode()))
    report = count_file(path, model="gpt-4o-mini")
    assert report.examples == 2
    assert list(report.counts.lines) == [1, 3]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("bad", "message"), [
    ('{"messages": [', "Expecting"),
    ("[1, 2]", "expected a JSON object"),
    ('{"foo": 1}', "not a chat, preference or completion"),
])
def test_bad_line_is_named(tmp_path: Path, bad: str, message: str, workers: int) -> None:
    path = tmp_path / "d.jsonl"
    good = json.dumps({"prompt": "a", "completion": "b"})
    path.write_text(f"{good}\n{good}\n{bad}\n{good}\n")
    with pytest.raises(InputError) as err:
        count_file(path, model="babbage-002", workers=workers)
    text = str(err.value)
    assert text.startswith(f"{path}:3:") and message in text and "ftprep validate" in text


def test_per_example_csv_and_parquet(chat_data: tuple[Path, list[dict]], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path, records = chat_data
    enc = get_encoding("cl100k_base")
    csv_path, pq_path = tmp_path / "out.csv", tmp_path / "out.parquet"
    count_file(path, model="gpt-3.5-turbo-0613", per_example=csv_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == len(records)
    assert [int(r["tokens"]) for r in rows] == [reference_count(r, enc) for r in records]
    assert rows[0]["line"] == "1" and rows[0]["over_limit"] == "false"
    count_file(path, model="gpt-3.5-turbo-0613", per_example=pq_path)
    table = pq.read_table(pq_path).to_pydict()
    assert table["tokens"] == [int(r["tokens"]) for r in rows]
    assert set(table) == {"line", "tokens", "trainable", "over_limit"}
    with pytest.raises(UsageError, match=r"\.csv or \.parquet"):
        count_file(path, model="gpt-3.5-turbo-0613", per_example=tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


# -- CLI -------------------------------------------------------------------------------------


def test_cli_count_json(chat_data: tuple[Path, list[dict]]) -> None:
    from ftprep.cli import main

    path, records = chat_data
    enc = get_encoding("o200k_base")
    result = CliRunner().invoke(main, ["count", str(path), "--model", "gpt-4o-mini",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["examples"] == len(records)
    assert data["total_tokens"] == sum(reference_count(r, enc) for r in records)
    assert data["max_tokens"] == 65536 and data["over_limit"] == 0
    assert data["billed_tokens"] == data["total_tokens"]


def test_cli_count_text_and_exit_codes(tmp_path: Path) -> None:
    from ftprep.cli import main

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "w " * 60},
                                             {"role": "assistant", "content": "x"}]}) + "\n")
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 20\n')
    runner = CliRunner()
    cut = runner.invoke(main, ["count", str(path), "-m", "gpt-4o-mini", "--models-file", str(models)])
    assert cut.exit_code == 1
    assert "examples over the limit" in cut.output and "cut away entirely (lines): 1" in cut.output
    path.write_text("not json\n")
    bad = runner.invoke(main, ["count", str(path), "-m", "gpt-4o-mini"])
    assert bad.exit_code == 2
    assert bad.output.count("\n") == 1 and f"{path}:1:" in bad.output
    unknown = runner.invoke(main, ["count", str(path), "-m", "gpt-4o-mni"])
    assert unknown.exit_code == 2 and "did you mean: gpt-4o-mini" in unknown.output


def _ftprep_script() -> str:
    found = Path(sys.executable).with_name("ftprep")
    return str(found) if found.exists() else (shutil.which("ftprep") or "ftprep")


def test_installed_ftprep_count_subprocess(chat_data: tuple[Path, list[dict]]) -> None:
    path, records = chat_data
    enc = get_encoding("cl100k_base")
    proc = subprocess.run(
        [_ftprep_script(), "count", str(path), "--model", "gpt-3.5-turbo", "--format", "json",
         "--workers", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["total_tokens"] == sum(reference_count(r, enc) for r in records)
    assert data["model"] == "gpt-3.5-turbo-0125"


@pytest.mark.parametrize("workers", [1, 2])
def test_bom_crlf_and_lines_across_chunks(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(count_mod, "BATCH_BYTES", 10)  # every line spans several reads
    enc = get_encoding("cl100k_base")
    records = [{"messages": [{"role": "user", "content": "q" * i},
                             {"role": "assistant", "content": "a"}]} for i in range(1, 6)]
    body = "\r\n".join(json.dumps(r) for r in records[:3]) + "\r\n\r\n"
    body += "\n".join(json.dumps(r) for r in records[3:])  # no final newline
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    report = count_file(path, model="gpt-4-0613", workers=workers)
    assert list(report.counts.lines) == [1, 2, 3, 5, 6]
    assert list(report.counts.tokens) == [reference_count(r, enc) for r in records]


def test_empty_file_stats_have_the_same_json_types(tmp_path: Path) -> None:
    # An empty file gave integer mean/median where any other file gives floats.
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                            {"role": "assistant", "content": "x"}]}) + "\n")
    e = count_file(empty, model="gpt-4o-mini").to_dict()
    o = count_file(one, model="gpt-4o-mini").to_dict()
    assert (e["examples"], e["total_tokens"], e["billed_tokens"]) == (0, 0, 0)
    assert (o["examples"], o["total_tokens"], o["trainable_tokens"]) == (1, 13, 5)
    for key in ("tokens_per_example", "messages_per_example"):
        assert {k: type(v) for k, v in e[key].items()} == {k: type(v) for k, v in o[key].items()}
    assert o["tokens_per_example"] == {"min": 13, "max": 13, "mean": 13.0, "median": 13.0,
                                       "p5": 13, "p95": 13}


def test_per_example_onto_the_input_is_refused(tmp_path: Path) -> None:
    # A JSONL file may be named .csv; writing the per-example table over it destroyed it.
    path = tmp_path / "data.csv"
    body = json.dumps({"prompt": "a", "completion": "b"}) + "\n"
    path.write_text(body)
    with pytest.raises(UsageError, match="would overwrite the input file"):
        count_file(path, model="gpt-4o-mini", per_example=tmp_path / "." / "data.csv")
    assert path.read_text() == body
