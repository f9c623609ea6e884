"""Per-record state that must stay small (README "Limits and memory"): the duplicate table
of validate, split's class labels."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from ftprep.digest_lines import DigestLines
from ftprep.split import KeyExtractor, SplitOptions, parse_test_size


def test_digest_lines_behaves_like_a_dict_of_first_lines() -> None:
    rng = random.Random(7)
    digests = [hashlib.blake2b(str(rng.randrange(3000)).encode(), digest_size=16).digest()
               for _ in range(10_000)]
    table, reference = DigestLines(capacity=8), {}
    for line, d in enumerate(digests, start=1):
        assert table.setdefault(d, line) == reference.setdefault(d, line)
    assert len(table) == len(reference)
    assert table.nbytes <= 80 * len(reference)  # 20-byte slots, at most half full after growth


def test_a_class_named_by_a_long_answer_keeps_a_digest_not_the_answer() -> None:
    options = SplitOptions(test=parse_test_size("0.2"), seed=0, stratify_by="assistant")
    extractor = KeyExtractor(options)

    def record(answer: str) -> dict:
        return {"messages": [{"role": "user", "content": "q"},
                             {"role": "assistant", "content": answer}]}

    long_a, long_b = "x" * 5000 + "a", "x" * 5000 + "b"
    a1 = extractor.key_of(record(long_a)).stratum
    a2 = extractor.key_of(record(long_a)).stratum
    b = extractor.key_of(record(long_b)).stratum
    assert a1 is a2  # one string per class
    assert a1 != b and a1 is not None and b is not None
    assert len(a1) < 100 and a1.startswith("x" * 60 + "… #")
    assert extractor.key_of(record("short")).stratum == "short"  # readable labels unchanged


def test_split_reads_long_answer_classes(tmp_path: Path) -> None:
    from ftprep.split import split_file

    src = tmp_path / "a.jsonl"
    lines = [{"messages": [{"role": "user", "content": f"q{i}"},
                           {"role": "assistant", "content": ("long " * 100) + str(i % 2)}]}
             for i in range(40)]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    options = SplitOptions(test=parse_test_size("0.25"), seed=0, stratify_by="assistant")
    result = split_file(src, tmp_path / "out", options)
    classes = result.to_dict()["strata"]["classes"]
    assert len(classes) == 2 and all("… #" in c["class"] for c in classes)
    assert sum(c["test"] for c in classes) == 10
