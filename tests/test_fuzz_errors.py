"""Fuzz: whatever bytes a file holds, every reader and command ends with an exit code of 0, 1
or 2 and, on 2, one line on stderr; never a traceback or "internal error". Hypothesis with a
fixed derivation (derandomize) and a bounded number of examples, so `make test` stays fast and
a failure reproduces."""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftprep.cli import main

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["role", "content", "messages", "q", "a", "weight",
                                       "tool_calls", "x"]), inner, max_size=4),
    max_leaves=12,
)
messages = st.lists(st.fixed_dictionaries({
    "role": st.sampled_from(["system", "user", "assistant", "tool", "bogus"]),
    "content": st.one_of(st.text(max_size=30), st.none(), json_values)}), max_size=4)


@st.composite
def jsonl_bytes(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.one_of(
        messages.map(lambda m: json.dumps({"messages": m})),
        json_values.map(json.dumps),
        st.text(max_size=40),
        st.integers(1, 400).map(lambda d: '{"messages":' + "[" * d + "]" * d + "}"),
    ), max_size=6))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([data, b"\xef\xbb\xbf" + data, data.replace(b"\n", b"\r")]))


def _table_bytes(kind: str) -> bytes:
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    if kind == "xlsx":
        wb = openpyxl.Workbook()
        wb.active.append(["q", "a"])
        wb.active.append(["hello", 1.5])
        wb.save(buf)
    else:
        pq.write_table(pa.table({"q": ["hi"], "a": [{"b": b"\xff"}]}), buf)
    return buf.getvalue()


TABLES = {kind: _table_bytes(kind) for kind in ("xlsx", "parquet")}


@st.composite
def damaged_table(draw: st.DrawFn, kind: str) -> bytes:
    data = bytearray(TABLES[kind])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(len(data) // 2, len(data)))
    return bytes(data[:cut])


def run_on(suffix: str, data: bytes, *args: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_bytes(data)
        out = Path(tmp) / "out"
        argv = [a.replace("{in}", str(path)).replace("{out}", str(out)) for a in args]
        result = CliRunner().invoke(main, argv)
    assert result.exit_code in (0, 1, 2), (argv, result.output, result.exception)
    assert "internal error" not in result.stderr, result.stderr
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1, result.stderr


CONVERT = ["convert", "{in}", "-o", "{out}/o.jsonl", "--user", "q", "--assistant", "a"]
JSONL_COMMANDS = [
    ["validate", "{in}"],
    ["count", "-m", "gpt-4o-mini", "{in}"],
    ["split", "{in}", "-o", "{out}"],
    ["convert", "{in}", "-o", "{out}/o.jsonl"],
]


@pytest.mark.parametrize("args", JSONL_COMMANDS, ids=lambda a: a[0])
@FUZZ
@given(data=jsonl_bytes())
def test_jsonl_commands_end_in_one_line(args: list[str], data: bytes) -> None:
    run_on(".jsonl", data, *args)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl"])
@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_text_readers_end_in_one_line(suffix: str, data: bytes) -> None:
    run_on(suffix, b"q,a\n" + data if suffix == ".csv" else data, *CONVERT)


@pytest.mark.parametrize("kind", ["xlsx", "parquet"])
@FUZZ
@given(data=st.data())
def test_damaged_binary_tables_end_in_one_line(kind: str, data: st.DataObject) -> None:
    run_on(f".{kind}", data.draw(damaged_table(kind)), *CONVERT)
