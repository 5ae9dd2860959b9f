"""The pure parts of the LoCoMo benchmark: evidence ids, dates, all@k / frac@k, dedupe."""

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from locomo_data import (
    load,
    normalise_evidence,
    normalise_evidence_id,
    parse_session_date,
    sessions_of,
)
from locomo_metrics import (
    Recall,
    bootstrap_interval,
    format_intervals,
    format_table,
    percentile,
    ranked_dia_ids,
    recall_at,
)

KNOWN = {"D1:3", "D8:6", "D9:17", "D11:26", "D30:5", "D3:5"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D3:5", "D3:5"),
        ("D:11:26", "D11:26"),
        ("D30:05", "D30:5"),
        (" d3:5 ", "D3:5"),
        ("D", None),
        ("", None),
        ("session_3", None),
    ],
)
def test_one_evidence_id_is_normalised(raw, expected):
    assert normalise_evidence_id(raw) == expected


def test_malformed_evidence_is_split_normalised_and_unknown_ids_dropped():
    assert normalise_evidence(["D8:6; D9:17"], KNOWN) == (["D8:6", "D9:17"], [])
    assert normalise_evidence(["D1:3", "D", "D:11:26"], KNOWN) == (["D1:3", "D11:26"], ["D"])
    assert normalise_evidence(["D30:05", "D99:1"], KNOWN) == (["D30:5"], ["D99:1"])
    assert normalise_evidence("D3:5, D3:05", KNOWN) == (["D3:5"], [])  # a string, a duplicate
    assert normalise_evidence([], KNOWN) == ([], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56, tzinfo=UTC)),
        ("12:48 am on 1 February, 2023", datetime(2023, 2, 1, 0, 48, tzinfo=UTC)),
        ("12:09 pm on 13 September, 2022", datetime(2022, 9, 13, 12, 9, tzinfo=UTC)),
        ("11:01 am on 17 December, 2022", datetime(2022, 12, 17, 11, 1, tzinfo=UTC)),
        ("7:31 PM on 21 Jan 2022", datetime(2022, 1, 21, 19, 31, tzinfo=UTC)),
    ],
)
def test_session_dates_parse_to_utc(text, expected):
    assert parse_session_date(text) == expected


@pytest.mark.parametrize(
    "text", ["8 May 2023", "13:56 pm on 8 May, 2023", "1:56 pm on 8 Mai, 2023"]
)
def test_bad_dates_are_refused(text):
    with pytest.raises(ValueError):
        parse_session_date(text)


def test_sessions_are_counted_from_turn_lists_not_date_keys():
    conv = {
        "speaker_a": "A",
        "session_1_date_time": "1:00 pm on 1 May, 2023",
        "session_1": [],
        "session_2_date_time": "1:00 pm on 2 May, 2023",
        "session_2": [],
        "session_3_date_time": "1:00 pm on 3 May, 2023",
        "session_10": [],
    }
    assert sessions_of(conv) == [1, 2, 10]


def test_recall_at_k():
    ranked = ["D1:1", "D1:2", "D1:3", "D1:4", "D1:5", "D1:6"]
    assert recall_at(ranked, ["D1:2"], 5) == (True, 1.0)
    assert recall_at(ranked, ["D1:6"], 5) == (False, 0.0)
    assert recall_at(ranked, ["D1:6"], 10) == (True, 1.0)
    assert recall_at(ranked, ["D1:1", "D1:6"], 5) == (False, 0.5)
    assert recall_at(ranked, ["D1:1", "D9:9", "D8:8", "D1:2"], 5) == (False, 0.5)
    with pytest.raises(ValueError):
        recall_at(ranked, [], 5)


def test_recall_by_category_and_overall():
    recall = Recall([1, 2])
    ranked = [f"D1:{i}" for i in range(1, 21)]  # 20 distinct turns
    recall.add(1, ranked, ["D1:1"])  # rank 1
    recall.add(1, ranked, ["D1:7", "D2:1"])  # rank 7 and missing
    recall.add(2, ranked, ["D1:12", "D1:3"])  # ranks 12 and 3
    table = recall.table()
    assert list(table) == ["1", "2", "overall"]
    one, two, overall = table["1"], table["2"], table["overall"]
    assert one["n"] == 2 and one["all@5"] == 0.5 and one["all@20"] == 0.5
    assert one["frac@5"] == 0.5 and one["frac@10"] == 0.75
    assert two["all@5"] == 0.0 and two["all@10"] == 0.0 and two["all@20"] == 1.0
    assert two["frac@5"] == 0.5 and two["frac@20"] == 1.0
    assert overall["n"] == 3
    assert math.isclose(overall["all@20"], 2 / 3)
    assert math.isclose(overall["frac@10"], (1 + 0.5 + 0.5) / 3)
    text = format_table(table, {1: "multi-hop", 2: "temporal"})
    assert "1 multi-hop" in text and "overall" in text and "0.667" in text


def test_empty_category_has_no_figures():
    table = Recall([1, 5]).table()
    assert table["5"] == {
        "n": 0,
        "all@5": None,
        "all@10": None,
        "all@20": None,
        "all@10_low": None,
        "all@10_high": None,
        "frac@5": None,
        "frac@10": None,
        "frac@20": None,
    }
    assert "-" in format_table(table, {1: "multi-hop", 5: "adversarial"})


def test_repeated_dia_ids_count_once_at_their_first_rank():
    def hit(dia_id, chunk=0):
        return {"metadata": {"dia_id": dia_id, "chunk": {"index": chunk}}}

    results = [
        hit("D1:1"),
        hit("D1:1", 1),  # another chunk of the same memory
        {"metadata": {}},  # no dia_id: not a LoCoMo turn
        {"metadata": None},
        hit("D2:4"),
        hit("D1:1", 2),
        hit("D3:3"),
    ]
    ranked = ranked_dia_ids(results)
    assert ranked == ["D1:1", "D2:4", "D3:3"]
    # Deduped, D3:3 is third, so it is in the top 3 even though it came seventh.
    assert recall_at(ranked, ["D3:3"], 3) == (True, 1.0)


def test_percentile():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert math.isclose(percentile(list(map(float, range(1, 101))), 95), 95.05)
    assert math.isnan(percentile([], 50))


def test_load_builds_turns_items_and_valid_evidence(tmp_path):
    sample = {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bob"},
                {
                    "speaker": "Bob",
                    "dia_id": "D1:2",
                    "text": "Look at this",
                    "blip_caption": "a photo of a dog",
                },
            ],
            "session_2_date_time": "9:00 am on 9 May, 2023",
            "session_3_date_time": "9:00 am on 10 May, 2023",  # a date without turns
            "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "Nice dog"}],
        },
        "qa": [
            {"question": "q1", "answer": "a", "evidence": ["D1:2; D2:1"], "category": 1},
            {"question": "q2", "adversarial_answer": "a", "evidence": ["D"], "category": 5},
            {"question": "q3", "answer": "a", "evidence": ["D2:01", "D7:1"], "category": 2},
        ],
    }
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([sample]))
    (conv,) = load(path)
    assert [t.dia_id for t in conv.turns] == ["D1:1", "D1:2", "D2:1"]
    assert [qa.evidence for qa in conv.qa] == [["D1:2", "D2:1"], [], ["D2:1"]]
    assert conv.qa[2].dropped == ["D7:1"]
    assert [qa.normalised for qa in conv.qa] == [True, True, True]
    item = conv.turns[1].ingest_item("locomo-conv-x-n1")
    assert item == {
        "userId": "locomo-conv-x-n1",
        "content": "Look at this [image: a photo of a dog]",
        "sourceType": "conversation",
        "sessionId": "session_1",
        "metadata": {
            "author": "Bob",
            "timestamp": "2023-05-08T13:56:01Z",  # the second turn of its session
            "dia_id": "D1:2",
            "title": "Bob on 8 May 2023",
        },
    }
    with pytest.raises(ValueError):
        load(path, ["conv-nope"])


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_questions() -> None:
    few = [1, 0] * 10
    many = [1, 0] * 500
    low_few, high_few = bootstrap_interval(few)
    low_many, high_many = bootstrap_interval(many)
    assert low_few is not None and high_few is not None
    assert low_many is not None and high_many is not None
    assert low_few < 0.5 < high_few and low_many < 0.5 < high_many
    assert high_many - low_many < high_few - low_few
    assert bootstrap_interval(few) == (low_few, high_few)  # seeded: the same every run


def test_bootstrap_interval_of_no_spread_and_of_nothing() -> None:
    assert bootstrap_interval([1, 1, 1]) == (1.0, 1.0)
    assert bootstrap_interval([]) == (None, None)


def test_tables_carry_and_print_the_interval_of_all_at_10() -> None:
    recall = Recall({1: "one"})
    for n in range(20):
        recall.add(1, [f"D1:{n}"] if n % 2 else [], [f"D1:{n}"])
    row = recall.table()["overall"]
    assert row["all@10"] == 0.5
    assert row["all@10_low"] is not None and row["all@10_low"] < 0.5
    assert row["all@10_high"] is not None and row["all@10_high"] > 0.5
    printed = format_intervals(recall.table(), {1: "one"})
    assert f"[{row['all@10_low']:.3f}, {row['all@10_high']:.3f}]" in printed
