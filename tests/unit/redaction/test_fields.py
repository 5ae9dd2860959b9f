"""A string under a field that names a secret is replaced whole, at any depth; look-alike
field names and values that stand for nothing are left as they are."""

import json
from collections import Counter

import pytest

from mnemo.redaction import KINDS, names_secret, redact_value
from tests.unit.redaction.corpus import FIELD_NEGATIVES, FIELD_POSITIVES, FieldPositive


def _case_id(case: FieldPositive) -> str:
    return json.dumps(case.value)[:40]


@pytest.mark.parametrize("case", FIELD_POSITIVES, ids=_case_id)
def test_a_secret_under_a_secret_name_is_replaced(case: FieldPositive):
    counts: Counter[str] = Counter()
    out = json.dumps(redact_value(case.value, counts))
    assert case.secret not in out
    assert f"[REDACTED:{case.kind}]" in out
    assert counts == {case.kind: 1}


@pytest.mark.parametrize("value", FIELD_NEGATIVES, ids=lambda v: json.dumps(v)[:40])
def test_look_alike_fields_are_left_alone(value: dict):
    counts: Counter[str] = Counter()
    assert redact_value(value, counts) == value
    assert counts == {}


def test_the_field_corpus_is_big_enough():
    assert len(FIELD_POSITIVES) >= 30 and len(FIELD_NEGATIVES) >= 30
    assert {case.kind for case in FIELD_POSITIVES} <= KINDS


@pytest.mark.parametrize(
    "name",
    ["password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
     "refresh_token", "api_key", "apikey", "apiKey", "API-KEY", "x-api-key", "X_API_KEY",
     "XApiKey", "private_key", "credentials", "authorization", "Authorization", "auth",
     "session_token", "aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "passWord"],
)  # fmt: skip
def test_secret_names_in_any_case_and_separator(name: str):
    assert names_secret(name)


@pytest.mark.parametrize(
    "name",
    ["token_count", "max_tokens", "password_hint", "secretary", "keyboard", "author",
     "tokenizer", "token_type", "secret_name", "auth_provider", "api_key_id", "key", "monkey",
     "x" * 300 + "password"],
)  # fmt: skip
def test_look_alike_names(name: str):
    assert not names_secret(name)


def test_text_rules_still_run_on_every_other_string():
    counts: Counter[str] = Counter()
    token = "gh" + "p_" + "a1B2" * 9
    value = {"note": f"use {token} for CI", "nested": [{"deep": [f"again {token}"]}]}
    out = redact_value(value, counts)
    assert out == {
        "note": "use [REDACTED:github_token] for CI",
        "nested": [{"deep": ["again [REDACTED:github_token]"]}],
    }
    assert counts == {"github_token": 2}


def test_redacting_twice_changes_nothing():
    for case in FIELD_POSITIVES:
        once = redact_value(case.value, Counter())
        counts: Counter[str] = Counter()
        assert redact_value(once, counts) == once
        assert counts == {}


def test_precision_and_recall_over_the_field_corpus():
    true_positives = false_positives = 0
    for case in FIELD_POSITIVES:
        counts: Counter[str] = Counter()
        out = json.dumps(redact_value(case.value, counts))
        hit = case.secret not in out and counts[case.kind] == 1
        true_positives += hit
        false_positives += sum(counts.values()) - hit
    for value in FIELD_NEGATIVES:
        counts = Counter()
        redact_value(value, counts)
        false_positives += sum(counts.values())
    recall = true_positives / len(FIELD_POSITIVES)
    precision = true_positives / (true_positives + false_positives)
    print(
        f"\nfield redaction corpus: {len(FIELD_POSITIVES)} positives, "
        f"{len(FIELD_NEGATIVES)} negatives, precision {precision:.3f}, recall {recall:.3f}"
    )
    assert recall == 1.0
    assert precision == 1.0
