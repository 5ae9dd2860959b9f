"""What every store downstream of the gateway can hold: the one statement of Mnemo's input
limits. The gateway refuses anything outside them with a 4xx, so a 2xx is a promise that
PostgreSQL, Qdrant and NATS will all take what was accepted.

- Text: any Unicode except NUL (U+0000), which PostgreSQL's text and jsonb cannot store.
  Mnemo refuses it (400, naming the field) rather than altering what the caller said;
  so are lone surrogates, which are no characters (mnemo.gateway.guard.unreadable_json).
- Instants (valid times, asOf, since, until...): from EARLIEST to LATEST in UTC. Python's
  datetime ends at years 1 and 9999, and conversions between zones or by a day near those
  edges overflow; a year of margin on each side keeps every computation inside.
- Sizes: identifiers up to MAX_ID_CHARS, content up to MAX_CONTENT_BYTES, metadata up to
  MAX_METADATA_BYTES encoded, queries up to MAX_QUERY_CHARS, JSON nested at most
  MAX_JSON_DEPTH deep; and every message the gateway sends at most MAX_MESSAGE_BYTES, and
  within the NATS server's max_payload (the size the server announced).
"""

from datetime import UTC, datetime

MAX_ID_CHARS = 256
MAX_CONTENT_BYTES = 100 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_QUERY_CHARS = 4000
# Any one query parameter (the longest legitimate one is a query text).
MAX_PARAM_CHARS = 8192
MAX_JSON_DEPTH = 32
# Any one message the gateway sends: half of NATS' default max_payload (1 MiB), so the
# events made from it (the same data in an envelope) always fit too.
MAX_MESSAGE_BYTES = 512 * 1024

EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def instant_problem(when: datetime) -> str | None:
    """Why `when` cannot be stored, or None when it can."""
    if when.tzinfo is None:
        return "needs a timezone (e.g. Z)"
    try:
        utc = when.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        first, last = EARLIEST.date().isoformat(), LATEST.date().isoformat()
        return f"must lie between {first} and {last} (UTC)"
    return None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "must not contain the NUL character (U+0000)"
    return None
