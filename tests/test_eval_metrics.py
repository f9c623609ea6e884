"""ftprep.eval.metrics: every metric on hand-made cases, the shared no-text rule, options checked
up front, defaults chosen from the references, custom scorers, and properties over random text."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftprep.errors import UsageError
from ftprep.eval.answers import Answer, ToolCall
from ftprep.eval.metrics import (
    METRIC_NAMES,
    Metric,
    MetricContext,
    ScoreError,
    check_score,
    default_metrics,
    list_metrics,
    normalize_text,
    resolve_metrics,
    text_tokens,
)

CTX = MetricContext(prompt=({"role": "user", "content": "q"},))
REFERENCE_METRICS = ("exact", "normalized", "contains", "token_f1", "chrf", "bleu", "rouge_l")
ALL = {m.name: m for m in resolve_metrics([*REFERENCE_METRICS, "json", "tool_calls"])}


def score(name: str, output: str | None, reference: str | None) -> float:
    return ALL[name].score(Answer(output), Answer(reference), CTX)


def call(name: str, arguments: str) -> ToolCall:
    return ToolCall(name, arguments)


# -- text metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "reference", "expected"), [
    ("Paris\n", "  Paris", 1.0),
    ("paris", "Paris", 0.0),
    ("Paris.", "Paris", 0.0),
    ("東京", "東京", 1.0),
])
def test_exact_trims_outer_whitespace_only(output: str, reference: str, expected: float) -> None:
    assert score("exact", output, reference) == expected


@pytest.mark.parametrize(("output", "reference", "expected"), [
    ("PARIS!", "paris", 1.0),
    ("\uff30\uff41\uff52\uff49\uff53", "Paris", 1.0),  # full-width letters: NFKC
    ("Straße", "STRASSE", 1.0),  # case folding, not lower()
    ("¿Qué  tal?", "qué tal", 1.0),
    ("U.S.A.", "usa", 1.0),
    ("Paris, France", "Paris", 0.0),
    ("ﬁne", "fine", 1.0),  # ligature
])
def test_normalized(output: str, reference: str, expected: float) -> None:
    assert score("normalized", output, reference) == expected


def test_normalize_text_keeps_symbols_and_removes_punctuation() -> None:
    assert normalize_text("  Héllo,\t WORLD!  $5 ") == "héllo world $5"
    assert normalize_text("「東京」です。") == "東京です"


@pytest.mark.parametrize(("output", "reference", "expected"), [
    ("The capital is PARIS.", "paris", 1.0),
    ("The capital is Par", "Paris", 0.0),
    ("答えは東京です。", "東京", 1.0),
    ("...", "!!!", 1.0),  # both normalise to nothing
    ("anything", "...", 0.0),  # a reference that normalises to nothing is not in every output
])
def test_contains_compares_normalized_texts(output: str, reference: str, expected: float) -> None:
    assert score("contains", output, reference) == expected


def test_token_f1_hand_computed() -> None:
    # 3 shared words; precision 3/3, recall 3/4 → F1 = 6/7.
    assert score("token_f1", "The cat sat.", "the cat sat down") == pytest.approx(6 / 7)
    # Counts are clipped: "a a a" vs "a b" shares one "a": precision 1/3, recall 1/2 → 0.4.
    assert score("token_f1", "a a a", "a b") == pytest.approx(0.4)
    assert score("token_f1", "dog", "cat") == 0.0


def test_token_f1_splits_cjk_per_character_and_keeps_combining_marks() -> None:
    assert text_tokens("東京は首都") == ["東", "京", "は", "首", "都"]
    assert text_tokens("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # vowel signs and virama stay in the word
    assert score("token_f1", "東京は首都", "東京") == pytest.approx(2 * 0.4 / 1.4)
    assert score("token_f1", "हिन्दी भाषा", "हिन्दी") == pytest.approx(2 / 3)


def test_chrf_and_bleu_are_sacrebleus_sentence_scores_scaled() -> None:
    from sacrebleu.metrics import BLEU, CHRF

    out, ref = "the quick brown fox jumps", "the quick brown fox jumped over"
    assert score("chrf", out, ref) == pytest.approx(CHRF().sentence_score(out, [ref]).score / 100)
    assert score("bleu", out, ref) == pytest.approx(
        BLEU(effective_order=True).sentence_score(out, [ref]).score / 100)
    assert 0 < score("bleu", out, ref) < 1
    assert score("chrf", ref, ref) == pytest.approx(1.0)
    assert score("bleu", ref, ref) == pytest.approx(1.0)


def test_rouge_l_matches_rouge_score_on_ascii_and_scores_other_scripts() -> None:
    from rouge_score import rouge_scorer

    out, ref = "Police killed the gunman.", "the gunman was shot down by police"
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(ref, out)["rougeL"].fmeasure
    assert score("rouge_l", out, ref) == pytest.approx(expected)
    # rouge-score's own tokenizer drops Cyrillic entirely (score 0); ours keeps it.
    assert score("rouge_l", "Привет мир", "привет, мир!") == pytest.approx(1.0)


def test_output_without_text_scores_0_and_never_raises() -> None:
    tool_only = Answer(None, (call("f", "{}"),))
    for name in (*REFERENCE_METRICS, "json"):
        assert ALL[name].score(tool_only, Answer('{"a": 1}'), CTX) == 0.0, name
        assert ALL[name].score(Answer("   \n"), Answer('{"a": 1}'), CTX) == 0.0, name


def test_no_text_on_either_side_agrees() -> None:
    for name in (*REFERENCE_METRICS, "json"):
        assert ALL[name].score(Answer(None), Answer(None), CTX) == 1.0, name
        assert ALL[name].score(Answer("text"), Answer(None), CTX) == 0.0, name


# -- regex --------------------------------------------------------------------------------------


def test_regex_searches_the_output() -> None:
    (metric,) = resolve_metrics(["regex"], pattern=r"^\d+$")
    assert metric.score(Answer("42"), Answer("ignored"), CTX) == 1.0
    assert metric.score(Answer("42 apples"), Answer("ignored"), CTX) == 0.0
    assert metric.score(Answer(None), Answer(None), CTX) == 0.0
    (anywhere,) = resolve_metrics(["regex"], pattern=r"(?i)paris")
    assert anywhere.score(Answer("It is PARIS."), Answer(""), CTX) == 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "needs pattern="),
    ({"pattern": ""}, "pattern= is empty"),
    ({"pattern": "(unclosed"}, "pattern='(unclosed' is not a valid regular expression"),
])
def test_regex_options_are_checked_up_front(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        resolve_metrics(["regex"], **kwargs)


# -- json and json_schema -----------------------------------------------------------------------


@pytest.mark.parametrize(("output", "expected"), [
    ('{"b": [1, 2.0], "a": {"x": null}}', 1.0),  # key order ignored, 2 == 2.0
    ('  {"a":{"x":null},"b":[1,2]}\n', 1.0),
    ('{"a": {"x": null}, "b": [2, 1]}', 0.0),  # array order matters
    ('{"a": {"x": false}, "b": [1, 2]}', 0.0),  # null is not false
    ('{"a": {"x": null}, "b": [true, 2]}', 0.0),  # true is not 1
    ('{"a": {"x": null}, "b": ["1", 2]}', 0.0),
    ('```json\n{"a": {"x": null}, "b": [1, 2]}\n```', 0.0),  # strict: a fenced block is not JSON
    ("not json", 0.0),
])
def test_json_equality(output: str, expected: float) -> None:
    assert score("json", output, '{"a": {"x": null}, "b": [1, 2]}') == expected


def test_json_rejects_nan_and_blames_a_reference_that_is_not_json() -> None:
    assert score("json", "NaN", "1") == 0.0
    with pytest.raises(ScoreError, match="reference is not valid JSON"):
        score("json", "{}", "{oops")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_json_schema_validates_the_output(tmp_path: Path) -> None:
    schema = write(tmp_path / "s.json", json.dumps({
        "type": "object", "required": ["when"],
        "properties": {"when": {"type": "string", "format": "date"}, "n": {"type": "integer"}},
    }))
    (metric,) = resolve_metrics(["json_schema"], schema=schema)
    assert metric.score(Answer('{"when": "2026-11-30", "n": 3}'), Answer(None), CTX) == 1.0
    assert metric.score(Answer('{"n": 3}'), Answer(None), CTX) == 0.0
    assert metric.score(Answer('{"when": "2026-13-45"}'), Answer(None), CTX) == 0.0  # formats checked
    assert metric.score(Answer("{bad"), Answer(None), CTX) == 0.0
    assert metric.score(Answer(None, (call("f", "{}"),)), Answer(None), CTX) == 0.0


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read it"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "a JSON Schema is an object"),
    ('{"type": 5}', "not a valid JSON Schema at type"),
    ('{"properties": {"a": {"minLength": -1}}}', "not a valid JSON Schema at properties/a/minLength"),
])
def test_bad_schema_files_name_schema(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        write(path, content)
    with pytest.raises(UsageError, match=rf"^schema={path}: {message}"):
        resolve_metrics(["json_schema"], schema=path)


@pytest.mark.parametrize("ref", ["#/$defs/missing", "https://example.invalid/other.json"])
def test_schema_refs_must_resolve_within_the_file(tmp_path: Path, ref: str) -> None:
    path = write(tmp_path / "s.json", json.dumps({
        "$defs": {"n": {"type": "integer"}},
        "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"$ref": ref}}}))
    with pytest.raises(UsageError, match=rf"^schema={path}: \$ref '{re.escape(ref)}' cannot be resolved"):
        resolve_metrics(["json_schema"], schema=path)


def test_schema_ref_failing_while_scoring_is_a_score_error(tmp_path: Path) -> None:
    # A nested $id moves the base, so the load-time check leaves this ref to the validator.
    path = write(tmp_path / "s.json", json.dumps({
        "properties": {"a": {"$id": "https://example.invalid/a.json", "$ref": "other.json"}}}))
    (metric,) = resolve_metrics(["json_schema"], schema=path)
    assert metric.score(Answer('{"b": 1}'), Answer(None), CTX) == 1.0
    with pytest.raises(ScoreError, match="a \\$ref cannot be resolved"):
        metric.score(Answer('{"a": 1}'), Answer(None), CTX)


def test_json_schema_needs_schema() -> None:
    with pytest.raises(UsageError, match="needs schema="):
        resolve_metrics(["json_schema"])


# -- tool calls ---------------------------------------------------------------------------------


def tool_score(output: list[ToolCall], reference: list[ToolCall]) -> float:
    return ALL["tool_calls"].score(Answer(None, tuple(output)), Answer(None, tuple(reference)), CTX)


def test_tool_calls_match_in_any_order_with_json_equal_arguments() -> None:
    reference = [call("weather", '{"city": "Oslo", "unit": "c"}'), call("time", '{"tz": "UTC"}')]
    assert tool_score([call("time", '{ "tz":"UTC" }'), call("weather", '{"unit":"c","city":"Oslo"}')],
                      reference) == 1.0
    assert tool_score([call("weather", '{"city": "Oslo", "unit": "c"}')], reference) == 0.0  # one missing
    assert tool_score([call("weather", '{"city": "Bergen", "unit": "c"}'), call("time", '{"tz": "UTC"}')],
                      reference) == 0.0
    assert tool_score([call("Weather", '{"city": "Oslo", "unit": "c"}'), call("time", '{"tz": "UTC"}')],
                      reference) == 0.0  # names are exact


def test_tool_calls_count_duplicates_and_treat_blank_arguments_as_empty() -> None:
    once = [call("ping", "{}")]
    assert tool_score(once * 2, once) == 0.0
    assert tool_score([call("ping", "")], once) == 1.0
    assert tool_score([call("f", '{"n": 1.0}')], [call("f", '{"n": 1}')]) == 1.0
    assert tool_score([call("f", "not json")], [call("f", "not json")]) == 1.0  # compared as text
    assert tool_score([call("f", "{}")], [call("f", "not json")]) == 0.0


def test_tool_calls_against_text() -> None:
    metric = ALL["tool_calls"]
    assert metric.score(Answer("It is sunny."), Answer("Sunny."), CTX) == 1.0  # none expected, none made
    assert metric.score(Answer("It is sunny."), Answer(None, (call("weather", "{}"),)), CTX) == 0.0
    assert metric.score(Answer(None, (call("weather", "{}"),)), Answer("Sunny."), CTX) == 0.0


# -- resolving, catalogue, defaults -------------------------------------------------------------


def test_catalogue_describes_every_metric() -> None:
    infos = list_metrics()
    assert tuple(i.name for i in infos) == METRIC_NAMES == (
        "exact", "normalized", "contains", "regex", "token_f1", "chrf", "bleu", "rouge_l", "json",
        "json_schema", "tool_calls")
    binary = {i.name for i in infos if i.binary}
    assert binary == {"exact", "normalized", "contains", "regex", "json", "json_schema", "tool_calls"}
    assert {i.name: i.option for i in infos if i.option} == {"regex": "pattern", "json_schema": "schema"}
    assert all(i.description and i.to_dict()["name"] == i.name for i in infos)


def test_resolve_keeps_order_drops_duplicates_and_accepts_spellings() -> None:
    metrics = resolve_metrics(["ROUGE-L", "exact", "rouge_l", "Token-F1"])
    assert [m.name for m in metrics] == ["rouge_l", "exact", "token_f1"]
    assert all(isinstance(m, Metric) for m in metrics)
    assert metrics[1].to_dict() == {"name": "exact", "description": metrics[1].description, "binary": True}


@pytest.mark.parametrize(("names", "kwargs", "message"), [
    (["rouge"], {}, r"metrics='rouge' is not a metric \(did you mean rouge_l\?\)"),
    (["exactt"], {}, r"did you mean exact\?"),
    (["zzz"], {}, r"known: exact, normalized"),
    (["judge"], {}, r"metrics=judge is scored by the eval engine"),
    ([], {}, r"metrics= names no metric"),
    (["exact"], {"pattern": "x"}, r"pattern= is set but metrics= does not include regex"),
    (["exact"], {"schema": Path("s.json")}, r"schema= is set but metrics= does not include json_schema"),
])
def test_resolve_errors_name_the_parameter(names: list[str], kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_metrics(names, **kwargs)


@pytest.mark.parametrize(("references", "expected"), [
    ([Answer("Paris"), Answer("4")], ["exact", "normalized", "token_f1", "chrf"]),
    ([Answer('{"a": 1}'), Answer(" [1, 2] ")], ["json"]),
    ([Answer('{"a": 1}'), Answer("42")], ["exact", "normalized", "token_f1", "chrf"]),  # 42: not a document
    ([Answer(None, (call("f", "{}"),))], ["tool_calls"]),
    ([Answer(None, (call("f", "{}"),)), Answer("Sunny.")],
     ["tool_calls", "exact", "normalized", "token_f1", "chrf"]),
    ([Answer(None, (call("f", "{}"),)), Answer('{"a": 1}')], ["tool_calls", "json"]),
    ([], ["exact", "normalized", "token_f1", "chrf"]),
])
def test_default_metrics(references: list[Answer], expected: list[str]) -> None:
    assert default_metrics(iter(references)) == expected
    resolve_metrics(expected)  # the defaults always resolve without options


def test_missing_optional_libraries_say_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("sacrebleu", "sacrebleu.metrics", "rouge_score", "rouge_score.rouge_scorer"):
        monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    for name in ("chrf", "bleu", "rouge_l"):
        with pytest.raises(UsageError, match=rf"metrics={name} needs .*pip install 'ftprep\[eval\]'"):
            resolve_metrics([name])
    assert [m.name for m in resolve_metrics(["exact", "token_f1"])] == ["exact", "token_f1"]


def test_cli_start_up_imports_no_metric_or_statistics_library() -> None:
    code = ("import sys, ftprep.cli, ftprep.eval.answers, ftprep.eval.metrics, ftprep.eval.stats;"
            "heavy = ('sacrebleu', 'rouge_score', 'nltk', 'scipy', 'jsonschema');"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- custom scorers -----------------------------------------------------------------------------

SCORER = '''
def length_ratio(prompt, reference, output):
    assert prompt[0]["content"] == "q"
    return min(len(output.text), len(reference.text)) / max(len(output.text), len(reference.text))

def bad_value(prompt, reference, output):
    return 1.5

def boom(prompt, reference, output):
    raise KeyError("label")

def two_args(prompt, output):
    return 1.0

not_callable = 3
'''


@pytest.fixture
def scorer_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = f"scorers_{tmp_path.name.replace('-', '_')}"
    write(tmp_path / f"{module}.py", SCORER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, module, raising=False)
    return tmp_path / f"{module}.py"


def test_custom_scorer_by_module_from_the_current_directory(scorer_dir: Path) -> None:
    spec = f"{scorer_dir.stem}:length_ratio"
    path_before = list(sys.path)
    metrics = resolve_metrics(["exact"], scorer=spec)
    assert sys.path == path_before
    assert [m.name for m in metrics] == ["exact", spec] and not metrics[1].binary
    assert metrics[1].score(Answer("abcd"), Answer("ab"), CTX) == 0.5


def test_custom_scorer_by_file_path_alone(scorer_dir: Path) -> None:
    (metric,) = resolve_metrics([], scorer=f"{scorer_dir}:length_ratio")
    assert metric.score(Answer("ab"), Answer("ab"), CTX) == 1.0


def test_custom_scorer_failures_are_score_errors(scorer_dir: Path) -> None:
    (bad,) = resolve_metrics([], scorer=f"{scorer_dir.stem}:bad_value")
    with pytest.raises(ScoreError, match=r":bad_value returned 1.5, outside \[0, 1\]"):
        bad.score(Answer("a"), Answer("a"), CTX)
    (boom,) = resolve_metrics([], scorer=f"{scorer_dir.stem}:boom")
    with pytest.raises(ScoreError, match=r":boom raised KeyError: 'label'"):
        boom.score(Answer("a"), Answer("a"), CTX)


@pytest.mark.parametrize(("suffix", "message"), [
    (":two_args", "must take \\(prompt, reference, output\\)"),
    (":not_callable", "has no function not_callable"),
    (":missing", "has no function missing"),
])
def test_custom_scorer_usage_errors(scorer_dir: Path, suffix: str, message: str) -> None:
    with pytest.raises(UsageError, match=rf"^scorer='{scorer_dir.stem}{suffix}': .*{message}"):
        resolve_metrics([], scorer=scorer_dir.stem + suffix)


@pytest.mark.parametrize(("spec", "message"), [
    ("no_colon", "expected module:function"),
    ("no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
    ("missing_file.py:f", "no such file missing_file.py"),
])
def test_custom_scorer_spec_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str,
                                   message: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=rf"^scorer='{spec}': {message}"):
        resolve_metrics([], scorer=spec)


@pytest.mark.parametrize("value", [0, 0.25, 1, True])
def test_check_score_accepts_numbers_in_range(value: float) -> None:
    assert check_score(value, metric="m") == float(value)


def test_check_score_accepts_numpy_numbers() -> None:
    import numpy as np

    assert check_score(np.float32(0.5), metric="m") == 0.5


@pytest.mark.parametrize(("value", "message"), [
    (1.01, "outside"), (-0.1, "outside"), (float("nan"), "outside"),
    ("0.5", "str '0.5', not a number"),
    (None, "NoneType None, not a number"),
])
def test_check_score_rejects(value: object, message: str) -> None:
    with pytest.raises(ScoreError, match=f"^m returned.*{message}"):
        check_score(value, metric="m")


# -- properties ---------------------------------------------------------------------------------

texts = st.one_of(st.none(), st.text(max_size=40),
                  st.sampled_from(["Paris", "paris!", " PARIS ", "東京", ""]))


@settings(max_examples=150, deadline=None)
@given(output=texts, reference=texts)
def test_scores_are_in_unit_interval_and_exact_implies_normalized_implies_contains(
        output: str | None, reference: str | None) -> None:
    scores = {name: score(name, output, reference) for name in REFERENCE_METRICS}
    assert all(0.0 <= s <= 1.0 for s in scores.values()), scores
    assert scores["exact"] <= scores["normalized"] <= scores["contains"], scores


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_an_answer_equal_to_the_reference_scores_1(text: str) -> None:
    for name in ("exact", "normalized", "contains", "token_f1", "rouge_l"):
        assert score(name, text, text) == 1.0, name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def reordered(value: object) -> object:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 0, 2]))
def test_json_ignores_key_order_and_layout(value: object, indent: int | None) -> None:
    reference = json.dumps(value)
    assert score("json", json.dumps(reordered(value), indent=indent, ensure_ascii=False), reference) == 1.0


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                                st.dictionaries(st.text(max_size=4), json_values, max_size=3)),
                      min_size=1, max_size=4),
       data=st.data())
def test_tool_calls_ignore_call_order_and_argument_layout(calls: list[tuple[str, dict]],
                                                          data: st.DataObject) -> None:
    reference = [call(name, json.dumps(args)) for name, args in calls]
    shuffled = data.draw(st.permutations(calls))
    output = [call(name, json.dumps(reordered(args), indent=1)) for name, args in shuffled]
    assert tool_score(output, reference) == 1.0
    assert tool_score(output[1:], reference) == 0.0
