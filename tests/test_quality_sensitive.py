"""Secrets and personal data (issue #11 item 12): the detectors, masking, the FT9xx rules in
validate (text and JSON), and `convert --redact`. The acceptance file holds an `sk-proj-` key,
an `AKIA` key, a card number and an e-mail address: each gets a finding, no output carries
any of them, and the redacted file has none."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftprep.cli import main
from ftprep.quality.sensitive import find_sensitive, mask, masked_excerpt, redact
from ftprep.validate import validate_file

FTPREP = str(Path(sys.executable).with_name("ftprep"))
OPENAI_KEY = "sk-proj-Q7vX2mN9pL4kJ8hG3fD6sA1zR5tY0uW2eB7cV9nM4xK8jH3gF6dS1aP5oI2uY7t"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key
CARD = "4111 1111 1111 1111"  # a test Visa number (Luhn-valid)
EMAIL = "jane.doe@example.com"
SECRETS = (OPENAI_KEY, AWS_KEY, CARD, CARD.replace(" ", ""), EMAIL, "jane.doe")


def chat(user: str, assistant: str = "Noted.") -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """Ten clean examples after four with one secret each (lines 1-4)."""
    records = [chat(f"My OpenAI key is {OPENAI_KEY}, why does it fail?"),
               chat("Deploy it", f"Use the key {AWS_KEY} for now."),
               chat(f"Charge my card {CARD} for the upgrade"),
               chat(f"Email me at {EMAIL} tomorrow")]
    records += [chat(f"question {i}", f"answer {i}") for i in range(10)]
    path = tmp_path / "leaky.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_each_secret_gets_a_finding_with_line_and_path(leaky: Path) -> None:
    report = validate_file(leaky)
    assert [(f.code, f.line, f.path) for f in report.findings] == [
        ("FT901", 1, "messages[0].content"), ("FT901", 2, "messages[1].content"),
        ("FT903", 3, "messages[0].content"), ("FT911", 4, "messages[0].content")]
    messages = [f.message for f in report.findings]
    assert messages[0] == "OpenAI API key: My OpenAI key is [sk-p… (71 chars)], why does it fail?"
    assert messages[1] == "AWS access key: Use the key [AKIA… (20 chars)] for now."
    assert messages[2] == "payment card number: Charge my card […1111 (16 digits)] for the upgrade"
    assert messages[3] == "e-mail address: Email me at [j…@….com] tomorrow"
    assert not report.ok  # credentials and card numbers are errors


def test_cli_text_and_json_never_print_the_secrets(leaky: Path) -> None:
    for fmt in ("text", "json"):
        r = subprocess.run([FTPREP, "validate", str(leaky), "--format", fmt],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 1
        _no_secret_in(r.stdout + r.stderr)
        assert "FT901" in r.stdout and "FT903" in r.stdout and "FT911" in r.stdout


def test_convert_redact_leaves_none_and_counts_them(leaky: Path, tmp_path: Path) -> None:
    out = tmp_path / "clean.jsonl"
    r = subprocess.run([FTPREP, "convert", str(leaky), "-o", str(out), "--redact"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "redacted: aws_key 1, card_number 1, email 1, openai_key 1"
    text = out.read_text(encoding="utf-8")
    _no_secret_in(text)
    first = json.loads(text.splitlines()[0])
    assert first["messages"][0]["content"] == "My OpenAI key is <OPENAI_KEY>, why does it fail?"
    assert "<AWS_KEY>" in text and "<CARD_NUMBER>" in text and "<EMAIL>" in text
    assert [f.code for f in validate_file(out).findings] == []


def test_redact_covers_the_rejects_file(tmp_path: Path) -> None:
    """A row that is rejected keeps its source in the rejects file: redacted too."""
    src = tmp_path / "qa.csv"
    src.write_text(f"question,answer\nmy key {OPENAI_KEY},\nhi,hello\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(main, ["convert", str(src), "-o", str(out), "--user", "question",
                                  "--assistant", "answer", "--redact", "--format", "json"])
    assert r.exit_code == 1, r.output
    rejects = (tmp_path / "o.rejects.jsonl").read_text(encoding="utf-8")
    assert OPENAI_KEY not in rejects and "<OPENAI_KEY>" in rejects
    assert json.loads(r.stdout)["redacted"] == {}  # only written records are counted


def test_without_redact_nothing_changes(leaky: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.jsonl"
    r = CliRunner().invoke(main, ["convert", str(leaky), "-o", str(out)])
    assert r.exit_code == 0
    assert OPENAI_KEY in out.read_text(encoding="utf-8")
    assert "redacted" not in r.output


@pytest.mark.parametrize(("text", "kinds"), [
    (f"key={OPENAI_KEY}", ["openai_key"]),
    ("legacy sk-" + "a1B2c3D4e5" * 4 + "x1Y2z3W4", ["openai_key"]),
    ("sk-abc" + "1" * 20 + "T3BlbkFJ" + "z" * 20, ["openai_key"]),  # detect-secrets' own pattern
    ("token ghp_" + "aB1" * 12 + " ok", ["github_token"]),
    ("slack xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", ["secret"]),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     ["jwt"]),
    ("db postgres://admin:hunter2@db.internal/prod", ["password_in_url"]),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", ["private_key"]),
    ("Amex 3782 822463 10005 and MC 5555555555554444", ["card_number", "card_number"]),
    ("IBAN DE89 3704 0044 0532 0130 00.", ["iban"]),
    ("call +1 (415) 555-0132 or 020 7946 0958", ["phone"]),
    ("from 8.8.8.8 and 2001:4860:4860::8888", ["ip_address", "ip_address"]),
])
def test_detectors_find(text: str, kinds: list[str]) -> None:
    assert [s.kind for s in find_sensitive(text)] == kinds


@pytest.mark.parametrize("text", [
    "Order 123456789 shipped on 2023-10-12 at 12:30:45; version 3.11.2 costs $1234.56",
    "Card 4111 1111 1111 1112 fails Luhn", "IBAN DE89 3704 0044 0532 0130 01 has a bad checksum",
    "internal hosts 10.0.0.1, 192.168.1.20, 127.0.0.1, docs 192.0.2.7 and ::1",
    "ISBN 978-3-16-148410-0, tracking 1Z999AA10123456784, sum 1234 5678",
    "the word internationalization and sk-learn and a sha 9f86d081884c7d659a2feaa0c55ad015",
    "user@localhost is not an address; neither is @handle",
])
def test_detectors_stay_quiet_on(text: str) -> None:
    assert find_sensitive(text) == []


def test_github_token_is_redacted_whole_even_past_the_pattern_length() -> None:
    text = "ghp_" + "a" * 40 + " end"  # the plugin's pattern stops at 36 characters
    assert redact(text) == "<GITHUB_TOKEN> end"


def test_private_key_block_is_redacted_from_begin_to_end() -> None:
    text = "key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\nAoGCCqGSM49\n-----END EC PRIVATE KEY-----\nbye"
    assert redact(text) == "key:\n<PRIVATE_KEY>\nbye"


def test_masks_and_excerpts_never_hold_the_value() -> None:
    text = f"a {OPENAI_KEY} b {EMAIL} c {CARD} d"
    spans = find_sensitive(text)
    for span in spans:
        value = text[span.start:span.end]
        assert value not in mask(span.kind, value)
        excerpt = masked_excerpt(text, span, spans, width=80)
        _no_secret_in(excerpt)
    assert masked_excerpt(text, spans[1], spans, width=80) == (
        "a <OPENAI_KEY> b [j…@….com] c <CARD_NUMBER> d")


def test_personal_data_beyond_email_is_opt_in(tmp_path: Path) -> None:
    path = tmp_path / "pii.jsonl"
    record = chat("call +1 415-555-0132, IBAN DE89 3704 0044 0532 0130 00, from 8.8.8.8")
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert [f.code for f in validate_file(path, ignore=["FT107"]).findings] == []
    opted = validate_file(path, ignore=["FT107"], extend_select=["FT91"])
    assert [f.code for f in opted.findings] == ["FT912", "FT913", "FT914"]
    assert [f.code for f in validate_file(path, select=["FT914"]).findings] == ["FT914"]


def test_ignore_ft9_skips_the_scan(leaky: Path) -> None:
    assert [f.code for f in validate_file(leaky, ignore=["FT9"]).findings] == []


def test_rules_lists_the_opt_in_rules() -> None:
    r = CliRunner().invoke(main, ["rules"])
    line = next(x for x in r.output.splitlines() if x.startswith("FT912"))
    assert line.endswith("(opt-in)")
    assert "(opt-in)" not in next(x for x in r.output.splitlines() if x.startswith("FT901"))
