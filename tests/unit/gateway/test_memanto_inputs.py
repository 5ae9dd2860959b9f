"""MEMANTO's field readers (mnemo.gateway.compat.memanto_inputs): a value of the wrong kind
or out of range is a 422 naming the field, never an exception and never coerced."""

import pytest

from mnemo.gateway.compat.memanto_inputs import (
    count_of,
    metadata_of,
    number_of,
    one_of,
    tags_of,
)
from mnemo.gateway.problems import Problem

HUGE = int("1" + "0" * 400)  # float() of it raises OverflowError


def refusal(read, *args) -> Problem:
    with pytest.raises(Problem) as refused:
        read(*args)
    assert refused.value.status == 422 and refused.value.code == "VALIDATION_ERROR"
    return refused.value


@pytest.mark.parametrize(
    "value",
    [HUGE, -HUGE, 1e19, -1e18, 10**19, True, False, None, "abc", "1_0", " 5", "nan", "inf",
     "1" + "0" * 400, [1], {"n": 1}],
)  # fmt: skip
def test_a_number_out_of_range_or_not_a_number_is_refused_naming_it(value):
    problem = refusal(number_of, {"confidence": value}, "confidence", 1.0, 0.0, 1.0)
    assert problem.details["field"] == "confidence" and "confidence" in problem.detail


@pytest.mark.parametrize(("value", "read"), [(0.5, 0.5), ("0.25", 0.25), (1, 1.0), ("1e-1", 0.1)])
def test_a_number_may_be_json_or_decimal_text(value, read):
    assert number_of({"confidence": value}, "confidence", 1.0, 0.0, 1.0) == read
    assert number_of({}, "confidence", 1.0, 0.0, 1.0) == 1.0


@pytest.mark.parametrize("value", [1.5, "2.5", True, HUGE, 1e19, -1e18, 0])
def test_a_count_is_a_whole_number_in_range(value):
    problem = refusal(count_of, {"limit": value}, "limit", 5, 1, 20)
    assert problem.details["field"] == "limit"


def test_a_whole_float_or_text_counts():
    assert count_of({"limit": 2.0}, "limit", 5, 1, 20) == 2
    assert count_of({"limit": "7"}, "limit", 5, 1, 20) == 7
    assert count_of({}, "limit", 5, 1, 20) == 5


@pytest.mark.parametrize("value", [0, "", " , ", 1.5, True, {"a": 1}, ["a", 2]])
def test_tags_of_another_kind_are_refused(value):
    assert refusal(tags_of, {"tags": value}).details["field"] == "tags"


def test_tags_are_a_list_or_comma_separated_text():
    assert tags_of({}) == [] and tags_of({"tags": None}) == [] and tags_of({"tags": []}) == []
    assert tags_of({"tags": "survey, q1"}) == ["survey", "q1"]
    assert tags_of({"tags": ["survey"]}) == ["survey"]


@pytest.mark.parametrize("value", ["", 0, False, [], "x"])
def test_metadata_must_be_an_object(value):
    assert refusal(metadata_of, {"metadata": value}).details["field"] == "metadata"


def test_metadata_absent_or_null_is_none():
    assert metadata_of({}) == {} and metadata_of({"metadata": None}) == {}
    assert metadata_of({"metadata": {"a": 1}}) == {"a": 1}


@pytest.mark.parametrize("value", ["everything", "", 1, {"a": 1}, ["agent"]])
def test_one_of_refuses_any_other_value(value):
    problem = refusal(one_of, {"scope": value}, "scope", ("agent",))
    assert problem.details["field"] == "scope" and "agent" in problem.detail


def test_one_of_takes_an_allowed_value_or_none():
    assert one_of({"scope": "agent"}, "scope", ("agent",)) == "agent"
    assert one_of({}, "scope", ("agent",)) is None
