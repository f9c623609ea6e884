"""Unit and CLI tests for `ftprep split`."""
from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.errors import InputError, UsageError
from ftprep.models import get_model
from ftprep.split import (
    RecordKey,
    SplitOptions,
    allocate_largest_remainder,
    assign_split,
    final_assistant_content,
    get_json_path,
    parse_json_path,
    parse_test_size,
    split_file,
)
from ftprep.tokens import count_example, get_encoding


def chat(user: str, answer: str, **extra: object) -> dict:
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": answer}], **extra}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["split", *args])


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    records = [chat(f"q{i}", ["pos", "neg"][i % 2], metadata={"user_id": f"u{i % 10}"})
               for i in range(100)]
    return write_jsonl(tmp_path / "data.jsonl", records)


# ---------------------------------------------------------------- JSON paths and classes


def test_json_paths_parse_dotted_keys_and_indexes() -> None:
    assert parse_json_path("label") == ("label",)
    assert parse_json_path("metadata.user_id") == ("metadata", "user_id")
    assert parse_json_path("messages[0].content") == ("messages", 0, "content")
    assert parse_json_path("messages[-1].content") == ("messages", -1, "content")
    assert parse_json_path("a[1][2].b") == ("a", 1, 2, "b")


@pytest.mark.parametrize("bad", ["", ".a", "a.", "a..b", "a[x]", "[0]", "a[1"])
def test_bad_json_paths_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="not a JSON path"):
        parse_json_path(bad)


def test_get_json_path_values_and_missing() -> None:
    record = chat("hello", "yes", metadata={"user_id": "u1", "empty": None})
    assert get_json_path(record, parse_json_path("metadata.user_id")) == "u1"
    assert get_json_path(record, parse_json_path("messages[0].content")) == "hello"
    assert get_json_path(record, parse_json_path("messages[-1].role")) == "assistant"
    for missing in ("metadata.other", "messages[5].content", "metadata.user_id.x",
                    "metadata.empty", "messages.content"):
        assert get_json_path(record, parse_json_path(missing)) is None, missing


def test_assistant_class_is_the_final_assistant_message() -> None:
    record = {"messages": [{"role": "user", "content": "q"},
                           {"role": "assistant", "content": "first"},
                           {"role": "user", "content": "again"},
                           {"role": "assistant", "content": [{"type": "text", "text": "sp"},
                                                             {"type": "text", "text": "am"}]}]}
    assert final_assistant_content(record) == "spam"
    preference = {"input": {"messages": [{"role": "user", "content": "q"}]},
                  "preferred_output": [{"role": "assistant", "content": "good"}],
                  "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    assert final_assistant_content(preference) == "good"
    assert final_assistant_content({"prompt": "p", "completion": "c"}) == "c"
    assert final_assistant_content({"messages": [{"role": "user", "content": "q"}]}) is None


# ---------------------------------------------------------------- test size


@pytest.mark.parametrize(("text", "expected"), [
    ("0.2", 0.2), ("0.5", 0.5), ("500", 500), ("1", 1), ("1e3", 1000)])
def test_test_size_is_fraction_or_count(text: str, expected: float) -> None:
    value = parse_test_size(text)
    assert value == expected
    assert isinstance(value, int) == (expected >= 1)


@pytest.mark.parametrize("text", ["0", "1.5", "-0.2", "-3", "abc", "nan", "inf", ""])
def test_bad_test_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_test_size(text)


@pytest.mark.parametrize("text", ["0", "1.5", "-1", "abc", "nan"])
def test_cli_bad_test_value_exits_2_with_one_line(dataset: Path, tmp_path: Path,
                                                  text: str) -> None:
    result = run(str(dataset), "--test", text, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--test" in result.output
    assert not (tmp_path / "out").exists()


def test_count_test_size(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "big.jsonl", [chat(f"q{i}", "a") for i in range(1200)])
    result = run(str(src), "--test", "500", "-o", str(tmp_path / "out"), "--format", "json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["counts"] == {"train": 700, "test": 500, "target_test": 500,
                               "exact_duplicates": 0, "dropped_duplicates": 0,
                               "reconciled": True}
    assert len((tmp_path / "out" / "test.jsonl").read_bytes().splitlines()) == 500


def test_count_not_smaller_than_the_file_is_a_usage_error(dataset: Path, tmp_path: Path) -> None:
    result = run(str(dataset), "--test", "100", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "leaves nothing for train" in result.output


def test_fraction_rounds_to_nearest(dataset: Path, tmp_path: Path) -> None:
    result = split_file(dataset, tmp_path / "out", SplitOptions(test=0.123))
    assert result.stats.test == 12 and result.stats.train == 88


# ---------------------------------------------------------------- outputs and manifest


def test_output_keeps_original_bytes_and_input_order(tmp_path: Path) -> None:
    lines = [b'{ "b": 1,  "a": "\\u00e9" }', b'{"messages":[], "z":"\xc3\xa9"}',
             *[json.dumps({"i": i}).encode() for i in range(30)]]
    src = tmp_path / "odd.jsonl"
    src.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = split_file(src, tmp_path / "out", SplitOptions(test=0.3, seed=7))
    train = (tmp_path / "out" / "train.jsonl").read_bytes().splitlines()
    test = (tmp_path / "out" / "test.jsonl").read_bytes().splitlines()
    assert Counter(train + test) == Counter(lines)
    assert train == [ln for ln, side in zip(lines, result.assignment, strict=True) if side == "train"]
    assert test == [ln for ln, side in zip(lines, result.assignment, strict=True) if side == "test"]


def test_manifest_content(dataset: Path, tmp_path: Path) -> None:
    with dataset.open("a") as f:
        f.write("\n   \n")
    out = tmp_path / "out"
    result = run(str(dataset), "--test", "0.25", "--seed", "3", "--group-by",
                 "metadata.user_id", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "split.json").read_text())
    assert manifest["input"] == {
        "name": "data.jsonl", "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest(),
        "records": 100, "blank_lines_ignored": 2}
    assert manifest["options"] == {"test": 0.25, "seed": 3, "stratify_by": None,
                                   "group_by": "metadata.user_id", "dedupe": False,
                                   "model": None, "near_dup_threshold": None}
    # 10 users x 10 records: whole groups, so the test split is 20 or 30 for a target of 25.
    assert manifest["counts"]["test"] in (20, 30)
    assert manifest["counts"]["target_test"] == 25
    assert manifest["groups"] == {"count": 10, "missing_key": 0}
    assert manifest["units"] == {"count": 10, "largest": 10}
    assert manifest["leakage"] == {"ok": True, "duplicated_examples": 0, "shared_groups": 0,
                                   "same_prompt": 0, "near_duplicates": None,
                                   "train_records": manifest["counts"]["train"],
                                   "test_records": manifest["counts"]["test"],
                                   "source": "written files"}
    assert "leakage check: ok" in result.output
    assert "for a target of 25" in result.output


def test_same_options_in_any_order_give_identical_bytes(dataset: Path, tmp_path: Path) -> None:
    run(str(dataset), "--seed", "5", "--stratify-by", "assistant", "--test", "0.3",
        "-o", str(tmp_path / "a"))
    run(str(dataset), "-o", str(tmp_path / "b"), "--test", "0.3", "--stratify-by", "assistant",
        "--seed", "5")
    for name in ("train.jsonl", "test.jsonl", "split.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    run(str(dataset), "--seed", "6", "--stratify-by", "assistant", "--test", "0.3",
        "-o", str(tmp_path / "c"))
    assert (tmp_path / "c" / "test.jsonl").read_bytes() != (tmp_path / "a" / "test.jsonl").read_bytes()


def test_gzip_input(dataset: Path, tmp_path: Path) -> None:
    gz = tmp_path / "data.jsonl.gz"
    gz.write_bytes(gzip.compress(dataset.read_bytes()))
    plain = split_file(dataset, tmp_path / "plain", SplitOptions(seed=1))
    zipped = split_file(gz, tmp_path / "gz", SplitOptions(seed=1))
    assert plain.labels == zipped.labels
    assert zipped.stats.sha256 == hashlib.sha256(gz.read_bytes()).hexdigest()


# ---------------------------------------------------------------- duplicates and groups


def test_exact_duplicates_stay_together_and_dedupe_drops_later_copies(tmp_path: Path) -> None:
    records = [chat(f"q{i}", "a") for i in range(40)]
    src = tmp_path / "dups.jsonl"
    lines = [json.dumps(r) for r in records]
    # Same records with another key order and spacing: still exact duplicates.
    lines += [json.dumps(dict(reversed(list(r.items()))), indent=1).replace("\n", "")
              for r in records[:15]]
    src.write_text("\n".join(lines) + "\n")
    kept = split_file(src, tmp_path / "keep", SplitOptions(test=0.2))
    assert kept.stats.exact_duplicates == 15 and kept.stats.dropped_duplicates == 0
    for i in range(15):  # record i and its copy at 40 + i share a side
        assert kept.assignment[i] == kept.assignment[40 + i]
    result = run(str(src), "--dedupe", "-o", str(tmp_path / "dd"), "--format", "json")
    stats = json.loads(result.output)
    assert stats["counts"]["dropped_duplicates"] == 15
    assert stats["counts"]["train"] + stats["counts"]["test"] == 40
    assert stats["counts"]["test"] == 8  # round(40 * 0.2): the target counts kept records
    written = [json.loads(ln) for name in ("train.jsonl", "test.jsonl")
               for ln in (tmp_path / "dd" / name).read_text().splitlines()]
    assert sorted(json.dumps(r, sort_keys=True) for r in written) == sorted(
        json.dumps(r, sort_keys=True) for r in records)


def test_records_without_group_key_are_their_own_group(tmp_path: Path) -> None:
    records = [chat(f"q{i}", "a", metadata={"user_id": "same"}) for i in range(10)]
    records += [chat(f"lonely{i}", "a") for i in range(20)]
    src = write_jsonl(tmp_path / "g.jsonl", records)
    result = split_file(src, tmp_path / "out", SplitOptions(test=0.2, group_by="metadata.user_id"))
    assert result.stats.missing_group == 20 and result.stats.groups == 1
    assert len(set(result.assignment[:10])) == 1
    assert any("20 records have no 'metadata.user_id'" in w for w in result.stats.warnings)


def test_group_by_an_indexed_path(tmp_path: Path) -> None:
    records = [chat(f"prompt{i % 4}", f"answer{i}") for i in range(40)]
    src = write_jsonl(tmp_path / "p.jsonl", records)
    result = split_file(src, tmp_path / "out",
                        SplitOptions(test=0.25, group_by="messages[0].content"))
    sides = {}
    for i, side in enumerate(result.assignment):
        assert sides.setdefault(i % 4, side) == side
    assert result.stats.test == 10


# ---------------------------------------------------------------- stratification


def test_stratify_by_assistant_keeps_class_proportions(tmp_path: Path) -> None:
    labels = ["spam"] * 60 + ["ham"] * 30 + ["eggs"] * 10
    src = write_jsonl(tmp_path / "cls.jsonl", [chat(f"q{i}", lab) for i, lab in enumerate(labels)])
    result = run(str(src), "--stratify-by", "assistant", "--test", "0.2",
                 "-o", str(tmp_path / "out"), "--format", "json")
    stats = json.loads(result.output)
    assert stats["strata"]["classes"] == [
        {"class": "eggs", "total": 10, "train": 8, "test": 2},
        {"class": "ham", "total": 30, "train": 24, "test": 6},
        {"class": "spam", "total": 60, "train": 48, "test": 12},
    ]
    test_labels = Counter(json.loads(ln)["messages"][-1]["content"]
                          for ln in (tmp_path / "out" / "test.jsonl").read_text().splitlines())
    assert test_labels == {"spam": 12, "ham": 6, "eggs": 2}


def test_tiny_classes_go_to_train_and_are_reported(tmp_path: Path) -> None:
    records = [chat(f"q{i}", "common", label="big") for i in range(30)]
    records += [chat("rare one", "x", label="rare"), chat("odd", "y", label="odd")]
    src = write_jsonl(tmp_path / "tiny.jsonl", records)
    result = run(str(src), "--stratify-by", "label", "-o", str(tmp_path / "out"),
                 "--format", "json")
    stats = json.loads(result.output)
    assert stats["strata"]["unsplittable"] == [{"class": "odd", "records": 1},
                                               {"class": "rare", "records": 1}]
    train = (tmp_path / "out" / "train.jsonl").read_text()
    assert '"rare"' in train and '"odd"' in train
    assert any("2 classes too small to split went to train: odd, rare" in w
               for w in stats["warnings"])


def test_largest_remainder_never_exceeds_one_per_class() -> None:
    # 3 singleton classes are left out; their share must not be pushed onto class "d".
    quotas = allocate_largest_remainder(5, {"d": 4}, 7)
    assert quotas == {"d": 3}  # exact share 20/7 = 2.86
    assert allocate_largest_remainder(10, {"a": 5, "b": 3, "c": 2}, 10) == {"a": 5, "b": 3, "c": 2}
    # exact shares 1.5, 0.9, 0.6: floors 1, 0, 0; the two largest remainders (b, c) get +1
    assert allocate_largest_remainder(3, {"a": 5, "b": 3, "c": 2}, 10) == {"a": 1, "b": 1, "c": 1}
    assert sum(allocate_largest_remainder(7, {"a": 4, "b": 4, "c": 4}, 12).values()) == 7


def test_stratify_and_group_use_the_groups_first_class(tmp_path: Path) -> None:
    records = []
    for user in range(20):
        first = ["pos", "neg"][user % 2]
        records += [chat(f"u{user} {k}", first if k == 0 else "neg",
                         metadata={"user_id": user}) for k in range(3)]
    src = write_jsonl(tmp_path / "sg.jsonl", records)
    result = split_file(src, tmp_path / "out", SplitOptions(
        test=0.2, stratify_by="assistant", group_by="metadata.user_id"))
    by_user: dict[int, set[str]] = {}
    for record, side in zip(records, result.assignment, strict=True):
        by_user.setdefault(record["metadata"]["user_id"], set()).add(side)
    assert all(len(sides) == 1 for sides in by_user.values())
    test_users = [u for u, sides in by_user.items() if sides == {"test"}]
    # 12 test examples = 4 groups; by first-record class that is 2 "pos" and 2 "neg" groups.
    assert len(test_users) == 4
    assert sorted(u % 2 for u in test_users) == [0, 0, 1, 1]


# ---------------------------------------------------------------- warnings and errors


def test_small_split_warning(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "small.jsonl", [chat(f"q{i}", "a") for i in range(30)])
    result = run(str(src), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0
    warning = "test split has 6 examples; fine-tuning files need at least 10"
    assert f"ftprep: warning: {warning}" in result.stderr
    assert "ftprep: warning" not in result.stdout
    stats = split_file(src, tmp_path / "o2", SplitOptions()).to_dict()
    assert stats["warnings"] == [warning]


@pytest.mark.parametrize(("content", "message"), [
    (b'{"a": 1}\n{"a": \n', "bad.jsonl:2"),
    (b'{"a": 1}\n[1, 2]\n', "bad.jsonl:2: expected a JSON object, got an array"),
    (b"\n\n", "no examples to split"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_bytes(content)
    result = run(str(src), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_missing_file_and_stdin(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "nope.jsonl: no such file" in result.output
    result = run("-", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "not stdin" in result.output


def test_bad_key_path_option(dataset: Path, tmp_path: Path) -> None:
    result = run(str(dataset), "--group-by", "meta..x", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "--group-by 'meta..x' is not a JSON path" in result.output


def test_file_changed_between_passes_is_detected(dataset: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import ftprep.split.passes as split_mod  # split_file looks scan_keys up there

    real_scan = split_mod.scan_keys

    def scan_then_modify(path, extractor):  # type: ignore[no-untyped-def]
        scan = real_scan(path, extractor)
        with open(path, "a") as f:
            f.write(json.dumps(chat("late", "x")) + "\n")
        return scan

    monkeypatch.setattr(split_mod, "scan_keys", scan_then_modify)
    with pytest.raises(InputError, match="changed while it was being split"):
        split_file(dataset, tmp_path / "out", SplitOptions())
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_assign_split_is_pure_over_keys() -> None:
    keys = [RecordKey(bytes([i % 7]), None, None) for i in range(30)]
    options = SplitOptions(test=0.3, seed=11)
    first = assign_split(keys, options)
    assert first == assign_split(keys, options)
    for i in range(30):
        assert first[i] == first[i % 7]


# ---------------------------------------------------------------- --model and the script


def test_model_token_totals(dataset: Path, tmp_path: Path) -> None:
    model = "gpt-4o-mini-2024-07-18"
    encoding = get_encoding(get_model(model).encoding)
    result = run(str(dataset), "--model", model, "-o", str(tmp_path / "out"), "--format", "json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    for side in ("train", "test"):
        lines = (tmp_path / "out" / f"{side}.jsonl").read_text().splitlines()
        expected = sum(count_example(json.loads(ln), encoding).total for ln in lines)
        assert stats["tokens"][side] == expected > 0


def test_installed_script_subprocess(dataset: Path, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ftprep")
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(script), "split", str(dataset), "--test", "0.2", "--seed", "9", "--stratify-by",
         "assistant", "-o", str(out), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats == json.loads((out / "split.json").read_text())
    assert (stats["counts"]["train"], stats["counts"]["test"]) == (80, 20)
    assert [c["test"] for c in stats["strata"]["classes"]] == [10, 10]
    bad = subprocess.run([str(script), "split", str(dataset), "--test", "2.5", "-o", str(out)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("ftprep: error: --test '2.5'")
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("name", ["train.jsonl", "test.jsonl", "split.json"])
def test_output_dir_holding_the_input_is_refused_and_input_kept(tmp_path: Path, name: str) -> None:
    # `split data/train.jsonl -o data` used to replace the input with its own train split.
    records = [chat(f"q{i}", "a") for i in range(20)]
    source = write_jsonl(tmp_path / name, records)
    before = source.read_bytes()
    result = run(str(source), "-o", str(tmp_path))
    assert result.exit_code == 2
    expected = (f"ftprep: error: the output {tmp_path / name} would overwrite the input "
                f"{source}; choose another --output-dir")
    assert result.output.strip().splitlines() == [expected]
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_input_reached_through_a_symlink_is_protected(tmp_path: Path) -> None:
    data = tmp_path / "out"
    data.mkdir()
    real = write_jsonl(data / "train.jsonl", [chat(f"q{i}", "a") for i in range(20)])
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    before = real.read_bytes()
    with pytest.raises(UsageError, match="would overwrite the input"):
        split_file(link, tmp_path / "x" / ".." / "out", SplitOptions(test=5))
    assert real.read_bytes() == before


def test_output_symlink_to_the_input_is_replaced_not_followed(tmp_path: Path) -> None:
    # The atomic writer replaces the link itself, so the input is safe and this is allowed.
    source = write_jsonl(tmp_path / "data.jsonl", [chat(f"q{i}", "a") for i in range(20)])
    before = source.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "test.jsonl").symlink_to(source)
    result = split_file(source, out, SplitOptions(test=5))
    assert (result.stats.train, result.stats.test) == (15, 5)
    assert source.read_bytes() == before
    assert not (out / "test.jsonl").is_symlink()


def test_outputs_get_the_usual_file_mode(tmp_path: Path) -> None:
    # The atomic writer's temporary file is 0600; outputs were left unreadable to the group
    # and others (e.g. a training container running as another user) whatever the umask.
    import os
    import stat

    source = write_jsonl(tmp_path / "data.jsonl", [chat(f"q{i}", "a") for i in range(20)])
    old = os.umask(0o022)
    try:
        split_file(source, tmp_path / "out", SplitOptions(test=5))
    finally:
        os.umask(old)
    for name in ("train.jsonl", "test.jsonl", "split.json"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o644, name
