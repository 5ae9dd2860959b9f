"""The calendar dates a query names, read as spans of valid time (mnemo.retrieval.dates)."""

from datetime import UTC, datetime, timedelta

import pytest

from mnemo.retrieval.dates import ZONE_SLACK, named_span


def day(year: int, month: int, d: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, d, tzinfo=UTC)
    return start - ZONE_SLACK, start + timedelta(days=1) + ZONE_SLACK


@pytest.mark.parametrize(
    "query",
    [
        "Which team did John sign with on 21 May, 2023?",
        "What did Tim say on 21st of May 2023?",
        "What happened on May 21, 2023?",
        "What happened on May 21st,2023",
        "what happened on 2023-05-21",
    ],
)
def test_a_named_day_is_that_day_in_every_time_zone(query: str) -> None:
    assert named_span(query) == day(2023, 5, 21)


def test_a_month_and_a_year_cover_the_whole_of_them() -> None:
    start, end = named_span("What is Tim learning in December 2023?") or (None, None)
    assert start == datetime(2023, 12, 1, tzinfo=UTC) - ZONE_SLACK
    assert end == datetime(2024, 1, 1, tzinfo=UTC) + ZONE_SLACK
    start, end = named_span("What did John organise in 2024?") or (None, None)
    assert start == datetime(2024, 1, 1, tzinfo=UTC) - ZONE_SLACK
    assert end == datetime(2025, 1, 1, tzinfo=UTC) + ZONE_SLACK


def test_several_dates_give_the_span_over_all_of_them() -> None:
    start, end = named_span("between 3 May 2023 and June 2023") or (None, None)
    assert start == day(2023, 5, 3)[0]
    assert end == datetime(2023, 7, 1, tzinfo=UTC) + ZONE_SLACK


@pytest.mark.parametrize(
    "query",
    [
        "When did Melanie paint a sunrise?",
        "What did we do last week?",
        "What happened in May?",  # no year: which May is not stated
        "What happened on 31 February 2023?",  # no such day
        "How many of the 300 guests came?",
    ],
)
def test_no_date_that_stands_on_its_own_is_no_span(query: str) -> None:
    assert named_span(query) is None
