"""Durable pull consumers: handle, ack after commit, nak with bounded backoff, dead-letter.

A handler raises `Reject` for a message that can never succeed (dead-lettered at once);
any other exception is transient: the message is nak'ed with an exponential delay and
redelivered, up to `max_deliver` times, then terminated and dead-lettered visibly.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from tenacity import wait_exponential

from mnemo.bus.publisher import Publisher
from mnemo.contracts import Headers, Signal, derived_id, utcnow
from mnemo.telemetry import MessageContext, extract_trace, get_logger, message_context, tracer

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

    def decode(self, type_: Any) -> Any:
        try:
            return msgspec.json.decode(self.data, type=type_)
        except msgspec.ValidationError as exc:
            raise Reject(f"undecodable {type_}: {exc}") from exc


Handler = Callable[[Delivery], Awaitable[None]]
# Handles a whole fetched batch at once (one round trip instead of many); all or nothing.
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: replicas of a service share one durable, so share the work."""

    durable: str
    stream: str
    filter_subjects: list[str]
    max_deliver: int = 5
    ack_wait: float = 30.0
    batch: int = 64
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    extra: dict[str, Any] = field(default_factory=dict)


class Consumer:
    """Runs `handler` over a durable pull consumer until stopped."""

    def __init__(
        self,
        publisher: Publisher,
        spec: ConsumerSpec,
        handler: Handler,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self._publisher = publisher
        self._spec = spec
        self._handler = handler
        self._batch_handler = batch_handler
        self._wait = wait_exponential(
            multiplier=spec.backoff_initial, min=spec.backoff_initial, max=spec.backoff_max
        )
        self._stopping = asyncio.Event()
        self.handled = 0

    async def ensure(self) -> None:
        """Create the durable consumer if it does not exist yet."""
        spec = self._spec
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=spec.deliver_policy,
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver,
            filter_subjects=spec.filter_subjects,
            max_ack_pending=1000,
            **spec.extra,
        )
        await self._publisher.js.add_consumer(spec.stream, config)

    async def run(self) -> None:
        await self.ensure()
        sub = await self._publisher.js.pull_subscribe_bind(
            durable=self._spec.durable, stream=self._spec.stream
        )
        log.info("consumer_started", durable=self._spec.durable, stream=self._spec.stream)
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await sub.fetch(self._spec.batch, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # connection gone: wait for the reconnect
                    log.warning("consumer_fetch_failed", error=exc)
                    await asyncio.sleep(0.5)
                    continue
                batched = self._batch_handler is not None and len(msgs) > 1
                if batched and await self._handle_batch(msgs):
                    continue
                for msg in msgs:
                    try:
                        await self._handle(msg)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        # Ack/nak/dead-letter failed (NATS away): the message will be
                        # redelivered after ack_wait; keep consuming the rest.
                        log.warning("message_settle_failed", error=exc, subject=msg.subject)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def stop(self) -> None:
        self._stopping.set()

    async def _handle_batch(self, msgs: list[Msg]) -> bool:
        """Handle and ack the batch in one go; False means: do them one by one instead."""
        assert self._batch_handler is not None
        deliveries = [_delivery(m) for m in msgs]
        with tracer().start_as_current_span(
            f"consume-batch {self._spec.durable}",
            kind=trace.SpanKind.CONSUMER,
            links=[
                trace.Link(trace.get_current_span(extract_trace(d.headers)).get_span_context())
                for d in deliveries
            ],
            attributes={"messaging.batch.message_count": len(msgs)},
        ):
            try:
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
        return True

    async def _handle(self, msg: Msg) -> None:
        delivery = _delivery(msg)
        ctx = MessageContext(
            correlation_id=delivery.correlation_id,
            message_id=delivery.msg_id,
            tenant_id=delivery.tenant_id,
        )
        span_name = f"consume {self._spec.durable}"
        with (
            message_context(ctx, consumer=self._spec.durable),
            tracer().start_as_current_span(
                span_name,
                context=extract_trace(delivery.headers),
                kind=trace.SpanKind.CONSUMER,
                attributes={"messaging.destination": delivery.subject},
            ),
        ):
            try:
                await self._handler(delivery)
            except Reject as exc:
                log.error("message_rejected", error=exc, subject=delivery.subject)
                await self._dead_letter(msg, delivery, f"rejected: {exc}")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._retry_or_dead_letter(msg, delivery, exc)
                return
            await msg.ack()
            self.handled += 1

    async def _retry_or_dead_letter(self, msg: Msg, delivery: Delivery, exc: Exception) -> None:
        if delivery.num_delivered >= self._spec.max_deliver:
            log.error("message_failed_finally", error=exc, deliveries=delivery.num_delivered)
            await self._dead_letter(
                msg, delivery, f"failed {delivery.num_delivered} times: {exc!r}"
            )
            return
        delay = self._wait(_RetryState(delivery.num_delivered))  # type: ignore[arg-type]
        log.warning(
            "message_failed_will_retry",
            error=exc,
            deliveries=delivery.num_delivered,
            delay=delay,
        )
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, delivery: Delivery, reason: str) -> None:
        signal = Signal(
            signal_id=derived_id(delivery.msg_id, "dead_letter", self._spec.durable),
            signal_type="message.dead_lettered",
            tenant_id=delivery.tenant_id or "_unknown",
            service=self._publisher.service,
            occurred_at=utcnow(),
            correlation_id=delivery.correlation_id,
            causation_id=delivery.msg_id,
            data={
                "consumer": self._spec.durable,
                "subject": delivery.subject,
                "stream_sequence": delivery.stream_sequence,
                "deliveries": delivery.num_delivered,
                "reason": reason[:2000],
            },
        )
        # Term only after the dead letter is stored, so a failure here means redelivery.
        await self._publisher.publish_signal(signal)
        await msg.term()


class _RetryState:
    """The slice of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


def _delivery(msg: Msg) -> Delivery:
    headers = dict(msg.headers or {})
    meta = msg.metadata
    msg_id = headers.get(Headers.MSG_ID) or f"seq:{meta.sequence.stream}"
    return Delivery(
        subject=msg.subject,
        data=msg.data,
        headers=headers,
        msg_id=msg_id,
        tenant_id=headers.get(Headers.TENANT, ""),
        correlation_id=headers.get(Headers.CORRELATION) or msg_id,
        causation_id=headers.get(Headers.CAUSATION) or msg_id,
        num_delivered=meta.num_delivered,
        stream_sequence=meta.sequence.stream,
    )
