"""Assignment (pure, seeded): which whole units (duplicates and groups joined) go to
test, optionally per class with largest-remainder quotas."""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ftprep.split.keys import RecordKey
from ftprep.split.options import SplitOptions


@dataclass
class Assignment:
    """The outcome of `plan_split`: is_test per record plus what shaped it."""

    is_test: list[bool]
    target: int
    units: int
    largest_unit: int
    unsplittable: dict[str | None, int] = field(default_factory=dict)  # class → records


def assign_split(keys: Sequence[RecordKey], options: SplitOptions) -> list[bool]:
    """is_test for each record. Pure and deterministic: depends only on keys and options."""
    return plan_split(keys, options).is_test


def plan_split(keys: Sequence[RecordKey], options: SplitOptions) -> Assignment:
    """Choose whole units (duplicates and groups joined) for the test split."""
    n = len(keys)
    target = options.target_test_size(n) if n else 0
    roots = _unit_roots(keys)
    sizes = Counter(roots)
    order_prefix = f"ftprep-split\0{options.seed}\0".encode()
    # (seeded order key, root, size); the root is the unit's first record, so its digest is
    # unique among units and the order does not depend on how the file is laid out.
    units = sorted(
        (hashlib.blake2b(order_prefix + keys[r].digest, digest_size=16).digest(), r, s)
        for r, s in sizes.items()
    )
    unsplittable: dict[str | None, int] = {}
    if options.stratify_by is None:
        chosen = _greedy(units, target)
    else:
        chosen, unsplittable = _stratified(units, keys, target, n)
    is_test = [roots[i] in chosen for i in range(n)]
    return Assignment(is_test, target, len(units), max(sizes.values(), default=0), unsplittable)


def _unit_roots(keys: Sequence[RecordKey]) -> list[int]:
    """Union-find: the first record index of each record's unit (duplicates, groups, records
    sharing a prompt, near-duplicate clusters)."""
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression keeps later finds O(1)-ish
            parent[i], i = root, parent[i]
        return root

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # the smaller index stays root, so a root is its unit's first record
            parent[max(ra, rb)] = min(ra, rb)

    first_by_digest: dict[bytes, int] = {}
    first_by_group: dict[bytes, int] = {}
    first_by_prompt: dict[bytes, int] = {}
    first_by_near: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        union(i, first_by_digest.setdefault(key.digest, i))
        if key.group is not None:
            union(i, first_by_group.setdefault(key.group, i))
        # One prompt with different answers in train and test leaks the prompt (and tests
        # recall of the other answer): such records form one unit too.
        if key.prompt is not None:
            union(i, first_by_prompt.setdefault(key.prompt, i))
        if key.near is not None:
            union(i, first_by_near.setdefault(key.near, i))
    return [find(i) for i in range(len(keys))]


def _greedy(units: Sequence[tuple[bytes, int, int]], target: int) -> set[int]:
    """Take units in the given order whenever that brings the total closer to target.
    With unit sizes of 1 this hits the target exactly; otherwise the miss is below the
    largest unit (below half of it when short)."""
    chosen: set[int] = set()
    total = 0
    for _, root, size in units:
        if total == target:
            break
        if abs(total + size - target) < abs(total - target):
            chosen.add(root)
            total += size
    return chosen


def _stratified(
    units: Sequence[tuple[bytes, int, int]], keys: Sequence[RecordKey], target: int, n: int
) -> tuple[set[int], dict[str | None, int]]:
    by_class: dict[str | None, list[tuple[bytes, int, int]]] = defaultdict(list)
    for unit in units:
        by_class[keys[unit[1]].stratum].append(unit)
    records = {c: sum(s for _, _, s in us) for c, us in by_class.items()}
    # A class with a single unit cannot be in both splits: it stays in train, reported.
    unsplittable = {c: records[c] for c, us in by_class.items() if len(us) < 2}
    splittable = {c: r for c, r in records.items() if c not in unsplittable}
    quotas = allocate_largest_remainder(target, splittable, n)
    chosen: set[int] = set()
    carry = 0  # test examples owed (+) or taken in excess (-) by earlier classes
    for c in sorted(quotas, key=class_sort_key):
        # Passing the miss on keeps the total within one unit of the target when units are
        # groups; with single-record units every class hits its quota and carry stays 0.
        goal = min(max(quotas[c] + carry, 0), records[c])
        taken = _greedy(by_class[c], goal)
        got = sum(s for _, r, s in by_class[c] if r in taken)
        carry += quotas[c] - got
        chosen |= taken
    return chosen, unsplittable


def class_sort_key(label: str | None) -> tuple[int, str]:
    return (0, "") if label is None else (1, label)


def allocate_largest_remainder(target: int, sizes: dict[str | None, int], n: int) -> dict:
    """Split `target` across classes in proportion size/n, n counting all records (so each
    class keeps its share of the whole input). Floors first, then one extra example each to
    the largest remainders (ties: larger class, then name) until the quotas sum to `target`.
    Every quota is thus within one example of its exact share. The shares of classes left out
    of `sizes` (too small to split) are not handed to others: that would push them past the
    one-example bound, so the total may then fall short of `target` (reported)."""
    if not sizes or n == 0:
        return {}
    quotas = {c: target * s // n for c, s in sizes.items()}
    left = target - sum(quotas.values())
    by_remainder = sorted(
        sizes, key=lambda c: (-(target * sizes[c] % n), -sizes[c], class_sort_key(c)))
    for c in by_remainder[:left]:
        quotas[c] += quotas[c] < sizes[c]  # full only when target == n (fraction near 1)
    return quotas

