"""Dead letters: messages a consumer gave up on, kept whole in the DLQ stream.

A consumer that cannot handle a message (it is malformed, or kept failing) stores a copy
of it, its original subject, headers and payload, with the reason, under
`<root>.dlq.dead.<consumer>`, and only then terminates the original delivery: nothing
vanishes. The entry stays (no expiry) until an operator replays or drops it
(`mnemo admin dead-letters list|count|replay|drop`). Replaying moves the entry to
`<root>.dlq.replay.<consumer>`, which only that consumer reads: it handles the message as
if it had just arrived, and dead-letters it again if it still fails.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from mnemo.contracts import Headers, Topology, derived_id, utcnow

_DEAD_HEADERS = (
    Headers.DEAD_SUBJECT,
    Headers.DEAD_STREAM,
    Headers.DEAD_SEQUENCE,
    Headers.DEAD_CONSUMER,
    Headers.DEAD_REASON,
    Headers.DEAD_DELIVERIES,
    Headers.DEAD_AT,
    Headers.DEAD_MSG_ID,
)


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the DLQ stream."""

    sequence: int  # in the DLQ stream
    consumer: str
    subject: str  # where the message was first published
    stream: str
    stream_sequence: int
    reason: str
    deliveries: int
    dead_at: str
    headers: dict[str, str]  # the original message's headers
    data: bytes

    @property
    def tenant_id(self) -> str:
        return self.headers.get(Headers.TENANT, "")

    @property
    def correlation_id(self) -> str:
        return self.headers.get(Headers.CORRELATION, "")

    @property
    def msg_type(self) -> str:
        return self.headers.get(Headers.TYPE, "")


def dead_letter_headers(
    original: dict[str, str],
    *,
    consumer: str,
    subject: str,
    stream: str,
    stream_sequence: int,
    reason: str,
    deliveries: int,
    source: str = "",
) -> dict[str, str]:
    """The headers of a dead letter: the original ones (ids, trace) and where it failed.
    `source` names the delivery that failed (its stream and sequence: the original's, or
    a replay's), so that one failed delivery makes one entry however often it is stored."""
    headers = {k: v for k, v in original.items() if k not in _DEAD_HEADERS}
    headers[Headers.DEAD_MSG_ID] = original.get(Headers.MSG_ID, "")
    # A crash between storing the entry and terminating the delivery stores it again:
    # the duplicate window drops the second copy.
    headers[Headers.MSG_ID] = derived_id("dead", consumer, source or str(stream_sequence))
    headers.update(
        {
            Headers.DEAD_SUBJECT: subject,
            Headers.DEAD_STREAM: stream,
            Headers.DEAD_SEQUENCE: str(stream_sequence),
            Headers.DEAD_CONSUMER: consumer,
            # Headers are one line: the reason is the exception's type and message.
            Headers.DEAD_REASON: " ".join(reason.split())[:1000],
            Headers.DEAD_DELIVERIES: str(deliveries),
            Headers.DEAD_AT: utcnow().isoformat(),
        }
    )
    return headers


def parse(sequence: int, headers: dict[str, str], data: bytes) -> DeadLetter:
    original = {k: v for k, v in headers.items() if k not in _DEAD_HEADERS}
    original[Headers.MSG_ID] = headers.get(Headers.DEAD_MSG_ID, "")
    return DeadLetter(
        sequence=sequence,
        consumer=headers.get(Headers.DEAD_CONSUMER, ""),
        subject=headers.get(Headers.DEAD_SUBJECT, ""),
        stream=headers.get(Headers.DEAD_STREAM, ""),
        stream_sequence=int(headers.get(Headers.DEAD_SEQUENCE, "0") or 0),
        reason=headers.get(Headers.DEAD_REASON, ""),
        deliveries=int(headers.get(Headers.DEAD_DELIVERIES, "0") or 0),
        dead_at=headers.get(Headers.DEAD_AT, ""),
        headers=original,
        data=data,
    )


class DeadLetters:
    """The DLQ stream of one topology, as an operator sees it."""

    def __init__(self, js: JetStreamContext, topology: Topology) -> None:
        self._js = js
        self._topology = topology

    async def counts(self) -> dict[str, int]:
        """Dead letters waiting, by consumer."""
        prefix = self._topology.dlq_dead_subject("")
        try:
            info = await self._js.stream_info(
                self._topology.dlq_stream, subjects_filter=self._topology.dlq_dead_all
            )
        except NotFoundError:
            return {}
        subjects = info.state.subjects or {}
        return {name.removeprefix(prefix): n for name, n in sorted(subjects.items()) if n}

    async def entries(self, consumer: str | None = None) -> AsyncIterator[DeadLetter]:
        """Every waiting dead letter (of `consumer`), oldest first."""
        subject = (
            self._topology.dlq_dead_subject(consumer) if consumer else self._topology.dlq_dead_all
        )
        sequence = 1
        while True:
            try:
                msg = await self._js.get_msg(
                    self._topology.dlq_stream, seq=sequence, subject=subject, next=True
                )
            except (NotFoundError, NatsTimeoutError):
                return
            assert msg.seq is not None
            yield parse(msg.seq, dict(msg.headers or {}), msg.data or b"")
            sequence = msg.seq + 1

    async def get(self, sequence: int) -> DeadLetter | None:
        try:
            msg = await self._js.get_msg(self._topology.dlq_stream, seq=sequence)
        except NotFoundError:
            return None
        if msg.subject is None or not msg.subject.startswith(self._topology.dlq_dead_subject("")):
            return None
        return parse(sequence, dict(msg.headers or {}), msg.data or b"")

    async def replay(self, letter: DeadLetter) -> None:
        """Hand the message back to its consumer, then remove the entry."""
        headers = dead_letter_headers(
            letter.headers,
            consumer=letter.consumer,
            subject=letter.subject,
            stream=letter.stream,
            stream_sequence=letter.stream_sequence,
            reason=letter.reason,
            deliveries=letter.deliveries,
        )
        headers[Headers.MSG_ID] = derived_id("replay", str(letter.sequence))
        await self._js.publish(
            self._topology.dlq_replay_subject(letter.consumer),
            letter.data,
            stream=self._topology.dlq_stream,
            headers=headers,
        )
        await self.drop(letter.sequence)

    async def drop(self, sequence: int) -> None:
        """Remove one entry for good (an operator decided it can never succeed)."""
        await self._js.delete_msg(self._topology.dlq_stream, sequence)
