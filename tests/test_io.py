"""The streaming JSONL reader and the atomic writer."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from ftprep.errors import InputError
from ftprep.io.jsonl import BAD_JSON, BAD_UTF8, BLANK, NOT_OBJECT, batched, iter_json_lines, iter_records
from ftprep.io.writer import atomic_writer, write_jsonl


def lines_of(path: Path) -> list:
    return list(iter_json_lines(path))


def test_reader_reports_each_line_problem_at_its_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"a": 1}\n\n{bad\n"\xff\xfe"\n[1, 2]\n{"b": NaN}\n')
    got = [(jl.line, jl.error) for jl in lines_of(p)]
    assert got == [(1, None), (2, BLANK), (3, BAD_JSON), (4, BAD_UTF8), (5, NOT_OBJECT), (6, BAD_JSON)]


def test_reader_names_the_byte_of_invalid_utf8(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"a": "ok\xe9"}\n')
    (jl,) = lines_of(p)
    assert jl.error == BAD_UTF8 and "byte 9" in jl.detail


def test_reader_strips_bom_and_crlf_and_reports_lone_surrogates(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"s": "\\ud800"}\r\n')
    first, second = lines_of(p)
    assert first.value == {"a": 1}
    # Legal JSON escape syntax, but not text UTF-8 can carry: convert rejects it, so all say so.
    assert second.error == BAD_UTF8 and "lone surrogate \\ud800" in second.detail


def test_trailing_newline_is_not_a_blank_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n')
    assert [jl.line for jl in lines_of(p)] == [1, 2]


def test_reader_reads_gzip_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "a.data"
    p.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert [v for _, v in iter_records(p)] == [{"a": 1}, {"a": 2}]


def test_iter_records_skips_blanks_and_raises_with_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n\n{oops\n')
    it = iter_records(p)
    assert next(it) == (1, {"a": 1})
    with pytest.raises(InputError) as e:
        next(it)
    assert str(e.value).startswith(f"{p}:3:")


@pytest.mark.parametrize("name", ["missing.jsonl", ""])
def test_unreadable_paths_are_input_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        list(iter_json_lines(tmp_path / name))


def test_batched_keeps_order_and_remainder() -> None:
    assert list(batched(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_write_jsonl_is_utf8_unescaped(tmp_path: Path) -> None:
    p = tmp_path / "out.jsonl"
    assert write_jsonl(p, [{"t": "日本語"}, {"t": "é"}]) == 2
    assert p.read_text("utf-8") == '{"t":"日本語"}\n{"t":"é"}\n'


def test_atomic_writer_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    p = tmp_path / "out.jsonl"
    p.write_text("old\n")

    def records():
        yield {"a": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(p, records())
    assert p.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temp file left behind


def test_atomic_writer_creates_parent_dirs(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b" / "out.bin"
    with atomic_writer(p) as f:
        f.write(b"x")
    assert p.read_bytes() == b"x"
