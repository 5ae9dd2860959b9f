"""One clock for the whole system: timezone-aware UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def valid_at(as_of: datetime | None) -> datetime:
    """The valid time a read is about: `asOf`, or now when none is given. A fact that
    starts later (a memory's timestamp or a supersession's validFrom in the future) does
    not hold yet, and the fact it will end still does."""
    return utcnow() if as_of is None else as_of
