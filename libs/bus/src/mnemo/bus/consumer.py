"""Durable pull consumers: handle, ack after commit, nak with bounded backoff, dead-letter.

A handler raises `Reject` for a message that can never succeed (dead-lettered at once).
A failure of a dependency (mnemo.bus.failures: the database, NATS, the vector store, a
model server away) never counts against the message: the consumer puts the message and the
rest of its batch back and pauses, with a growing delay (up to `pause_max`), until the
dependency answers again, however long that takes. Any other exception counts: the message
is nak'ed with an exponential delay and redelivered, and after `max_deliver` such failures
it is dead-lettered (JetStream itself redelivers without limit: the count is kept here).
A dead letter is a copy of the whole message in the DLQ stream (mnemo.bus.dead_letters),
stored before the delivery is terminated, and signalled (`message.dead_lettered`) for the
audit. Each consumer also reads its own replay subject of the DLQ stream, where an
operator's replay puts a dead letter back, and handles what it finds there like any other
message.
"""

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from tenacity import wait_exponential

from mnemo.bus.appends import still_to_come
from mnemo.bus.dead_letters import dead_letter_headers, parse
from mnemo.bus.failures import is_dependency_failure
from mnemo.bus.publisher import Publisher
from mnemo.bus.startup import settled
from mnemo.contracts import Envelope, Headers, Signal, derived_id, utcnow
from mnemo.settings import JetStreamSettings
from mnemo.telemetry import (
    MessageContext,
    batch_context,
    consuming,
    consuming_batch,
    get_logger,
    message_context,
)
from mnemo.telemetry.metrics import (
    CONSUMER_PAUSES,
    HANDLING_DURATION,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_FAILED,
)
from mnemo.telemetry.scrub import describe, scrub_field

log = get_logger(__name__)


class Reject(Exception):
    """The message is malformed or can never be handled: dead-letter it without retrying."""


@dataclass(frozen=True)
class Delivery:
    """One message as a handler sees it: payload, headers and delivery facts."""

    subject: str
    data: bytes
    headers: dict[str, str]
    msg_id: str
    tenant_id: str
    correlation_id: str
    causation_id: str
    num_delivered: int
    stream_sequence: int
    stream: str = ""

    def context(self) -> MessageContext:
        """The ids its handling runs with (and its log lines carry)."""
        return MessageContext(
            correlation_id=self.correlation_id,
            message_id=self.msg_id,
            causation_id=self.causation_id,
            tenant_id=self.tenant_id,
        )

    def decode(self, type_: Any) -> Any:
        try:
            return msgspec.json.decode(self.data, type=type_)
        except msgspec.ValidationError as exc:
            name = getattr(type_, "__name__", "message")
            raise Reject(f"undecodable {name}: {_shape(exc)}") from exc


Handler = Callable[[Delivery], Awaitable[None]]
# Handles a whole fetched batch at once (one round trip instead of many); all or nothing.
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: replicas of a service share one durable, so share the work."""

    durable: str
    stream: str
    filter_subjects: list[str]
    # Failures of the message itself (not of a dependency) before it is dead-lettered.
    max_deliver: int = 5
    # None: MNEMO_CONSUMER_ACK_WAIT and MNEMO_CONSUMER_MAX_ACK_PENDING (JetStreamSettings).
    ack_wait: float | None = None
    max_ack_pending: int | None = None
    batch: int = 64
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # Longest pause between tries while a dependency is away.
    pause_max: float = 15.0
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    # A background phase (a model reading memories long after the request): its spans
    # start traces of their own, linked to the message's, instead of lengthening it.
    linked: bool = False
    # Hand the batch handler each append to the log whole (mnemo.bus.appends): a batch
    # that ends inside one fetches on, a while, until it holds the rest.
    whole_appends: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Consumer:
    """Runs `handler` over a durable pull consumer until stopped."""

    def __init__(
        self,
        publisher: Publisher,
        spec: ConsumerSpec,
        handler: Handler,
        batch_handler: BatchHandler | None = None,
        settings: JetStreamSettings | None = None,
    ) -> None:
        settings = settings or JetStreamSettings()
        self._publisher = publisher
        self._spec = spec
        self._ack_wait = spec.ack_wait or settings.consumer_ack_wait
        self._max_ack_pending = spec.max_ack_pending or settings.consumer_max_ack_pending
        self._handler = handler
        self._batch_handler = batch_handler
        self._wait = wait_exponential(
            multiplier=spec.backoff_initial, min=spec.backoff_initial, max=spec.backoff_max
        )
        self._stopping = asyncio.Event()
        self._ensured = False  # the durable made (or updated) by this object already
        self._topology = publisher.topology
        # Each counter's series shown from the start, at 0: an alert on its increase (a
        # first dead letter) sees none when the series appears at 1.
        for counter in (
            MESSAGES_CONSUMED,
            MESSAGES_FAILED,
            MESSAGES_DEAD_LETTERED,
            CONSUMER_PAUSES,
        ):
            counter.labels(spec.durable)
        # Failures of each message itself, by message id (bounded: oldest forgotten first).
        self._failures: OrderedDict[str, int] = OrderedDict()
        self._pauses = 0  # consecutive dependency failures
        self.handled = 0
        self.paused = 0  # how often a dependency failure paused this consumer
        self.dead_lettered = 0

    async def ensure(self) -> None:
        """Create the durable consumer, or update an existing one to this config (JetStream
        updates ack wait and max ack pending in place; replicas follow the stream's)."""
        spec = self._spec
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=spec.deliver_policy,
            ack_wait=self._ack_wait,
            # Unlimited: an outage must not use deliveries up; failures are counted here.
            max_deliver=-1,
            filter_subjects=spec.filter_subjects,
            max_ack_pending=self._max_ack_pending,
            **spec.extra,
        )
        await self._publisher.js.add_consumer(spec.stream, config)
        self._ensured = True

    @property
    def durable(self) -> str:
        return self._spec.durable

    async def lag(self) -> tuple[int, int]:
        """(messages not yet delivered, delivered and not yet acknowledged) of the durable."""
        info = await self._publisher.js.consumer_info(self._spec.stream, self._spec.durable)
        return int(info.num_pending or 0), int(info.num_ack_pending or 0)

    async def pending(self) -> int:
        """Messages of the durable not yet handled: waiting, or delivered and not acked."""
        waiting, unacked = await self.lag()
        return waiting + unacked

    async def ensure_replays(self) -> None:
        spec = self._spec
        config = ConsumerConfig(
            durable_name=f"{spec.durable}-replay",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            filter_subject=self._topology.dlq_replay_subject(spec.durable),
            max_ack_pending=100,
        )
        await self._publisher.js.add_consumer(self._topology.dlq_stream, config)

    async def run(self) -> None:
        # JetStream slow to answer (a cluster electing, a loaded node) is waited for: a
        # consumer task that ended here would stop its service.
        main, replays = await settled(self._bind, f"consumer {self._spec.durable}")
        log.info("consumer_started", durable=self._spec.durable, stream=self._spec.stream)
        try:
            await asyncio.gather(
                self._consume(main, self._spec.batch, batched=True),
                self._consume(replays, 16, batched=False),
            )
        finally:
            for sub in (main, replays):
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _bind(self) -> tuple[Any, Any]:
        if not self._ensured:  # the host made it before it said it was ready
            await self.ensure()
        await self.ensure_replays()
        js = self._publisher.js
        main = await js.pull_subscribe_bind(durable=self._spec.durable, stream=self._spec.stream)
        try:
            replays = await js.pull_subscribe_bind(
                durable=f"{self._spec.durable}-replay", stream=self._topology.dlq_stream
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await main.unsubscribe()
            raise
        return main, replays

    async def _consume(self, sub: Any, batch: int, *, batched: bool) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:  # connection gone: wait for the reconnect
                log.warning("consumer_fetch_failed", error=exc)
                await asyncio.sleep(0.5)
                continue
            alive = asyncio.create_task(self._keep_alive(msgs))
            try:
                if batched and self._spec.whole_appends:
                    await self._fetch_rest(sub, msgs)
                await self._settle(msgs, batched=batched)
            except asyncio.CancelledError:
                # The service stops mid-batch: what it had not settled goes back at once, to
                # another replica or the next start, rather than after ack_wait. (A message
                # whose handler was cut short is done again: handlers are idempotent.)
                await _give_back(msgs)
                raise
            finally:
                alive.cancel()

    async def _fetch_rest(self, sub: Any, msgs: list[Msg]) -> None:
        """Fetch into `msgs` until its last message ends its append (as this consumer sees
        it). What does not come (the relay not yet there, a message gone from the stream)
        is not waited for long: the batch is then handled as it is."""
        for _ in range(_REST_FETCHES):
            if not msgs:  # a fetch may come back empty-handed
                return
            rest = still_to_come(
                (msgs[-1].headers or {}).get(Headers.APPEND_REST), self._spec.filter_subjects
            )
            if rest == 0 or self._stopping.is_set():
                return
            try:
                msgs += await sub.fetch(min(rest, self._max_ack_pending), timeout=_REST_WAIT)
            except (NatsTimeoutError, TimeoutError):
                return
            except Exception as exc:  # connection gone: handle what is here
                log.warning("consumer_fetch_failed", error=exc)
                return

    async def _keep_alive(self, msgs: list[Msg]) -> None:
        """While a batch is worked on, tell JetStream every third of `ack_wait` that each
        of its unsettled messages is in progress: a slow handler (a model call takes tens
        of seconds) or a long batch must not see its later messages redelivered, and done
        twice, while they are still waiting their turn here."""
        every = max(self._ack_wait / 3, 0.1)
        while True:
            await asyncio.sleep(every)
            for msg in msgs:
                if not msg.is_acked:
                    with contextlib.suppress(Exception):
                        await msg.in_progress()

    async def _settle(self, msgs: list[Msg], *, batched: bool) -> None:
        in_batch = batched and self._batch_handler is not None and len(msgs) > 1
        if in_batch and await self._handle_batch(msgs):
            return
        for index, msg in enumerate(msgs):
            try:
                outcome = await self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Ack/nak/dead-letter failed (NATS away): the message will be
                # redelivered after ack_wait; keep consuming the rest.
                log.warning("message_settle_failed", error=exc, subject=msg.subject)
                continue
            if outcome == _PAUSE:
                await self._pause(msgs[index + 1 :])
                break

    def stop(self) -> None:
        self._stopping.set()

    async def _handle_batch(self, msgs: list[Msg]) -> bool:
        """Handle and ack the batch in one go; False means: do them one by one instead."""
        assert self._batch_handler is not None
        deliveries = [_delivery(m) for m in msgs]
        durable = self._spec.durable
        with (
            batch_context([d.context() for d in deliveries], consumer=durable),
            consuming_batch(
                f"consume {self._spec.durable}",
                [(d.msg_id, d.headers) for d in deliveries],
                linked=self._spec.linked,
                attributes={"messaging.consumer.group.name": self._spec.durable},
            ),
        ):
            try:
                with HANDLING_DURATION.labels(durable).time():
                    await self._batch_handler(deliveries)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # One bad message must not hold back the rest: retry them singly, where
                # each failure gets its own backoff and dead letter.
                log.warning("batch_failed_retrying_singly", error=exc, size=len(msgs))
                return False
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.ack()
        self.handled += len(msgs)
        MESSAGES_CONSUMED.labels(durable).inc(len(msgs))
        return True

    async def _handle(self, msg: Msg) -> str:
        delivery = _delivery(msg)
        with (
            message_context(delivery.context(), consumer=self._spec.durable),
            consuming(
                f"consume {self._spec.durable}",
                delivery.headers,
                linked=self._spec.linked,
                attributes={
                    "messaging.consumer.group.name": self._spec.durable,
                    "messaging.destination.name": delivery.subject,
                    "messaging.message.id": delivery.msg_id,
                },
            ),
        ):
            try:
                with HANDLING_DURATION.labels(self._spec.durable).time():
                    await self._handler(delivery)
            except Reject as exc:
                log.error("message_rejected", error=exc, subject=delivery.subject)
                await self._dead_letter(msg, delivery, f"rejected: {exc}")
                return _DONE
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_dependency_failure(exc):
                    # Not the message's fault: it goes back, uncounted, and we pause.
                    self._pauses += 1
                    CONSUMER_PAUSES.labels(self._spec.durable).inc()
                    log.warning("dependency_unavailable", error=exc, pauses=self._pauses)
                    await msg.nak(delay=self._pause_delay())
                    return _PAUSE
                await self._retry_or_dead_letter(msg, delivery, exc)
                return _DONE
            self._pauses = 0
            self._failures.pop(delivery.msg_id, None)
            await msg.ack()
            self.handled += 1
            MESSAGES_CONSUMED.labels(self._spec.durable).inc()
            return _DONE

    def _pause_delay(self) -> float:
        return min(
            self._spec.backoff_initial * 2 ** min(self._pauses - 1, 16), self._spec.pause_max
        )

    async def _pause(self, rest: list[Msg]) -> None:
        """Put the rest of the batch back (uncounted) and wait before fetching again."""
        delay = self._pause_delay()
        for msg in rest:
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)
        self.paused += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _retry_or_dead_letter(self, msg: Msg, delivery: Delivery, exc: Exception) -> None:
        MESSAGES_FAILED.labels(self._spec.durable).inc()
        failures = self._failures.pop(delivery.msg_id, 0) + 1
        if failures >= self._spec.max_deliver:
            log.error("message_failed_finally", error=exc, failures=failures)
            await self._dead_letter(msg, delivery, f"failed {failures} times: {_reason(exc)}")
            return
        self._failures[delivery.msg_id] = failures
        while len(self._failures) > _REMEMBERED:
            self._failures.popitem(last=False)
        delay = self._wait(_RetryState(failures))  # type: ignore[arg-type]
        log.warning("message_failed_will_retry", error=exc, failures=failures, delay=delay)
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, delivery: Delivery, reason: str) -> None:
        durable = self._spec.durable
        # The reason is shown by `mnemo admin dead-letters list` and kept in the audit: it
        # names no value (`_reason`, `_shape`), and a key in it still goes, as in a log line.
        reason = scrub_field("reason", reason)
        # The whole message first: once it is in the DLQ stream nothing can be lost.
        await self._publisher.js.publish(
            self._topology.dlq_dead_subject(durable),
            delivery.data,
            stream=self._topology.dlq_stream,
            headers=dead_letter_headers(
                delivery.headers,
                consumer=durable,
                subject=delivery.subject,
                stream=delivery.stream,
                stream_sequence=delivery.stream_sequence,
                reason=reason,
                deliveries=delivery.num_delivered,
                source=f"{msg.metadata.stream}:{msg.metadata.sequence.stream}",
            ),
        )
        signal = Signal(
            signal_id=derived_id(delivery.msg_id, "dead_letter", durable, reason),
            signal_type="message.dead_lettered",
            tenant_id=delivery.tenant_id or "_unknown",
            service=self._publisher.service,
            occurred_at=utcnow(),
            correlation_id=delivery.correlation_id,
            causation_id=delivery.msg_id,
            data={
                "consumer": durable,
                "subject": delivery.subject,
                "stream_sequence": delivery.stream_sequence,
                "deliveries": delivery.num_delivered,
                "reason": reason[:2000],
            },
        )
        # Term only after the dead letter is stored, so a failure here means redelivery.
        await self._publisher.publish_signal(signal)
        await msg.term()
        self.dead_lettered += 1
        MESSAGES_DEAD_LETTERED.labels(durable).inc()


_DONE, _PAUSE = "done", "pause"
# Fetches (each waiting up to _REST_WAIT seconds) for the rest of a batch's last append.
_REST_FETCHES, _REST_WAIT = 8, 1.0
_REMEMBERED = 10_000


def _shape(exc: msgspec.ValidationError) -> str:
    """What is wrong with a message's shape, and where, in the contract's words only. A
    dead letter's reason is kept in the audit and shown by `mnemo admin dead-letters`;
    msgspec quotes a wrong value (`Invalid value '…'`, an enum's) or an unknown field's
    name, which are the sender's and may be what a user said."""
    what, _, where = str(exc).partition(" - at ")
    if not what.startswith(("Object missing required field", "Expected ")):
        what = "not the contract's shape"
    return f"{what} - at {where}" if where else what


def _reason(exc: BaseException) -> str:
    """What a dead letter says of its failure, as a log line describes an exception: its
    class, its safe codes (SQLSTATE, errno, HTTP status) and where it was raised, never
    its message. A dead letter's reason is shown by `mnemo admin dead-letters list` and
    kept in the audit, and a message quotes the value that failed (`Invalid isoformat
    string: '…'`, a row's values, a server's reply echoing a memory): what a user said."""
    described = describe(exc)
    codes = [f"{name}={described[name]}" for name in _REASON_CODES if name in described]
    frames = described["frames"]
    if frames:
        last = frames[-1]
        codes.append(f"at {PurePath(last['file']).name}:{last['line']} in {last['function']}")
    return " ".join([described["type"], *codes])


_REASON_CODES = ("sqlstate", "errno", "status", "status_code")


class _RetryState:
    """The slice of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


async def _give_back(msgs: list[Msg]) -> None:
    """Nak each message not yet settled (best effort: NATS may be gone as well)."""
    for msg in msgs:
        if not msg.is_acked:
            with contextlib.suppress(Exception):
                await msg.nak()


def _delivery(msg: Msg) -> Delivery:
    headers = dict(msg.headers or {})
    meta = msg.metadata
    if Headers.DEAD_SUBJECT in headers:
        # A replayed dead letter: the message as it first arrived.
        letter = parse(meta.sequence.stream, headers, msg.data)
        headers, subject, stream = letter.headers, letter.subject, letter.stream
        sequence, delivered = letter.stream_sequence, meta.num_delivered
    else:
        subject, stream = msg.subject, meta.stream
        sequence, delivered = meta.sequence.stream, meta.num_delivered
    msg_id = headers.get(Headers.MSG_ID) or f"seq:{sequence}"
    return Delivery(
        subject=subject,
        data=msg.data,
        headers=headers,
        msg_id=msg_id,
        tenant_id=headers.get(Headers.TENANT, ""),
        correlation_id=headers.get(Headers.CORRELATION) or msg_id,
        causation_id=headers.get(Headers.CAUSATION) or msg_id,
        num_delivered=delivered,
        stream_sequence=sequence,
        stream=stream,
    )


def envelope_context(envelope: Envelope) -> AbstractContextManager[MessageContext]:
    """Log lines about one event of a batch carry its ids (the batch's are bound already)."""
    return message_context(
        MessageContext(
            correlation_id=envelope.correlation_id,
            message_id=envelope.event_id,
            causation_id=envelope.causation_id,
            tenant_id=envelope.tenant_id,
        )
    )
