"""Metrics: how close a model's answer is to the reference, as a score in [0, 1].

Each metric is registered by name with a description and whether it is binary (0/1, which decides
the paired test in `stats`). `resolve_metrics` turns names and options into ready scorers, checking
every option before any request is sent; `list_metrics` is the catalogue `ftprep eval
--list-metrics` prints.

Shared rules:
- "No text" means null content or only whitespace (a reply with only tool calls has no text).
  Metrics that compare with the reference score 1 when neither side has text (they agree there
  is nothing to say, as SQuAD scores two empty answers) and 0 when only one side has text;
  `regex` and `json_schema` score 0 for an output with no text. Nothing raises on such outputs.
- `normalize_text`: NFKC, case-folded, punctuation (Unicode category P) removed, whitespace
  collapsed. `text_tokens`: the case-folded runs of letters, marks and digits, with each CJK
  ideograph or kana its own token (those scripts do not separate words with spaces).
- A problem with the *data* rather than the output (a reference that is not JSON for the `json`
  metric, a custom scorer that fails) raises `ScoreError`; the caller names the example.

sacrebleu and rouge-score are imported when a metric that needs them is resolved, never at
CLI start-up.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import json
import math
import numbers
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ftprep.errors import UsageError
from ftprep.eval.answers import Answer, ToolCall

EVAL_EXTRA_HINT = "pip install 'ftprep[eval]'"


@dataclass(frozen=True)
class MetricContext:
    """What a scorer may need beyond the two answers: the messages that were sent."""

    prompt: Sequence[Mapping[str, Any]] = ()


Scorer = Callable[[Answer, Answer, MetricContext], float]  # (output, reference, ctx) -> [0, 1]


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    binary: bool  # every score is 0 or 1 (the paired test is then the exact sign test)
    score: Scorer = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "binary": self.binary}


@dataclass(frozen=True)
class MetricInfo:
    """A catalogue entry: what the metric measures and which option it needs, if any."""

    name: str
    description: str
    binary: bool
    option: str | None = None  # "pattern" or "schema": the parameter the metric cannot do without

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "binary": self.binary,
                "option": self.option}


class ScoreError(ValueError):
    """One example cannot be scored because of its data or a custom scorer, not the model's output.
    The message says what is wrong; the caller adds which example."""


# -- text helpers -------------------------------------------------------------------------------

_ASCII_PUNCTUATION = {i: None for i in range(128) if unicodedata.category(chr(i)).startswith("P")}
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    # casefold can leave a string that is no longer NFKC (e.g. 'ǰ'), so normalise on both sides.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def normalize_text(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed: `' Héllo,  WORLD! '` →
    `'héllo world'`."""
    folded = _fold(text)
    if folded.isascii():
        kept = folded.translate(_ASCII_PUNCTUATION)
    else:
        kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith("P"))
    return " ".join(kept.split())


def text_tokens(text: str) -> list[str]:
    """Case-folded words for token_f1 and rouge_l; for ASCII text the same tokens as
    rouge-score's default tokenizer (lower-cased runs of [a-z0-9]), for other scripts the runs
    of letters, marks and digits, with each CJK ideograph or kana a token of its own."""
    folded = _fold(text)
    if folded.isascii():
        return _ASCII_WORD.findall(folded)
    tokens: list[str] = []
    word: list[str] = []
    for ch in folded:
        kind = _char_kind(ch)
        if kind == "word":
            word.append(ch)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if kind == "cjk":
            tokens.append(ch)
    if word:
        tokens.append("".join(word))
    return tokens


_CJK_RANGES = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
               (0xF900, 0xFAFF), (0x20000, 0x3134F))


@lru_cache(maxsize=8192)
def _char_kind(ch: str) -> str:
    code = ord(ch)
    if any(low <= code <= high for low, high in _CJK_RANGES):
        return "cjk"
    return "word" if unicodedata.category(ch)[0] in "LMN" else "separator"


def _present(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


# -- JSON helpers -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> Any:
    """Strict JSON (no NaN/Infinity); raises ValueError."""
    return json.loads(text, parse_constant=_reject_constant)


def json_key(value: Any) -> Any:
    """A hashable form under which JSON values are equal exactly when they mean the same:
    key order ignored, 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(value, dict):
        return ("object", frozenset((k, json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(json_key(v) for v in value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, float) and value.is_integer():
        return ("number", int(value))
    return ("number", value)


# -- the metrics --------------------------------------------------------------------------------


def _against_reference(compare: Callable[[str, str], float]) -> Scorer:
    """A scorer comparing the output's text with the reference's, with the shared no-text rule."""

    def score(output: Answer, reference: Answer, ctx: MetricContext) -> float:
        out, ref = _present(output.text), _present(reference.text)
        if out is None or ref is None:
            return 1.0 if out is None and ref is None else 0.0
        return compare(out, ref)

    return score


def _on_output(check: Callable[[str], float]) -> Scorer:
    """A scorer that looks at the output alone (the reference is not used); no text scores 0."""

    def score(output: Answer, reference: Answer, ctx: MetricContext) -> float:
        out = _present(output.text)
        return 0.0 if out is None else check(out)

    return score


def _exact(out: str, ref: str) -> float:
    return float(out.strip() == ref.strip())


def _normalized(out: str, ref: str) -> float:
    return float(normalize_text(out) == normalize_text(ref))


def _contains(out: str, ref: str) -> float:
    needle, haystack = normalize_text(ref), normalize_text(out)
    # A reference that normalises to nothing ("...") is contained only in an output that does too.
    return float(needle in haystack) if needle else float(not haystack)


def _token_f1(out: str, ref: str) -> float:
    predicted, gold = text_tokens(out), text_tokens(ref)
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _json_equal(out: str, ref: str) -> float:
    try:
        expected = parse_json(ref)
    except ValueError as e:
        raise ScoreError(f"the reference is not valid JSON, so json cannot score it ({e})") from None
    try:
        got = parse_json(out)
    except ValueError:
        return 0.0
    return float(json_key(got) == json_key(expected))


def _tool_calls(output: Answer, reference: Answer, ctx: MetricContext) -> float:
    return float(_call_keys(output.tool_calls) == _call_keys(reference.tool_calls))


def _call_keys(calls: Sequence[ToolCall]) -> Counter[tuple[str, Any]]:
    """A multiset of (name, arguments as JSON) so parallel calls compare in any order; arguments
    that are blank count as `{}`, arguments that are not JSON compare as their exact text."""
    keys: Counter[tuple[str, Any]] = Counter()
    for call in calls:
        raw = call.arguments.strip() or "{}"
        try:
            arguments = json_key(parse_json(raw))
        except ValueError:
            arguments = ("unparsed", call.arguments)
        keys[(call.name, arguments)] += 1
    return keys


def _sacrebleu_scorer(kind: str) -> Scorer:
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise UsageError(f"metrics={kind} needs sacrebleu: {EVAL_EXTRA_HINT}") from None
    # Sentence BLEU needs effective order, or any short answer missing a 4-gram scores 0.
    metric = CHRF() if kind == "chrf" else BLEU(effective_order=True)
    return _against_reference(lambda out, ref: _unit(metric.sentence_score(out, [ref]).score / 100))


def _rouge_l() -> Scorer:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise UsageError(f"metrics=rouge_l needs rouge-score: {EVAL_EXTRA_HINT}") from None
    # rouge-score's own tokenizer drops every non-ASCII letter (Cyrillic, CJK... score 0);
    # text_tokens gives the same tokens for ASCII and keeps the other scripts.
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_TextTokenizer())

    def compare(out: str, ref: str) -> float:
        if not text_tokens(out) and not text_tokens(ref):
            return 1.0  # no words on either side (":" and "?"): agree, as token_f1 does
        return _unit(scorer.score(ref, out)["rougeL"].fmeasure)

    return _against_reference(compare)


class _TextTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return text_tokens(text)


def _regex(pattern: str | None) -> Scorer:
    if pattern is None:
        raise UsageError("metrics=regex needs pattern= (the regular expression outputs must match)")
    if not pattern:
        raise UsageError("pattern= is empty; it would match every output")
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise UsageError(f"pattern={pattern!r} is not a valid regular expression: {e}") from None
    return _on_output(lambda out: float(compiled.search(out) is not None))


def _json_schema(schema: Path | None) -> Scorer:
    if schema is None:
        raise UsageError("metrics=json_schema needs schema= (a JSON Schema file)")
    from referencing.exceptions import Unresolvable

    validator = _load_schema(Path(schema))

    def check(out: str) -> float:
        try:
            value = parse_json(out)
        except ValueError:
            return 0.0
        try:
            return float(validator.is_valid(value))
        except Unresolvable as e:  # a $ref the load-time check could not follow (nested $id)
            raise ScoreError(f"schema={schema}: a $ref cannot be resolved ({e})") from None

    return _on_output(check)


def _load_schema(path: Path) -> Any:
    from jsonschema import exceptions, validators

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"schema={path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise UsageError(f"schema={path}: not UTF-8 text") from None
    except ValueError as e:
        raise UsageError(f"schema={path}: not valid JSON ({e})") from None
    if not isinstance(schema, (dict, bool)):
        kind = type(schema).__name__
        raise UsageError(f"schema={path}: a JSON Schema is an object (or true/false), not {kind}")
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise UsageError(f"schema={path}: not a valid JSON Schema at {where}: {e.message}") from None
    _check_refs(path, schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _check_refs(path: Path, schema: Any) -> None:
    """Every `$ref` must point inside the file: ftprep never downloads a schema, and a broken
    reference found while scoring would fail every example instead of the command."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    refs: list[str] = []
    if _collect_refs(schema, refs, root=True):
        return  # a nested $id changes the base of the refs below it: leave those to the validator
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().resolver_with_root(resource)
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise UsageError(f"schema={path}: $ref {ref!r} cannot be resolved (only references within "
                             "the file are followed; copy the target under $defs)") from None


def _collect_refs(node: Any, refs: list[str], *, root: bool = False) -> bool:
    """Appends the `$ref` strings under `node`; True when a nested `$id` (or draft-4 `id`) is seen."""
    nested_id = False
    if isinstance(node, dict):
        if not root and isinstance(node.get("$id", node.get("id")), str):
            nested_id = True
        if isinstance(node.get("$ref"), str):
            refs.append(node["$ref"])
        for value in node.values():
            nested_id |= _collect_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            nested_id |= _collect_refs(value, refs)
    return nested_id


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))  # library rounding can leave 1.0000000000000002


@dataclass(frozen=True)
class _Options:
    pattern: str | None
    schema: Path | None


@dataclass(frozen=True)
class _Entry:
    info: MetricInfo
    build: Callable[[_Options], Scorer]


def _entry(name: str, binary: bool, description: str, build: Callable[[_Options], Scorer],
           option: str | None = None) -> tuple[str, _Entry]:
    return name, _Entry(MetricInfo(name, description, binary, option), build)


_REGISTRY: dict[str, _Entry] = dict([
    _entry("exact", True, "output equals the reference after trimming outer whitespace",
           lambda o: _against_reference(_exact)),
    _entry("normalized", True, "equal after NFKC, case folding, removing punctuation and collapsing "
           "whitespace", lambda o: _against_reference(_normalized)),
    _entry("contains", True, "the normalized reference appears in the normalized output",
           lambda o: _against_reference(_contains)),
    _entry("regex", True, "the output matches the regular expression (re.search; anchor with ^…$ "
           "for the whole output)", lambda o: _regex(o.pattern), option="pattern"),
    _entry("token_f1", False, "F1 of the words shared by output and reference (SQuAD-style, "
           "case-folded, punctuation ignored)", lambda o: _against_reference(_token_f1)),
    _entry("chrf", False, "chrF character n-gram F-score (sacrebleu), scaled to 0..1",
           lambda o: _sacrebleu_scorer("chrf")),
    _entry("bleu", False, "sentence BLEU (sacrebleu, 13a tokens, effective order), scaled to 0..1",
           lambda o: _sacrebleu_scorer("bleu")),
    _entry("rouge_l", False, "ROUGE-L F-measure over words (rouge-score; longest common subsequence)",
           lambda o: _rouge_l()),
    _entry("json", True, "the output parses as JSON and equals the reference JSON (key order ignored, "
           "1 == 1.0)", lambda o: _against_reference(_json_equal)),
    _entry("json_schema", True, "the output parses as JSON and is valid against the schema",
           lambda o: _json_schema(o.schema), option="schema"),
    _entry("tool_calls", True, "the same function calls with JSON-equal arguments, in any order "
           "(no calls expected and none made also matches)", lambda o: _tool_calls),
])

METRIC_NAMES: tuple[str, ...] = tuple(_REGISTRY)
JUDGE = "judge"  # built by the eval engine (it needs a model), listed here only for hints
_TEXT_DEFAULTS = ("exact", "normalized", "token_f1", "chrf")


def list_metrics() -> list[MetricInfo]:
    """Every built-in metric, in the order `METRIC_NAMES` gives (the judge is the engine's)."""
    return [entry.info for entry in _REGISTRY.values()]


def canonical_metric_name(name: str) -> str:
    """`ROUGE-L` → `rouge_l`: case and `-`/`_` do not matter in metric names."""
    return name.strip().lower().replace("-", "_")


def resolve_metrics(
    names: Sequence[str],
    *,
    pattern: str | None = None,
    schema: Path | None = None,
    scorer: str | None = None,
) -> list[Metric]:
    """The metrics to score with, in the order given (duplicates dropped), plus the custom
    `scorer` ("module:function" or "path/to/file.py:function") when given.

    Every name and option is checked here, before any request: an unknown name (with a
    did-you-mean hint), `regex` without `pattern`, `json_schema` without a readable, valid
    `schema`, an option whose metric was not asked for, a scorer that cannot be imported, or a
    missing optional library each raise UsageError naming the parameter. `judge` is not resolved
    here: the engine builds it from its judge model.
    """
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(canonical_metric_name(n) for n in names))
    for name in wanted:
        _check_name(name)
    if not wanted and scorer is None:
        raise UsageError("metrics= names no metric")
    if pattern is not None and "regex" not in wanted:
        raise UsageError("pattern= is set but metrics= does not include regex")
    if schema is not None and "json_schema" not in wanted:
        raise UsageError("schema= is set but metrics= does not include json_schema")
    options = _Options(pattern=pattern, schema=None if schema is None else Path(schema))
    metrics = [_build(_REGISTRY[name], options) for name in wanted]
    if scorer is not None:
        metrics.append(custom_metric(scorer))
    return metrics


def _check_name(name: str) -> None:
    if name in _REGISTRY:
        return
    if name == JUDGE:
        raise UsageError("metrics=judge is scored by the eval engine with a judge model, not by "
                         "resolve_metrics; pass it to evaluate() with judge=MODEL")
    close = difflib.get_close_matches(name, [*METRIC_NAMES, JUDGE], n=3, cutoff=0.7)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(METRIC_NAMES)}, judge"
    raise UsageError(f"metrics={name!r} is not a metric", hint=hint)


def _build(entry: _Entry, options: _Options) -> Metric:
    info = entry.info
    return Metric(info.name, info.description, info.binary, entry.build(options))


def default_metrics(references: Iterable[Answer]) -> list[str]:
    """The metrics that fit these references: `tool_calls` when some references are tool calls;
    for the references answered in text, `json` when every one is a JSON object or array, else
    exact, normalized, token_f1 and chrf."""
    has_calls, texts = False, []
    for reference in references:
        if reference.tool_calls:
            has_calls = True
        else:
            texts.append(reference.text)
    chosen = ["tool_calls"] if has_calls else []
    if texts or not has_calls:
        chosen += ["json"] if texts and all(_is_json_document(t) for t in texts) else _TEXT_DEFAULTS
    return chosen


def _is_json_document(text: str | None) -> bool:
    if _present(text) is None:
        return False
    try:
        return isinstance(parse_json(text or ""), (dict, list))
    except ValueError:
        return False


# -- custom scorers -----------------------------------------------------------------------------


def check_score(value: Any, *, metric: str) -> float:
    """A scorer's return value as a float, or ScoreError saying why it is not a score in [0, 1]."""
    if not isinstance(value, numbers.Real):
        raise ScoreError(f"{metric} returned {type(value).__name__} {_short(value)}, not a number in [0, 1]")
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ScoreError(f"{metric} returned {number!r}, outside [0, 1]")
    return number


def custom_metric(spec: str) -> Metric:
    """A metric named `spec` that calls `function(prompt, reference, output)`: prompt is the list
    of messages sent, reference and output are `Answer`s (`.text`, `.tool_calls`). A value that is
    not a number in [0, 1], or an exception, becomes a ScoreError naming the scorer."""
    function = load_scorer(spec)

    def score(output: Answer, reference: Answer, ctx: MetricContext) -> float:
        try:
            value = function(list(ctx.prompt), reference, output)
        except Exception as e:
            raise ScoreError(f"{spec} raised {type(e).__name__}: {_short(e)}") from e
        return check_score(value, metric=spec)

    return Metric(spec, f"custom scorer {spec}(prompt, reference, output)", False, score)


def load_scorer(spec: str) -> Callable[..., Any]:
    """Import `module:function` (from the current directory too) or `path/file.py:function`."""
    module_name, sep, function_name = spec.rpartition(":")
    if not sep or not module_name or not function_name.isidentifier():
        raise UsageError(f"scorer={spec!r}: expected module:function or path/to/file.py:function")
    if module_name.endswith(".py"):
        module = _import_file(spec, Path(module_name))
    else:
        module = _import(spec, module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UsageError(f"scorer={spec!r}: {module_name} has no function {function_name}")
    try:
        inspect.signature(function).bind(None, None, None)
    except TypeError:
        raise UsageError(f"scorer={spec!r}: {function_name} must take (prompt, reference, output)") from None
    except ValueError:
        pass  # no signature to inspect (some builtins): find out when it is called
    return function


def _import(spec: str, module_name: str) -> Any:
    try:
        with _cwd_on_path():
            return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise UsageError(f"scorer={spec!r}: no module named {module_name!r} (looked in the "
                             "current directory and the installed packages)") from None
        raise UsageError(f"scorer={spec!r}: importing {module_name} failed: {_short(e)}") from None
    except Exception as e:
        raise UsageError(f"scorer={spec!r}: importing {module_name} failed: "
                         f"{type(e).__name__}: {_short(e)}") from None


def _import_file(spec: str, path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"scorer={spec!r}: no such file {path}")
    loader_spec = importlib.util.spec_from_file_location(f"ftprep_scorer_{path.stem}", path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"scorer={spec!r}: cannot import {path}")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as e:
        raise UsageError(f"scorer={spec!r}: importing {path} failed: "
                         f"{type(e).__name__}: {_short(e)}") from None
    return module


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    """`--scorer myscorers:score` should find ./myscorers.py, as `python -m` would; the installed
    `ftprep` script does not have the current directory on sys.path."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
