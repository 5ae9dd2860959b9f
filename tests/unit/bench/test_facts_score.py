"""bench/facts.py's scoring: precision with hand labels, and attribution as "an observation
of the fact's own person states it" (a fact both speakers share is right for the one who
said it, even when the other's observation is nearer)."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from facts import FACT_LABELS, load_labels, score

VECTORS = {
    "likes camping": [0.6, 0.8, 0.0],  # Ann's; Bob's observation is nearer than hers
    "went camping": [0.0, 1.0, 0.0],  # said by Ann, observed only of Bob
    "likes jazz": [0.0, 0.0, 1.0],  # observed of nobody; labelled right
    "has a plan": [0.0, 0.0, 1.0],  # observed of nobody; unlabelled
    "has a sister": [0.0, 0.0, 1.0],  # observed of nobody; labelled other
    "loves camping.": [1.0, 0.0, 0.0],
    "often goes camping.": [0.0, 1.0, 0.0],
}


def embed(texts):
    return [np.asarray(VECTORS[t]) / np.linalg.norm(VECTORS[t]) for t in texts]


def fact(statement):
    return {"statement": statement, "about": "Ann", "evidence": []}


def test_labels_count_for_precision_and_a_shared_fact_is_its_speakers():
    conv = SimpleNamespace(sample_id="c1", speakers=("Ann", "Bob"), turns=[])
    gold = [
        {"speaker": "Ann", "text": "Ann loves camping.", "evidence": ""},
        {"speaker": "Bob", "text": "Bob often goes camping.", "evidence": ""},
    ]
    got = {
        "facts": [fact(s) for s in ("likes camping", "went camping", "likes jazz", "has a plan")]
        + [fact("has a sister")],
        "entities": [],
        "memories": {},
    }
    labels = {("c1", "ann", "likes jazz"): "right", ("c1", "ann", "has a sister"): "other"}
    r = score(conv, gold, got, embed, 0.5, [], labels)
    assert r["recall"] == 0.5
    assert r["precision"] == pytest.approx(1 / 5)  # only "likes camping" is observed of Ann
    assert r["precision_labelled"] == pytest.approx(2 / 5)  # and "likes jazz", by its label
    assert r["unlabelled"] == 2  # "went camping" and "has a plan"
    # right: likes camping (observed of Ann), likes jazz (label); wrong: went camping (only
    # Bob's), has a sister (label other); "has a plan" is about no one anybody observed
    assert (r["attribution"], r["attributed_facts"]) == (0.5, 4)
    # the earlier yardstick, the nearest observation's speaker, calls both matches wrong
    assert (r["attribution_nearest"], r["nearest_facts"]) == (0.0, 2)


def test_the_labels_file_reads_and_refuses_an_unknown_verdict(tmp_path):
    assert all(v in {"right", "other", "wrong"} for v in load_labels(FACT_LABELS).values())
    bad = tmp_path / "labels.yaml"
    bad.write_text("labels:\n  - {conversation: c1, about: Ann, statement: x, label: maybe}\n")
    with pytest.raises(ValueError, match="maybe"):
        load_labels(bad)
