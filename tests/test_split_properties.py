"""Property tests for `ftprep split`: random datasets with duplicates, groups and classes."""
from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftprep.split import RecordKey, SplitOptions, assign_split, split_file

# ---------------------------------------------------------------- key-level datasets


@st.composite
def datasets(draw: st.DrawFn, *, groups: bool = True, dupes: bool = True,
             classes: bool = True) -> list[RecordKey]:
    """Records drawn from a pool of distinct contents; equal content ⇒ equal key, so a
    duplicate carries the same group and class, exactly as in a real file."""
    pool = draw(st.integers(1, 40))
    n = draw(st.integers(2, 80))
    content = draw(st.lists(st.integers(0, pool - 1), min_size=n, max_size=n)) if dupes else list(range(n))
    group_of = draw(st.lists(st.one_of(st.none(), st.integers(0, 8)), min_size=max(pool, n),
                             max_size=max(pool, n)))
    class_of = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", None]), min_size=max(pool, n),
                             max_size=max(pool, n)))
    return [
        RecordKey(
            digest=c.to_bytes(4, "big"),
            group=None if not groups or group_of[c] is None else bytes([group_of[c]]),
            stratum=class_of[c] if classes else None,
        )
        for c in content
    ]


def units_of(keys: Sequence[RecordKey]) -> list[int]:
    """Independent unit labelling (flood fill, not the union-find under test)."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    by_value: dict[tuple[str, bytes], list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_value[("d", k.digest)].append(i)
        if k.group is not None:
            by_value[("g", k.group)].append(i)
    for members in by_value.values():
        for i in members:
            neighbours[i].update(members)
    label = [-1] * len(keys)
    for start in range(len(keys)):
        if label[start] >= 0:
            continue
        stack = [start]
        while stack:
            i = stack.pop()
            if label[i] < 0:
                label[i] = start
                stack.extend(j for j in neighbours[i] if label[j] < 0)
    return label


test_fractions = st.sampled_from([0.1, 0.2, 0.25, 1 / 3, 0.5, 0.75])


def target_for(options: SplitOptions, n: int) -> int:
    return options.test if isinstance(options.test, int) else round(n * options.test)


@settings(max_examples=80, deadline=None)
@given(keys=datasets(), fraction=test_fractions, seed=st.integers(0, 2**32))
def test_units_never_straddle_and_size_is_within_one_unit(keys, fraction, seed) -> None:
    options = SplitOptions(test=fraction, seed=seed)
    is_test = assign_split(keys, options)
    assert len(is_test) == len(keys)
    units = units_of(keys)
    side_of_unit: dict[int, bool] = {}
    for unit, side in zip(units, is_test, strict=True):
        assert side_of_unit.setdefault(unit, side) == side, "a duplicate or group straddles"
    largest = max(Counter(units).values())
    # Greedy over whole units misses the target by less than the largest unit.
    assert abs(sum(is_test) - target_for(options, len(keys))) <= largest - 1


@settings(max_examples=80, deadline=None)
@given(keys=datasets(groups=False, dupes=False), fraction=test_fractions,
       seed=st.integers(0, 2**32))
def test_single_record_units_hit_the_target_exactly(keys, fraction, seed) -> None:
    options = SplitOptions(test=fraction, seed=seed)
    assert sum(assign_split(keys, options)) == round(len(keys) * fraction)


@settings(max_examples=80, deadline=None)
@given(keys=datasets(), fraction=test_fractions, seed=st.integers(0, 2**32),
       stratify=st.booleans())
def test_assignment_is_deterministic(keys, fraction, seed, stratify) -> None:
    by_kw = SplitOptions(test=fraction, seed=seed, stratify_by="label" if stratify else None)
    reordered = SplitOptions(stratify_by="label" if stratify else None, seed=seed, test=fraction)
    assert assign_split(keys, by_kw) == assign_split(list(keys), reordered)


@settings(max_examples=80, deadline=None)
@given(keys=datasets(groups=False, dupes=False), fraction=test_fractions,
       seed=st.integers(0, 2**32))
def test_stratum_proportions_within_one_per_class(keys, fraction, seed) -> None:
    options = SplitOptions(test=fraction, seed=seed, stratify_by="label")
    is_test = assign_split(keys, options)
    n, target = len(keys), round(len(keys) * fraction)
    per_class = Counter(k.stratum for k in keys)
    test_per_class = Counter(k.stratum for k, t in zip(keys, is_test, strict=True) if t)
    for cls, size in per_class.items():
        if size == 1:  # too small to split: stays in train
            assert test_per_class[cls] == 0
            continue
        exact_share = target * size / n
        assert abs(test_per_class[cls] - exact_share) < 1 + 1e-9, (cls, test_per_class, target)
    if all(size > 1 for size in per_class.values()):
        assert sum(is_test) == target


@settings(max_examples=60, deadline=None)
@given(keys=datasets(), fraction=test_fractions, seed=st.integers(0, 2**32))
def test_stratified_groups_keep_units_whole_and_total_close(keys, fraction, seed) -> None:
    options = SplitOptions(test=fraction, seed=seed, stratify_by="label")
    is_test = assign_split(keys, options)
    units = units_of(keys)
    side_of_unit: dict[int, bool] = {}
    for unit, side in zip(units, is_test, strict=True):
        assert side_of_unit.setdefault(unit, side) == side
    # Each class (of a unit's first record) is filled to its quota within one unit; the miss
    # is carried to the next class, so only whole-class capacity limits can add to it.
    unit_sizes = Counter(units)
    class_of_unit = {u: keys[u].stratum for u in unit_sizes}
    units_per_class = Counter(class_of_unit.values())
    if all(c >= 2 for c in units_per_class.values()):
        target = round(len(keys) * fraction)
        assert abs(sum(is_test) - target) <= 2 * max(unit_sizes.values())


# ---------------------------------------------------------------- file-level datasets


@st.composite
def jsonl_files(draw: st.DrawFn) -> list[bytes]:
    """Lines of a JSONL file: chat records with a user id and a label, some repeated with
    other key order / whitespace (still exact duplicates), some blank lines."""
    n = draw(st.integers(1, 40))
    lines: list[bytes] = []
    for _i in range(n):
        cid = draw(st.integers(0, 25))
        record = {"messages": [{"role": "user", "content": f"q{cid}"},
                               {"role": "assistant", "content": ["yes", "no"][cid % 2]}],
                  "metadata": {"user_id": f"u{cid % 7}"} if cid % 5 else {}}
        style = draw(st.sampled_from(["compact", "spaced", "sorted"]))
        if style == "compact":
            lines.append(json.dumps(record, separators=(",", ":")).encode())
        elif style == "spaced":
            lines.append(json.dumps(record, indent=None).encode())
        else:
            lines.append(json.dumps(record, sort_keys=True).encode())
        if draw(st.integers(0, 9)) == 0:
            lines.append(b"   ")
    if len([ln for ln in lines if ln.strip()]) < 2:
        lines.append(b'{"prompt": "p", "completion": "c"}')
    return lines


def users_of(lines: list[bytes]) -> set[str]:
    return {json.loads(ln).get("metadata", {}).get("user_id") for ln in lines} - {None}


def canon(line: bytes) -> str:
    return json.dumps(json.loads(line), sort_keys=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=jsonl_files(), fraction=test_fractions, seed=st.integers(0, 1000),
       dedupe=st.booleans(), group=st.booleans(), stratify=st.booleans())
def test_split_file_loses_nothing_and_is_byte_identical(lines, fraction, seed, dedupe, group,
                                                        stratify) -> None:
    options = SplitOptions(test=fraction, seed=seed, dedupe=dedupe,
                           group_by="metadata.user_id" if group else None,
                           stratify_by="assistant" if stratify else None)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        first = split_file(src, Path(tmp) / "a", options)
        split_file(src, Path(tmp) / "b", options)
        outputs = {name: (Path(tmp) / "a" / name).read_bytes()
                   for name in ("train.jsonl", "test.jsonl", "split.json")}
        for name, data in outputs.items():
            assert (Path(tmp) / "b" / name).read_bytes() == data, name
    records = [ln for ln in lines if ln.strip()]
    train = outputs["train.jsonl"].splitlines()
    test = outputs["test.jsonl"].splitlines()
    kept, seen = [], set()
    for ln in records:  # what --dedupe keeps: the first copy of each canonical record
        if not dedupe or canon(ln) not in seen:
            kept.append(ln)
        seen.add(canon(ln))
    # Nothing lost or duplicated: original bytes, as multisets, and input order kept.
    assert Counter(train + test) == Counter(kept)
    assert train == [ln for ln, code in zip(records, first.labels, strict=True) if code == 0]
    assert test == [ln for ln, code in zip(records, first.labels, strict=True) if code == 1]
    manifest = json.loads(outputs["split.json"])
    counts = manifest["counts"]
    assert counts["train"] + counts["test"] + counts["dropped_duplicates"] == len(records)
    assert counts["dropped_duplicates"] == len(records) - len(kept)
    assert manifest["input"]["blank_lines_ignored"] == len(lines) - len(records)
    # No exact duplicate across the files, whatever the options.
    assert not {canon(ln) for ln in train} & {canon(ln) for ln in test}
    if group:
        assert not users_of(train) & users_of(test)
    assert manifest["leakage"]["ok"] is True
