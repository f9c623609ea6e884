"""Offline tokenizer loading and the per-example token formula."""
from __future__ import annotations

import gzip
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken

from ftprep import tokens
from ftprep.errors import UsageError
from ftprep.tokens import TokenizerUnavailable, count_example, get_encoding

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


@pytest.fixture
def fresh_tokenizers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No memoised encodings, an empty tiktoken cache, downloads off, and no network."""
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.delenv(tokens.ALLOW_DOWNLOAD_ENV, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    tokens.clear_caches()
    yield cache
    tokens.clear_caches()  # later tests rebuild from the real sources


def test_counting_works_with_networking_unavailable(fresh_tokenizers: Path) -> None:
    record = {"messages": [{"role": "user", "content": "hello world"},
                           {"role": "assistant", "content": "hi"}]}
    for name in ("cl100k_base", "o200k_base"):
        enc = get_encoding(name)
        assert enc.name == name
        assert enc.decode(enc.encode_ordinary("hello world")) == "hello world"
        # 2 messages × 3 + "user" + "hello world" + "assistant" + "hi" + 3 priming
        expected = 6 + 1 + len(enc.encode("hello world")) + 1 + len(enc.encode("hi")) + 3
        assert count_example(record, enc).total == expected
    assert get_encoding("cl100k_base").special_tokens_set >= {"<|endoftext|>", "<|endofprompt|>"}


def test_encoding_matches_tiktoken_constructor_values(fresh_tokenizers: Path) -> None:
    enc = get_encoding("o200k_base")
    assert enc.n_vocab == 200019
    assert enc.encode("<|endoftext|>", allowed_special="all") == [199999]
    assert get_encoding("o200k_base") is enc  # memoised


def test_corrupted_bundled_file_is_refused(
    fresh_tokenizers: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = tokens.bundled_bpe_path("cl100k_base.tiktoken")
    assert real is not None, "bpe-openai must ship cl100k_base"
    data = bytearray(gzip.decompress(real.read_bytes()))
    data[100] ^= 1  # one flipped bit
    corrupt = tmp_path / "cl100k_base.tiktoken.gz"
    corrupt.write_bytes(gzip.compress(bytes(data)))
    monkeypatch.setattr(tokens.load, "bundled_bpe_path", lambda name: corrupt)
    with pytest.raises(TokenizerUnavailable) as err:
        get_encoding("cl100k_base")
    assert "sha256" in str(err.value)
    assert "TIKTOKEN_CACHE_DIR" in str(err.value)
    assert isinstance(err.value, UsageError)


def test_tiktoken_cache_is_used_first(
    fresh_tokenizers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tokens.bundled_bpe_path("cl100k_base.tiktoken")
    assert real is not None
    cached = fresh_tokenizers / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    cached.write_bytes(gzip.decompress(real.read_bytes()))
    monkeypatch.setattr(tokens.load, "bundled_bpe_path", lambda name: None)
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]


def test_corrupt_cache_falls_back_to_bundled(fresh_tokenizers: Path) -> None:
    (fresh_tokenizers / hashlib.sha1(CL100K_URL.encode()).hexdigest()).write_bytes(b"junk")
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]


def test_no_source_gives_one_line_usage_error(
    fresh_tokenizers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens.load, "bundled_bpe_path", lambda name: None)
    with pytest.raises(TokenizerUnavailable) as err:
        get_encoding("p50k_base")
    message = str(err.value)
    assert "\n" not in message
    assert "p50k_base" in message and "bpe-openai" in message and "TIKTOKEN_CACHE_DIR" in message


def test_unknown_encoding_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown tokenizer encoding"):
        get_encoding("no_such_base")


def test_read_bpe_bytes_verifies_hash() -> None:
    data = tokens.read_bpe_bytes(CL100K_URL, CL100K_SHA256)
    assert hashlib.sha256(data).hexdigest() == CL100K_SHA256


# -- the formula -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cl100k() -> tiktoken.Encoding:
    return get_encoding("cl100k_base")


def n(enc: tiktoken.Encoding, text: str) -> int:
    return len(enc.encode(text, disallowed_special=()))


def test_chat_formula_with_name_and_weights(cl100k: tiktoken.Encoding) -> None:
    record = {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there", "name": "ann"},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "Hello again"},
    ]}
    got = count_example(record, cl100k)
    expected_messages = [
        3 + n(cl100k, "system") + n(cl100k, "Be brief."),
        3 + n(cl100k, "user") + n(cl100k, "Hi there") + n(cl100k, "ann") + 1,
        3 + n(cl100k, "assistant") + n(cl100k, "Hello"),
        3 + n(cl100k, "user") + n(cl100k, "Again"),
        3 + n(cl100k, "assistant") + n(cl100k, "Hello again"),
    ]
    assert got.per_message == tuple(expected_messages)
    assert got.total == sum(expected_messages) + 3
    assert got.trainable == expected_messages[-1]  # weight 0 is not trained
    assert got.messages == 5
    assert not got.estimated
    assert got.answer_start == sum(expected_messages[:-1]) + 3 + n(cl100k, "assistant")


def test_special_token_text_counts_as_text(cl100k: tiktoken.Encoding) -> None:
    record = {"messages": [{"role": "user", "content": "<|endoftext|>"},
                           {"role": "assistant", "content": "ok"}]}
    assert count_example(record, cl100k).total == (
        3 + 1 + n(cl100k, "<|endoftext|>") + 3 + 1 + n(cl100k, "ok") + 3)
    assert n(cl100k, "<|endoftext|>") > 1


def test_images_low_detail_exact_high_detail_estimated(cl100k: tiktoken.Encoding) -> None:
    def record(detail: str) -> dict:
        return {"messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": detail}},
            ]},
            {"role": "assistant", "content": "A cat."},
        ]}

    low, high = count_example(record("low"), cl100k), count_example(record("high"), cl100k)
    assert not low.estimated and high.estimated
    assert high.total - low.total == 170 * 4
    assert low.per_message[0] == 3 + n(cl100k, "user") + n(cl100k, "What is this?") + 85


def test_tools_and_tool_calls_counted_from_json_as_estimate(cl100k: tiktoken.Encoding) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    record = {"tools": tools, "messages": [
        {"role": "user", "content": "call f"},
        {"role": "assistant", "tool_calls": calls},
    ]}
    got = count_example(record, cl100k)
    import json

    def js(v: object) -> int:
        return n(cl100k, json.dumps(v, separators=(",", ":"), ensure_ascii=False))

    assert got.estimated
    assert got.total == (js(tools) + 3 + 1 + n(cl100k, "call f")
                         + 3 + 1 + js(calls) + 3)
    assert got.trainable == 3 + 1 + js(calls)


def test_lone_surrogate_in_a_tool_call_is_counted_not_a_crash(cl100k: tiktoken.Encoding) -> None:
    # orjson refuses lone surrogates; they are legal JSON and reach us from the reader.
    calls = [{"id": "c1", "type": "function", "function": {"name": "\ud801", "arguments": "{}"}}]
    plain = [{"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}]
    record = {"messages": [{"role": "assistant", "tool_calls": calls}]}
    got = count_example(record, cl100k)
    baseline = count_example({"messages": [{"role": "assistant", "tool_calls": plain}]}, cl100k)
    assert got.estimated and got.total >= baseline.total > 0


def test_preference_and_completion(cl100k: tiktoken.Encoding) -> None:
    pref = {"input": {"messages": [{"role": "user", "content": "Q"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad answer"}]}
    got = count_example(pref, cl100k)
    prompt = 3 + 1 + n(cl100k, "Q") + 3
    good, bad = 3 + 1 + n(cl100k, "good"), 3 + 1 + n(cl100k, "bad answer")
    assert (got.total, got.trainable) == (prompt + good + bad, good + bad)
    comp = count_example({"prompt": "Say hi", "completion": " hi there"}, cl100k)
    assert comp.total == n(cl100k, "Say hi") + n(cl100k, " hi there")
    assert comp.trainable == n(cl100k, " hi there")
    assert comp.answer_start == n(cl100k, "Say hi")


@pytest.mark.parametrize(("record", "total", "messages"), [
    ({"messages": "x"}, 3, 0),  # the reply priming only
    ({"messages": [1, None, {"role": 5}]}, 6, 3),  # non-dicts count nothing, the dict its framing
    ({"input": 3, "preferred_output": "x"}, 3, 0),
    ({"prompt": 1}, 0, 0),
    ({}, 0, 0),
])
def test_malformed_records_count_their_framing_and_train_nothing(
    cl100k: tiktoken.Encoding, record: dict, total: int, messages: int
) -> None:
    # Defensive: validate --model runs the counter on records that break the schema.
    counted = count_example(record, cl100k)
    assert (counted.total, counted.messages, counted.trainable) == (total, messages, 0)
    assert counted.total == counted.fixed + sum(counted.per_message)


def test_repeated_strings_are_memoised(cl100k: tiktoken.Encoding) -> None:
    prompt = "You are a very particular assistant. " * 20
    record = {"messages": [{"role": "system", "content": prompt},
                           {"role": "assistant", "content": "x"}]}
    count_example(record, cl100k)
    text = tokens.core._counter(cl100k).text
    before = text.cache_info().hits
    count_example(record, cl100k)
    assert text.cache_info().hits >= before + 3


def test_counting_from_threads_keeps_flags_apart(cl100k: tiktoken.Encoding) -> None:
    from concurrent.futures import ThreadPoolExecutor

    image = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": "ok"}]}
    plain = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    records = [image, plain] * 200
    with ThreadPoolExecutor(4) as pool:
        flags = list(pool.map(lambda r: count_example(r, cl100k).estimated, records))
    assert flags == [True, False] * 200


def test_memo_does_not_keep_long_unique_texts(cl100k: tiktoken.Encoding) -> None:
    # 400 unique 20 KB answers used to stay in the 65,536-entry memo (8 MB here; gigabytes
    # on a real file of long documents): memory grew with the file.
    import gc
    import random
    import tracemalloc

    tokens.clear_caches()
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(400):  # each text is built here and dropped, like a parsed line
            text = " ".join(rng.choices(words, k=3300))[:20_000]
            count_example({"messages": [{"role": "user", "content": "q"},
                                        {"role": "assistant", "content": text}]}, cl100k)
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert retained < 128 * 20_000 * 1.5  # at most the small long-text memo
    info = tokens.core._counter(cl100k).text.cache_info()
    assert info.currsize <= tokens.core.LONG_STRING_CACHE_SIZE + 10
    # a long text that repeats (a system prompt) is still counted once
    before = info.hits
    count_example({"messages": [{"role": "system", "content": text}]}, cl100k)
    after = tokens.core._counter(cl100k).text.cache_info()
    assert (after.hits, after.misses) == (before + 1, info.misses + 1)  # + the new "system"
