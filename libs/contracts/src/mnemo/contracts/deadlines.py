"""When the asker of the query being answered stops waiting for its answer.

A write answered 5xx must not take effect later: the caller was told it was not done, and
may act on that (send memories after a forget that timed out). The bus sets `ANSWER_BY`
(monotonic clock) while a query is handled; the event log checks it just before each
transaction commits (`in_time`), so a write that reaches its commit only after the asker
gave up (PostgreSQL stalled, a lock held) is rolled back instead, and answered
"overloaded". Outside a query (a consumer, a background task) there is no deadline.
"""

import time
from contextvars import ContextVar

ANSWER_BY: ContextVar[float | None] = ContextVar("mnemo_answer_by", default=None)


class AnswerTooLate(Exception):
    """The asker stopped waiting before this write could commit: it is rolled back."""


def in_time() -> None:
    """Raise `AnswerTooLate` once the query being answered is past its deadline."""
    by = ANSWER_BY.get()
    if by is not None and time.monotonic() > by:
        raise AnswerTooLate
