"""convert's columnar path (ftprep.convert.columnar) against the per-row path: for any Arrow
table, the same output bytes, the same rejects file and the same counts."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ftprep.convert as convert_mod
from ftprep.convert import ConvertOptions, columnar, convert
from ftprep.convert.plan import Plan
from ftprep.errors import InputError

# Cells that sit on every edge the vectorized checks draw: "no value" spellings (padded,
# other cases, the long-s that casefolds to "s"), whitespace of every kind, special tokens
# whole and broken, characters JSON escapes, and text past a batch's usual size.
EDGE_TEXTS = [
    "", " ", "\t\n", "\u3000", "\x85", "\u2028", " \u00a0x\u00a0 ", "nan", " NULL ", "N/A",
    "#N/A N/A", "#n/a n/a ", "N\u017f", "none\u2029", "<|endoftext|>", "say <|im_start|> now", "<|",
    "<", "|>", "a\"b", "back\\slash\\", "ctrl\x00\x01\x1f\x7f", "line\nbreak\r\n", "tab\tbed",
    "\x08\x0c", "é", "😀 emoji", "x" * 9, "NaN NaN", "unknown", " unknown ", "nan" + " " * 9,
    "NULL" + "\n" * 9, "ok" + "\u3000" * 9, "\t" * 12, "Yes.", "positive",
    "un\u212anown",  # the Kelvin sign case-folds to "k": "unknown" where that means no value
]
plain = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)
texts = st.one_of(
    plain, plain,  # most rows of real tables: what the columnar path writes itself
    st.builds(lambda a, token, b: a + token + b, plain,
              st.sampled_from(["<|endoftext|>", "<|im_end|>", "<|fim_middle|>", "<|", "|>"]),
              plain),
    st.none(),
    st.sampled_from(EDGE_TEXTS),
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.builds(lambda unit, n: unit * n, st.sampled_from(["ab ", "\"\\\n", "é<|"]),
              st.integers(1_000, 30_000)),
)
COLUMN_TYPES = ["string", "large_string", "dictionary", "integer"]
OPTIONS = [
    {}, {"target_format": "completion"}, {"system_prompt": "Be brief."},
    {"system_prompt": "<|endoftext|>"}, {"system_prompt": ""}, {"system": "s"},
    {"na_values": ("unknown",), "keep_default_na": False}, {"na_values": ("a much longer one",)},
]


def _column(values: list[Any], kind: str) -> pa.Array:
    if kind == "integer":  # not text: every row takes the per-row path
        return pa.array([None if v is None else len(v) for v in values], pa.int64())
    array = pa.array(values, pa.large_string() if kind == "large_string" else pa.string())
    return array.dictionary_encode() if kind == "dictionary" else array


def _table(rows: list[tuple[Any, Any, Any]], kinds: tuple[str, str]) -> pa.Table:
    q, a, s = ([row[i] for row in rows] for i in range(3))
    return pa.table({
        "q": _column(q, kinds[0]), "a": _column(a, kinds[1]), "s": pa.array(s, pa.string()),
        "n": pa.array(range(len(rows)), pa.int64()),
        "f": pa.array([0.1 * i for i in range(len(rows))], pa.float32()),
    })


def _run(src: Path, folder: Path, options: ConvertOptions, label: str) -> tuple[Any, ...]:
    out, rejects = folder / f"{label}.jsonl", folder / f"{label}.rejects.jsonl"
    options.rejects_path = str(rejects)
    try:
        result = convert(src, out, options).to_dict()
    except InputError as e:
        return ("error", str(e))
    for key in ("output", "rejects"):
        result.pop(key)
    return (out.read_bytes(), rejects.read_bytes() if rejects.exists() else None, result)


def _both_paths(table: pa.Table, options: dict[str, Any], batch_rows: int) -> tuple[Any, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "t.parquet"
        pq.write_table(table, src)
        with mock.patch.object(columnar, "BATCH_ROWS", batch_rows):
            fast = _run(src, folder, ConvertOptions(user="q", assistant="a", **options), "fast")
        with mock.patch.object(convert_mod, "columnar_units", return_value=None):
            rows = _run(src, folder, ConvertOptions(user="q", assistant="a", **options), "rows")
    return fast, rows


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(texts, texts, texts), max_size=12),
       kinds=st.tuples(st.sampled_from(COLUMN_TYPES), st.sampled_from(COLUMN_TYPES)),
       options=st.sampled_from(OPTIONS), batch_rows=st.integers(1, 5))
def test_columnar_and_per_row_paths_write_the_same_bytes(
    rows: list[tuple[Any, Any, Any]], kinds: tuple[str, str], options: dict[str, Any],
    batch_rows: int,
) -> None:
    fast, per_row = _both_paths(_table(rows, kinds), options, batch_rows)
    assert fast == per_row


@pytest.mark.parametrize("options", OPTIONS)
def test_every_edge_text_on_both_paths(options: dict[str, Any]) -> None:
    clean = "A plain question?"
    rows = [(clean, text, None) for text in EDGE_TEXTS] + [(text, clean, None)
                                                           for text in EDGE_TEXTS]
    fast, per_row = _both_paths(_table(rows, ("string", "string")), options, 7)
    assert fast == per_row


def test_whitespace_is_what_str_strip_removes_and_case_folding_never_shortens() -> None:
    every = [chr(n) for n in range(sys.maxunicode + 1)]
    assert "".join(c for c in every if c.isspace()) == columnar.WHITESPACE
    assert min(len(c.casefold()) for c in every) == 1  # what the "no value" check relies on


def _plain_table(path: Path, answers: list[str | None]) -> Path:
    pq.write_table(pa.table({"q": [f"question {i}?" for i in range(len(answers))],
                             "a": answers}), path)
    return path


def _per_row_calls(src: Path, out: Path) -> tuple[int, Any]:
    """How many rows the per-row path made (the probe is one), and the result."""
    with mock.patch.object(Plan, "row_outcome", autospec=True,
                           side_effect=Plan.row_outcome) as spy:
        result = convert(src, out, ConvertOptions(user="q", assistant="a"))
    return spy.call_count, result


def test_plain_rows_take_the_columnar_path_and_only_doubtful_rows_take_the_per_row_path(
    tmp_path: Path,
) -> None:
    answers = [f"The answer is {i}." for i in range(10_000)]
    src = _plain_table(tmp_path / "clean.parquet", answers)
    calls, result = _per_row_calls(src, tmp_path / "clean.jsonl")
    assert (calls, result.written) == (1, 10_000)  # the probe row alone
    answers[3], answers[5000], answers[9999] = None, "  ", "x <|endoftext|>"
    src = _plain_table(tmp_path / "mixed.parquet", answers)
    calls, result = _per_row_calls(src, tmp_path / "mixed.jsonl")
    assert calls == 1 + 3
    assert (result.written, result.rejected, result.reasons) == (
        9_997, 3, {"FT502": 1, "empty": 1, "missing": 1})
    rejects = [json.loads(line) for line in (tmp_path / "mixed.rejects.jsonl").open()]
    assert [(r["row"], r["line"], r["field"]) for r in rejects] == [
        (4, None, "a"), (5001, None, "a"), (10_000, None, "a")]  # the column, not the path
    assert rejects[0]["source"] == {"q": "question 3?", "a": None}


def test_options_that_change_each_record_keep_the_per_row_path(tmp_path: Path) -> None:
    src = _plain_table(tmp_path / "t.parquet", ["yes", "no"])
    plain = ConvertOptions(user="q", assistant="a")
    checked = lambda outcomes: outcomes  # noqa: E731
    assert columnar.columnar_units(convert_mod.plan_conversion(src, plain), plain, checked)
    for extra in ({"redact": True}, {"metadata": ("q",)}, {"max_tokens": 100},
                  {"model": "gpt-4o-mini"}, {"user_template": "Q: {q}", "user": None}):
        options = ConvertOptions(**{"user": "q", "assistant": "a", **extra})
        plan = convert_mod.plan_conversion(src, options)
        assert columnar.columnar_units(plan, options, checked) is None, extra


def test_text_that_is_not_utf8_names_row_and_column_on_both_paths(tmp_path: Path) -> None:
    offsets = pa.py_buffer(b"".join(n.to_bytes(4, "little") for n in (0, 2, 4)))
    bad = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ok\xff\xfe")])
    src = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"q": ["one?", "two?"], "a": bad}), src)
    fast, per_row = _both_paths(pq.read_table(src), {}, 1024)
    assert fast == per_row
    assert fast[0] == "error" and fast[1].endswith("t.parquet [a]: row 2: text that is not "
                                                   "valid UTF-8")


def test_installed_ftprep_converts_parquet_with_rejects(tmp_path: Path) -> None:
    src = _plain_table(tmp_path / "t.parquet", ["Fine.", "", "Also \"fine\"\n"])
    out = tmp_path / "o.jsonl"
    proc = subprocess.run([str(Path(sys.executable).with_name("ftprep")), "convert", str(src),
                           "--user", "q", "--assistant", "a", "-o", str(out), "--format",
                           "json"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stderr or proc.stdout)
    assert (summary["read"], summary["written"], summary["rejected"]) == (3, 2, 1)
    assert out.read_text(encoding="utf-8").splitlines() == [
        '{"messages":[{"role":"user","content":"question 0?"},'
        '{"role":"assistant","content":"Fine."}]}',
        '{"messages":[{"role":"user","content":"question 2?"},'
        '{"role":"assistant","content":"Also \\"fine\\"\\n"}]}',
    ]


@pytest.mark.parametrize("kind", ["large_string", "dictionary"])
def test_other_arrow_text_types_take_the_columnar_path(tmp_path: Path, kind: str) -> None:
    answers = pa.array(["Yes.", "No.", "Yes."], pa.large_string())
    table = pa.table({"q": ["a?", "b?", "c?"],
                      "a": answers.dictionary_encode() if kind == "dictionary" else answers})
    pq.write_table(table, tmp_path / "t.parquet")
    calls, result = _per_row_calls(tmp_path / "t.parquet", tmp_path / "o.jsonl")
    assert (calls, result.written) == (1, 3)


def test_parquet_batches_hold_fewer_rows_where_rows_are_large(tmp_path: Path) -> None:
    from ftprep.io.readers.parquet import BATCH_BYTES, ArrowSource

    rng = random.Random(5)
    cell = "".join(rng.choice("abcdefghij ") for _ in range(200_000))  # 200 KB, incompressible
    pq.write_table(pa.table({"q": [cell[i:] + cell[:i] for i in range(300)]}),
                   tmp_path / "wide.parquet")
    sizes = [b.num_rows for b in ArrowSource(str(tmp_path / "wide.parquet")).batches(4096)]
    assert sum(sizes) == 300 and max(sizes) <= BATCH_BYTES // 200_000 < 300
    narrow = _plain_table(tmp_path / "narrow.parquet", ["An answer."] * 5000)
    assert max(b.num_rows for b in ArrowSource(str(narrow)).batches(4096)) == 4096
