"""Secrets are replaced by typed placeholders before content goes anywhere; look-alikes stay."""

import random

import pytest

from mnemo.redaction import KINDS, Redacted, Redaction, redact
from tests.unit.redaction.corpus import (
    B64,
    NEGATIVES,
    POSITIVES,
    UPPER32,
    Positive,
    draw,
    luhn_complete,
)

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _case_id(case: Positive) -> str:
    return f"{case.kind}:{case.text[:30]}"


@pytest.mark.parametrize("case", POSITIVES, ids=_case_id)
def test_every_positive_secret_is_replaced_by_its_kind(case: Positive):
    result = redact(case.text)
    assert case.secret not in result.text
    assert f"[REDACTED:{case.kind}]" in result.text
    assert result.counts == {case.kind: 1}


@pytest.mark.parametrize("text", NEGATIVES, ids=lambda text: text[:40])
def test_no_negative_is_changed(text: str):
    result = redact(text)
    assert result.text == text
    assert result.counts == {}
    assert result.redactions == ()


def test_the_corpus_is_big_enough_and_covers_every_kind():
    assert len(POSITIVES) >= 60
    assert len(NEGATIVES) >= 60
    assert {case.kind for case in POSITIVES} == KINDS


@pytest.mark.parametrize("case", POSITIVES, ids=_case_id)
def test_spans_point_at_the_secret_in_the_original(case: Positive):
    (redaction,) = redact(case.text).redactions
    assert redaction.kind == case.kind
    assert case.text[redaction.start : redaction.end] == case.secret


def test_redacting_twice_changes_nothing():
    texts = [case.text for case in POSITIVES] + list(NEGATIVES)
    texts.append("\n".join(texts))
    for text in texts:
        once = redact(text).text
        again = redact(once)
        assert again.text == once
        assert again.counts == {}


def test_placeholders_in_the_input_are_left_alone():
    text = "password: [REDACTED:generic_secret] and postgres://a:[REDACTED:url_password]@db/x"
    assert redact(text) == Redacted(text, {}, ())


def test_several_secrets_in_one_text_are_all_replaced_in_order():
    github = "gh" + "p_" + draw(ALNUM, 36)
    card = luhn_complete("4", 16)
    password = "Sunny" + draw(ALNUM, 6)
    text = (
        f"Deploy notes: use {github} for the repo,\n"
        f"charge {card} for the domain, and the admin panel password: {password}\n"
        f"Also {github} again in the CI log."
    )
    result = redact(text)
    assert result.counts == {"github_token": 2, "card_number": 1, "generic_secret": 1}
    assert [r.kind for r in result.redactions] == [
        "github_token",
        "card_number",
        "generic_secret",
        "github_token",
    ]
    for secret in (github, card, password):
        assert secret not in result.text
    assert result.text.startswith("Deploy notes: use [REDACTED:github_token] for the repo,")
    for redaction in result.redactions:
        assert text[redaction.start : redaction.end] in (github, card, password)


@pytest.mark.parametrize("between", [" / ", ":", ",", " ", "|", "\t"])
def test_a_secret_access_key_beside_its_access_key_id_is_a_secret(between: str):
    """No key name says what the 40 characters are, but their access key id does."""
    key_id, secret = "AKIA" + draw(UPPER32, 16), draw(B64, 39) + "Q"
    result = redact(f"AWS creds: {key_id}{between}{secret} (rotate monthly)")
    assert result.counts == {"aws_access_key": 1, "aws_secret_key": 1}, result.text
    assert secret not in result.text and key_id not in result.text


def test_spans_rebuild_the_output_from_the_original():
    text = "\n".join(case.text for case in POSITIVES[::3])
    result = redact(text)
    rebuilt, cursor = [], 0
    for redaction in result.redactions:
        rebuilt.append(text[cursor : redaction.start] + f"[REDACTED:{redaction.kind}]")
        cursor = redaction.end
    rebuilt.append(text[cursor:])
    assert "".join(rebuilt) == result.text
    assert sum(result.counts.values()) == len(result.redactions) == len(POSITIVES[::3])


def test_an_empty_text_has_nothing_to_redact():
    assert redact("") == Redacted("", {}, ())


def test_a_whole_pem_block_wins_over_pieces_inside_it():
    pem = next(case.secret for case in POSITIVES if case.kind == "private_key")
    result = redact(f"key:\n{pem}\nend")
    assert result.text == "key:\n[REDACTED:private_key]\nend"
    assert result.redactions == (Redaction("private_key", 5, 5 + len(pem)),)


def test_a_url_keeps_everything_but_its_password():
    result = redact("postgres://app:Xk29fLq7pZ@db.internal:5432/app?sslmode=require")
    assert (
        result.text == "postgres://app:[REDACTED:url_password]@db.internal:5432/app?sslmode=require"
    )


def test_a_hundred_kilobytes_of_prose_with_a_few_secrets():
    rng = random.Random(7)
    words = [
        "the",
        "memory",
        "of",
        "an",
        "agent",
        "grows",
        "with",
        "each",
        "chat",
        "and",
        "note",
        "it",
        "keeps",
        "for",
        "later",
    ]
    secrets = [case for case in POSITIVES if case.kind in ("github_token", "jwt", "card_number")]
    chunks: list[str] = []
    size = 0
    while size < 100_000:
        sentence = " ".join(rng.choice(words) for _ in range(12)).capitalize() + ". "
        chunks.append(sentence)
        size += len(sentence)
    for index, case in enumerate(secrets):
        chunks.insert((index + 1) * len(chunks) // (len(secrets) + 1), case.text + " ")
    text = "".join(chunks)
    assert len(text) > 100_000
    result = redact(text)
    assert len(result.redactions) == len(secrets)
    for case in secrets:
        assert case.secret not in result.text
    assert result.text.count("[REDACTED:") == len(secrets)


def test_precision_and_recall_over_the_corpus():
    true_positives = false_positives = 0
    for case in POSITIVES:
        result = redact(case.text)
        hits = [
            r for r in result.redactions if r.kind == case.kind and case.secret not in result.text
        ]
        true_positives += 1 if hits else 0
        false_positives += len(result.redactions) - (1 if hits else 0)
    for text in NEGATIVES:
        false_positives += len(redact(text).redactions)
    recall = true_positives / len(POSITIVES)
    precision = true_positives / (true_positives + false_positives)
    print(
        f"\nredaction corpus: {len(POSITIVES)} positives, {len(NEGATIVES)} negatives, "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    assert recall == 1.0
    assert precision == 1.0
