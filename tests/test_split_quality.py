"""split and content-level leakage (issue #11 item 13): the same prompt with another answer
is reported by the leakage check and kept in one split; near-duplicate clusters stay on one
side with --near-dup-threshold, and the written splits are checked for them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ftprep.split import SplitOptions, split_file
from ftprep.split.keys import KeyExtractor
from ftprep.split.passes import check_leakage

FTPREP = str(Path(sys.executable).with_name("ftprep"))


def chat(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_leakage_check_reports_a_prompt_answered_differently(tmp_path: Path) -> None:
    train = write(tmp_path / "train.jsonl", [chat("What is 2 + 2?", "4"), chat("Hi", "Hello")])
    test = write(tmp_path / "test.jsonl", [chat("What is 2 + 2?", "Four."), chat("Bye", "Bye!")])
    leakage = check_leakage(train, test, KeyExtractor(SplitOptions()))
    assert (leakage.duplicated_examples, leakage.same_prompt, leakage.ok) == (0, 1, False)
    assert leakage.to_dict()["same_prompt"] == 1


def _split_of(out: Path) -> dict[str, str]:
    """First user message → the split it went to (all of them, per split)."""
    where: dict[str, set[str]] = {}
    for name in ("train", "test"):
        for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            where.setdefault(json.loads(line)["messages"][0]["content"], set()).add(name)
    return {prompt: "+".join(sorted(s)) for prompt, s in where.items()}


def test_same_prompt_records_stay_in_one_split(tmp_path: Path) -> None:
    records = [chat(f"Classify ticket {i % 25}", f"label {i}") for i in range(100)]
    result = split_file(write(tmp_path / "d.jsonl", records), tmp_path / "out", SplitOptions(test=0.2))
    assert set(_split_of(tmp_path / "out").values()) <= {"train", "test"}
    assert result.stats.leakage.same_prompt == 0 and result.ok


def _near_dup_dataset(tmp_path: Path) -> Path:
    """30 distinct questions, each asked three times with small wording changes."""
    records = []
    for i in range(30):
        q = f"How do I configure feature {i} of the desktop app for team number {i * 3}"
        a = f"Open settings, choose feature {i}, then set the team to {i * 3} and save it"
        records += [chat(q + "?", a + "."), chat(q + " ?", a + "!"), chat(q + "??", a + " .")]
    return write(tmp_path / "near.jsonl", records)


def _clusters_split(out: Path) -> dict[str, set[str]]:
    by_feature: dict[str, set[str]] = {}
    for name in ("train", "test"):
        for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            words = json.loads(line)["messages"][0]["content"].split()
            by_feature.setdefault(words[5], set()).add(name)
    return by_feature


def test_near_duplicate_clusters_stay_on_one_side(tmp_path: Path) -> None:
    data = _near_dup_dataset(tmp_path)
    plain = split_file(data, tmp_path / "plain", SplitOptions(test=0.2, seed=1))
    straddling = [f for f, s in _clusters_split(tmp_path / "plain").items() if len(s) == 2]
    assert straddling, "without the threshold some clusters straddle (what this test guards)"
    assert plain.stats.leakage.near_duplicates is None  # not checked without a threshold

    kept = split_file(data, tmp_path / "kept", SplitOptions(test=0.2, seed=1, near_dup_threshold=0.8))
    assert all(len(s) == 1 for s in _clusters_split(tmp_path / "kept").values())
    assert kept.stats.leakage.near_duplicates == 0 and kept.ok
    assert kept.stats.test == 18  # whole clusters of 3: the target of 18 is met exactly


def test_cli_near_dup_threshold_end_to_end(tmp_path: Path) -> None:
    data = _near_dup_dataset(tmp_path)
    r = subprocess.run([FTPREP, "split", str(data), "--test", "0.2", "--near-dup-threshold", "0.8",
                        "-o", str(tmp_path / "o"), "--format", "json"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    assert manifest["options"]["near_dup_threshold"] == 0.8
    assert manifest["leakage"]["near_duplicates"] == 0
    assert manifest["units"]["count"] == 30


def _free_text(tmp_path: Path, n: int = 300) -> Path:
    """A support export whose answers are all different: --stratify-by assistant used to print
    a line per class and miss its test target by far, exit 0 (issue #11 item 10)."""
    return write(tmp_path / "free.jsonl", [chat(f"Question {i}", f"A long unique answer {i}")
                                           for i in range(n)])


def test_stratifying_by_free_text_is_refused_once(tmp_path: Path) -> None:
    r = subprocess.run([FTPREP, "split", str(_free_text(tmp_path)), "--stratify-by", "assistant",
                        "-o", str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "ftprep: error: --stratify-by assistant gives 300 classes for 300 examples: that is free "
        "text, not a label (stratifying needs at least 2 examples per class on average); "
        "stratify by a label such as metadata.label, or leave --stratify-by out"]
    assert not (tmp_path / "o").exists()


def test_a_small_labelled_file_is_not_taken_for_free_text(tmp_path: Path) -> None:
    # 2 classes in 4 examples is as many classes as examples/2, but yes/no is a label: the
    # refusal needs many classes too (hypothesis found this in test_split_properties).
    records = [chat(f"Question {i}", ["yes", "no"][i % 2]) for i in range(4)]
    r = subprocess.run([FTPREP, "split", str(write(tmp_path / "s.jsonl", records)),
                        "--stratify-by", "assistant", "--test", "0.5", "-o",
                        str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


def test_many_real_classes_are_listed_briefly(tmp_path: Path) -> None:
    records = [chat(f"Question {i}", f"label {i % 40}") for i in range(200)]  # 40 classes x 5
    r = subprocess.run([FTPREP, "split", str(write(tmp_path / "l.jsonl", records)),
                        "--stratify-by", "assistant", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    class_lines = [x for x in r.stdout.splitlines() if x.startswith("  class ")]
    assert len(class_lines) == 20
    assert "  … and 20 more classes (split.json lists all)" in r.stdout.splitlines()
    manifest = json.loads((tmp_path / "o" / "split.json").read_text(encoding="utf-8"))
    assert len(manifest["strata"]["classes"]) == 40 and manifest["counts"]["test"] == 40
