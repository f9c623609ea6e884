"""Near-duplicates (issue #11 item 13): FT921 in validate (opt-in, threshold configurable,
deterministic whatever the number of workers) and the MinHash index behind it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.quality.neardup import NearDuplicateIndex, clusters, signature
from ftprep.validate import validate_file

RESET = ("How do I reset my password on the web app?",
         "Open Settings, then Security, then Reset password.")


def chat(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def support(tmp_path: Path) -> Path:
    """A support export where line 5 re-asks line 2 with punctuation changes, line 7 is an
    exact copy of line 2 (FT109's business) and the rest differ."""
    records = [chat(f"Question number {i} about topic {i * 7}", f"Answer {i} is unique {i * 13}")
               for i in range(10)]
    records[1] = chat(*RESET)
    records[4] = chat("How do I reset my password on the web app ?",
                      "Open Settings, then Security, then Reset password!")
    records[6] = chat(*RESET)
    return write(tmp_path / "support.jsonl", records)


def test_near_duplicate_names_the_line_of_the_first(support: Path) -> None:
    report = validate_file(support, near_dup_threshold=0.8)
    found = [(f.code, f.line, f.message) for f in report.findings]
    assert found == [("FT921", 5, "near-duplicate of line 2 (similarity 1.00)"),
                     ("FT109", 7, "duplicate of line 2")]


def test_near_duplicates_are_opt_in(support: Path) -> None:
    assert [f.code for f in validate_file(support).findings] == ["FT109"]
    selected = validate_file(support, extend_select=["FT921"])  # default threshold
    assert [f.code for f in selected.findings] == ["FT921", "FT109"]


def test_threshold_decides(tmp_path: Path) -> None:
    """Two answers that share most words: about 0.6 similar."""
    path = write(tmp_path / "t.jsonl", [chat(*RESET), chat("How can I reset my password on the web app?",
                                                          RESET[1])])
    assert validate_file(path, ignore=["FT107"], near_dup_threshold=0.9).findings == []
    low = validate_file(path, ignore=["FT107"], near_dup_threshold=0.5).findings
    assert [(f.code, f.line) for f in low] == [("FT921", 2)]


def test_same_report_with_workers(tmp_path: Path) -> None:
    records = [chat(f"Tell me about item {i % 40} in the catalogue please",
                    f"Item {i % 40} costs {i % 40 + 10} euros and ships in {i % 3 + 1} days")
               for i in range(400)]  # 120 distinct records (40 x 3)
    path = write(tmp_path / "many.jsonl", records)
    one = validate_file(path, near_dup_threshold=0.8, workers=1)
    two = validate_file(path, near_dup_threshold=0.8, workers=2)
    assert one.to_dict() == two.to_dict()
    assert one.counts()["FT109"] == 280  # the copies are exact: FT109, not FT921


def test_cli_flag_and_bad_threshold(support: Path) -> None:
    r = CliRunner().invoke(main, ["validate", str(support), "--near-dup-threshold", "0.8",
                                  "--format", "json"])
    assert r.exit_code == 0  # warnings only
    assert json.loads(r.stdout)["counts"] == {"FT109": 1, "FT921": 1}
    bad = CliRunner().invoke(main, ["validate", str(support), "--near-dup-threshold", "1.5"])
    assert bad.exit_code == 2 and "--near-dup-threshold" in bad.output


def test_signatures_are_deterministic_and_clusters_chain() -> None:
    a = chat("one two three four five six seven eight", "nine ten")
    b = chat("one two three four five six seven eight", "nine ten eleven")
    c = chat("one two three four five six seven eight", "nine ten eleven twelve")
    assert signature(a) == signature(dict(a))
    assert signature(chat("", "")) is None
    index = NearDuplicateIndex(0.7)
    assert index.add(1, signature(a)) is None
    match = index.add(2, signature(b))
    assert match is not None and match.first == 1
    assert clusters(iter([(1, signature(a)), (2, signature(b)), (3, signature(c)),
                          (4, signature(chat("x y z", "w")))]), 0.7) == {1: 1, 2: 1, 3: 1}
