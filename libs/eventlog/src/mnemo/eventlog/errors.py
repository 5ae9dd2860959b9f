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


class SubjectKeyChanged(EventLogError):
    """The subject's data key is not the one the caller read under: the subject was
    forgotten since (and may have started over). What was decided from the old key's
    events must not be stored under a new one."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"stream {stream_id!r}: the subject's key changed since it was read")
        self.stream_id = stream_id


class IdempotencyConflict(EventLogError):
    """Some, not all, of a batch's event ids are already stored: it is not a replay."""
