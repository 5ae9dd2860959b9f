"""The built-in synthesis keeps a floor on the quality set (tests/data/synthesis_quality.yaml):
precision and recall of facts, of what ended (superseded or negated), and of entities.
The floors sit a little under what it achieves; `make bench-synthesis` prints the figures."""

import sys
from pathlib import Path

import pytest

from mnemo.contracts import ENTITY_TYPES

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from synthesis_quality import load, score

# bucket: (precision, recall) the built-in synthesis must keep
FLOORS = {
    "facts": (0.93, 0.90),
    "ended": (0.93, 0.90),
    "entities": (0.93, 0.90),
}


@pytest.fixture(scope="module")
def tallies():
    return score(load())[0]


def test_the_quality_set_is_big_enough_and_well_formed():
    cases = load()
    assert len(cases) >= 60
    assert len({c["id"] for c in cases}) == len(cases)
    for case in cases:
        assert case["say"], case["id"]
        for attribute, *_ in (case.get("facts") or []) + (case.get("ended") or []):
            assert isinstance(attribute, str), case["id"]
        for entity in case.get("entities") or []:
            assert len(entity) == 3 and entity[1] in ENTITY_TYPES


@pytest.mark.parametrize("bucket", sorted(FLOORS))
def test_precision_and_recall_keep_their_floor(tallies, bucket):
    precision, recall = FLOORS[bucket]
    tally = tallies[bucket]
    assert tally.precision >= precision, (bucket, tally)
    assert tally.recall >= recall, (bucket, tally)


def test_every_category_is_covered(tallies):
    for category in (
        "preferences",
        "identity",
        "work",
        "relations",
        "places",
        "plans",
        "activities",
    ):
        assert tallies[category].tp > 0, category
