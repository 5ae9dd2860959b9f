"""The calendar dates a query names ("on 21 May, 2023", "in December 2023", "in 2024"): the
span of valid time it asks about, for ranking what happened then higher.

Only dates that stand on their own are read: a day, month or year with its year. A date
without a year ("in May") or relative to now ("last week") would have to be read against
a time the query does not state, so it is left to the words. A named day is widened by
14 hours either side: the query is in its asker's time zone (UTC-12 to UTC+14) and
occurred_at is in UTC.
"""

import re
from datetime import UTC, datetime, timedelta

# Month names and abbreviations (lower case) to their number; bench/locomo_data.py reads
# LoCoMo's session dates with it too.
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.IGNORECASE)
_ISO_DAY = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE)
_BARE_YEAR = re.compile(rf"\b{_YEAR}\b")

# How far a named day reaches past its UTC midnights: the widest time zone offsets.
ZONE_SLACK = timedelta(hours=14)

Span = tuple[datetime, datetime]  # [start, end)


def _day(year: int, month: int, day: int) -> Span | None:
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    return start - ZONE_SLACK, start + timedelta(days=1) + ZONE_SLACK


def _month(year: int, month: int) -> Span:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start - ZONE_SLACK, end + ZONE_SLACK


def named_span(text: str) -> Span | None:
    """The span covering every date `text` names, or None when it names none."""
    spans: list[Span] = []
    rest = text
    for pattern, read in (
        (_DAY_MONTH_YEAR, lambda g: _day(int(g[2]), MONTHS[g[1].lower()], int(g[0]))),
        (_MONTH_DAY_YEAR, lambda g: _day(int(g[2]), MONTHS[g[0].lower()], int(g[1]))),
        (_ISO_DAY, lambda g: _day(int(g[0]), int(g[1]), int(g[2]))),
        (_MONTH_YEAR, lambda g: _month(int(g[1]), MONTHS[g[0].lower()])),
        (_BARE_YEAR, lambda g: _month(int(g[0]), 1)[:1] + _month(int(g[0]), 12)[1:]),
    ):
        for match in pattern.finditer(rest):
            span = read(match.groups())
            if span is not None:
                spans.append(span)
        # What a longer form read is not read again as a month or a bare year.
        rest = pattern.sub(" ", rest)
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)
