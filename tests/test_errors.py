"""The library speaks Python, the CLI speaks flags: one error, two wordings (ftprep.errors
UsageError + the CLI's one mapping, cli/common.flag)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.cli.common import error_line, flag
from ftprep.convert import ConvertOptions, convert
from ftprep.errors import UsageError
from ftprep.split import SplitOptions, split_file


def test_one_error_two_wordings() -> None:
    e = UsageError("leaves nothing for train", param="test", value=5)
    assert str(e) == "test=5 leaves nothing for train"
    assert error_line(e) == "--test 5 leaves nothing for train"
    e = UsageError("{on_overflow} needs {max_tokens}", mentions=("on_overflow", "max_tokens"),
                   hint="or {model}")
    assert str(e) == "on_overflow needs max_tokens (or {model})"  # only the listed fields
    assert error_line(e) == "--on-overflow needs --max-tokens (or {model})"


def test_text_from_data_is_never_rewritten() -> None:
    e = UsageError("unknown column '{user}'")  # braces from a user's column name
    assert str(e) == error_line(e) == "unknown column '{user}'"


def test_flags_that_are_not_the_parameter_name() -> None:
    assert (flag("source_format"), flag("target_format"), flag("group_by")) == (
        "--from", "--to", "--group-by")


def write_chat(path: Path, n: int) -> Path:
    path.write_text("".join(
        f'{{"messages": [{{"role": "user", "content": "q{i}"}}, '
        f'{{"role": "assistant", "content": "a{i}"}}]}}\n' for i in range(n)), encoding="utf-8")
    return path


def test_split_library_names_parameters_and_cli_flags(tmp_path: Path) -> None:
    data = write_chat(tmp_path / "d.jsonl", 5)
    with pytest.raises(UsageError) as caught:
        split_file(data, tmp_path / "out", SplitOptions(test=5))
    assert str(caught.value) == "test=5 leaves nothing for train: there are 5 examples"
    result = CliRunner().invoke(main, ["split", str(data), "--test", "5", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "ftprep: error: --test 5 leaves nothing for train: there are 5 examples" in result.output
    with pytest.raises(UsageError, match=r"^group_by='a\.\.b' is not a JSON path"):
        SplitOptions(group_by="a..b")


def test_convert_library_names_fields_and_cli_flags(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("q,a\nHi?,Hello.\n", encoding="utf-8")
    options = ConvertOptions(user="q", assistant="a", source_format="alpaca")
    with pytest.raises(UsageError, match=r"^user implies a plain table; drop source_format$"):
        convert(src, tmp_path / "o.jsonl", options)
    assert set(options.table_options) == {"user", "assistant", "system", "user_template",
                                          "assistant_template", "system_template"}
    result = CliRunner().invoke(main, ["convert", str(src), "-o", str(tmp_path / "o.jsonl"),
                                       "--user", "q", "--assistant", "a", "--from", "alpaca"])
    assert result.exit_code == 2
    assert "ftprep: error: --user implies a plain table; drop --from" in result.output


# -- convert: every row accounted for, counted independently, checked before committing ---------

@pytest.mark.parametrize("multiturn", [False, True])
def test_convert_refuses_to_commit_when_a_row_goes_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, multiturn: bool
) -> None:
    import ftprep.convert as convert_mod
    from ftprep.errors import FtprepError

    src = tmp_path / "t.csv"
    if multiturn:
        src.write_text("cid,who,text\n1,user,hi\n1,assistant,hello\n2,user,q\n2,assistant,a\n")
        options = ConvertOptions(group_by="cid", role_column="who", content_column="text")
    else:
        src.write_text("q,a\nHi?,Hello.\nQ2,A2\n", encoding="utf-8")
        options = ConvertOptions(user="q", assistant="a")
    out = tmp_path / "o.jsonl"
    assert convert(src, out, options).read == 2  # reconciles when nothing is lost
    out.unlink()
    real = convert_mod._outcomes

    def lose_the_last(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcomes = list(real(*args, **kwargs))
        return iter(outcomes[:-1])

    monkeypatch.setattr(convert_mod, "_outcomes", lose_the_last)
    rows = 4 if multiturn else 2
    with pytest.raises(FtprepError, match=f"{rows} rows read but {rows - 2 if multiturn else 1} "
                                          "written or rejected; nothing was written"):
        convert(src, out, options)
    assert not out.exists()
