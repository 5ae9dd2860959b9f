"""Errors the event log raises; each says what went wrong in terms a caller can act on."""


class EventLogError(Exception):
    """Base of every event log error."""


class WrongExpectedVersion(EventLogError):
    """Another writer appended to the stream first: reload and decide again."""

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r}: expected version {expected}, but it is at {actual}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class IdempotencyConflict(EventLogError):
    """Some, not all, of a batch's event ids are already stored: it is not a replay."""
