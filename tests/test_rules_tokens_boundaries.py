"""FT701/FT702 and count's billing at the exact limit boundaries: limit-1, limit, limit+1,
with validate and count agreeing on every line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftprep.count import count_file
from ftprep.validate import validate_file

# In o200k_base every word below is one token: 3 + "user" + "hi" | 3 + "assistant" + "x" | 3.
RECORD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
TOTAL, ANSWER_START = 13, 9


def _files(tmp_path: Path, limit: int) -> tuple[Path, Path]:
    models = tmp_path / "m.toml"
    models.write_text(f'[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = {limit}\n')
    data = tmp_path / "d.jsonl"
    data.write_text((json.dumps(RECORD) + "\n") * 10)
    return data, models


@pytest.mark.parametrize(("limit", "ft701", "ft702"), [
    (TOTAL + 1, False, False),
    (TOTAL, False, False),  # exactly at the limit: nothing is cut
    (TOTAL - 1, True, False),  # one token cut (the reply priming), the answer survives
    (ANSWER_START + 1, True, False),  # only the answer's first token survives
    (ANSWER_START, True, True),  # the answer would start at the first cut position
    (ANSWER_START - 1, True, True),
])
def test_token_limit_boundaries(tmp_path: Path, limit: int, ft701: bool, ft702: bool) -> None:
    data, models = _files(tmp_path, limit)
    report = validate_file(data, model="gpt-4o-mini", models_file=models, select=["FT7"])
    codes = {(f.code, f.line) for f in report.findings}
    assert codes == ({("FT701", i) for i in range(1, 11)} if ft701 else set()) | (
        {("FT702", i) for i in range(1, 11)} if ft702 else set())
    counted = count_file(data, model="gpt-4o-mini", models_file=models)
    assert counted.total_tokens == 10 * TOTAL
    assert counted.billed_tokens == 10 * min(TOTAL, limit)
    assert counted.over_limit == (10 if ft701 else 0)
    assert counted.tokens_cut == 10 * max(0, TOTAL - limit)
    assert counted.answer_cut == (10 if ft702 else 0)
    assert counted.ok is not ft702


def test_billed_is_the_sum_of_per_example_minimums(tmp_path: Path) -> None:
    models = tmp_path / "m.toml"
    models.write_text('[models."gpt-4o-mini-2024-07-18"]\nmax_example_tokens = 12\n')
    data = tmp_path / "d.jsonl"
    # 13 tokens; 12 (an empty answer); 15 ("hi there friend" is three tokens)
    rows = [RECORD,
            {"messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": ""}]},
            {"messages": [{"role": "user", "content": "hi there friend"},
                          {"role": "assistant", "content": "x"}]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    counted = count_file(data, model="gpt-4o-mini", models_file=models)
    tokens = list(counted.counts.tokens)
    assert tokens == [13, 12, 15]
    assert counted.billed_tokens == 12 + 12 + 12
    assert (counted.over_limit, counted.tokens_cut, counted.over_limit_lines) == (2, 4, [1, 3])
