"""Publishing commands, events and signals with the headers every message carries."""

import asyncio
import json
from collections.abc import Sequence

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import APIError

from mnemo.bus.appends import rests
from mnemo.contracts import Command, Envelope, Headers, Signal, Topology, new_id, subject_tag
from mnemo.telemetry import current_context, traceparent_for

_encoder = msgspec.json.Encoder()


class PublishError(Exception):
    """JetStream did not acknowledge a publish in time: nothing may be assumed stored."""


class StreamFull(PublishError):
    """JetStream refused to store a message: its stream (or the server's or the account's
    storage) is at its limit. Nothing was stored; a retry fails until there is room."""


# JetStream's refusals to store: resource limits of the account (10002) or of the server
# (10047), and the stream's own store failing (10077: maximum bytes or messages exceeded).
_STORE_REFUSED = frozenset({10002, 10047, 10077})
# Atomic batch publish (ADR-50): its headers, and the refusal of a batch holding an id
# stored before (within the duplicate window).
_BATCH_ID = "Nats-Batch-Id"
_BATCH_SEQUENCE = "Nats-Batch-Sequence"
_BATCH_COMMIT = "Nats-Batch-Commit"
_BATCH_DUPLICATE = 10201
# Refused as incomplete: among others, the server's open batches per stream (50) taken.
_BATCH_INCOMPLETE = 10176
_BATCH_ATTEMPTS = 4
_OPEN_BATCHES = 16


def refusal(error: APIError) -> PublishError:
    """The PublishError for a publish JetStream answered with `error`."""
    reason = f"JetStream refused the publish: {error.description} (err_code {error.err_code})"
    if error.err_code in _STORE_REFUSED:
        return StreamFull(reason)
    return PublishError(reason)


class _JetStream(JetStreamContext):
    """nats-py's JetStreamContext, but a publish_async that JetStream refuses fails at once.

    nats-py (2.16) builds the refusal with `APIError.from_error`, which raises instead of
    returning, inside the reply callback: the future is never settled and the publisher
    waited its whole ack timeout, then reported a time-out for what was a clear "no"
    (a full stream). Here the refusal settles the future with the error."""

    async def _handle_async_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._nc._inbox_prefix) + 22 + 2 :]
        future = self._publish_async_futures.get(token)
        if future is None or future.done() or not msg.data:
            await super()._handle_async_reply(msg)
            return
        try:
            answer = json.loads(msg.data)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            error = answer["error"]
            future.set_exception(
                refusal(
                    APIError(
                        code=error.get("code"),
                        err_code=error.get("err_code"),
                        description=error.get("description"),
                    )
                )
            )
            return
        await super()._handle_async_reply(msg)


# Events that carry one memory's words, tagged with it (`Mnemo-Memory`) so that deleting
# the memory erases them from the bus: its recording, and what synthesis drew from it (a
# fact's statement, an entity's name; `memory_id` is the memory they were drawn from). Not
# a fact stated through the API (extractor "api"): its words are the caller's, its
# `memory_id` the memory of the fact it replaced, and it stands when that memory goes.
MEMORY_WORDS = frozenset({"memory.recorded", "fact.extracted", "entity.extracted"})
DERIVED_WORDS = MEMORY_WORDS - {"memory.recorded"}


def message_headers(
    *,
    msg_id: str,
    tenant: str,
    correlation_id: str,
    causation_id: str,
    msg_type: str,
    service: str,
    traceparent: str | None = None,
    user_id: object = None,
    memory_id: object = None,
) -> dict[str, str]:
    """Every message's headers; one about a user (`user_id`) is tagged with its subject,
    one carrying a memory's words with the memory (`memory_id`).

    `traceparent`: the one a stored event carries; else the span of the message that caused
    this one (`causation_id`), or the current span, continues into it."""
    headers = {
        Headers.MSG_ID: msg_id,
        Headers.TENANT: tenant,
        Headers.CORRELATION: correlation_id,
        Headers.CAUSATION: causation_id,
        Headers.TYPE: msg_type,
        Headers.SERVICE: service,
    }
    if isinstance(user_id, str) and user_id:
        headers[Headers.SUBJECT] = subject_tag(tenant, user_id)
    if isinstance(memory_id, str) and memory_id:
        headers[Headers.MEMORY] = memory_id
    traceparent = traceparent or traceparent_for(causation_id)
    if traceparent:
        headers[Headers.TRACEPARENT] = traceparent
    return headers


class Publisher:
    """Publishes to one topology's streams on behalf of `service`."""

    def __init__(
        self, nc: Client, topology: Topology, service: str, *, ack_timeout: float = 5.0
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = _JetStream(nc, timeout=ack_timeout)
        self.topology = topology
        self.service = service
        self._ack_timeout = ack_timeout
        # Atomic batches this process has open at once (the server bounds them per stream).
        self._open_batches = asyncio.Semaphore(_OPEN_BATCHES)

    async def publish_command(
        self, command: Command, *, correlation_id: str, causation_id: str
    ) -> None:
        """Publish a command; returns once JetStream has stored it (deduplicated by id)."""
        await self.publish_commands(
            [command], correlation_id=correlation_id, causation_id=causation_id
        )

    async def publish_commands(
        self, commands: Sequence[Command], *, correlation_id: str, causation_id: str
    ) -> None:
        """Publish commands pipelined; returns once JetStream has stored every one."""
        batch = []
        for command in commands:
            name = type(command).__struct_config__.tag
            assert isinstance(name, str)
            headers = message_headers(
                msg_id=command.command_id,
                tenant=command.tenant_id,
                correlation_id=correlation_id,
                causation_id=causation_id,
                msg_type=name,
                service=self.service,
                user_id=getattr(command, "user_id", None),
                memory_id=getattr(command, "memory_id", None) if name == "ingest.memory" else None,
            )
            subject = self.topology.cmd_subject(name, command.tenant_id)
            batch.append((subject, _encoder.encode(command), headers))
        if len(batch) > 1:
            await self._publish_atomic(batch)
        else:
            await self._publish_all(batch)

    async def _publish_atomic(self, batch: list[tuple[str, bytes, dict[str, str]]]) -> None:
        """Publish a request's commands as one atomic batch (ADR-50): JetStream stores all
        of them or none, so a 503 (a lost connection, NATS killed half-way) never leaves
        part of a batch stored, to be stored again by the client's retry. A batch holding an
        id stored before (a retry, its ids fixed by an Idempotency-Key, maybe with more
        items) is refused whole by the server: it is then published message by message,
        each deduplicated by its id, so what was stored is not stored again and the rest is.
        The server takes a bounded number of open batches per stream: this process opens
        at most `_OPEN_BATCHES` at once, and one refused for that is tried again."""
        for attempt in range(_BATCH_ATTEMPTS):
            async with self._open_batches:
                refused = await self._atomic_once(batch)
            if refused is None:
                return
            if refused.err_code == _BATCH_DUPLICATE:
                await self._publish_all(batch)
                return
            if refused.err_code != _BATCH_INCOMPLETE or attempt == _BATCH_ATTEMPTS - 1:
                raise refusal(refused)
            await asyncio.sleep(0.05 * 2**attempt)

    async def _atomic_once(self, batch: list[tuple[str, bytes, dict[str, str]]]) -> APIError | None:
        """One try of the atomic batch: None once stored, else the server's refusal."""
        if not self.nc.is_connected:
            raise PublishError("the message bus is not connected; nothing was sent")
        batch_id = new_id()
        last = len(batch)
        try:
            for sequence, (subject, payload, headers) in enumerate(batch, 1):
                marked = {
                    **headers,
                    _BATCH_ID: batch_id,
                    _BATCH_SEQUENCE: str(sequence),
                }
                if sequence < last:
                    await self.nc.publish(subject, payload, headers=marked)
                    continue
                marked[_BATCH_COMMIT] = "1"
                reply = await self.nc.request(
                    subject, payload, headers=marked, timeout=self._ack_timeout
                )
        except TimeoutError as exc:
            raise PublishError(f"no JetStream ack within {self._ack_timeout}s") from exc
        except Exception as exc:
            # Disconnected half-way: the server drops a batch it never saw committed.
            raise PublishError(
                f"the message bus refused the publish ({type(exc).__name__})"
            ) from exc
        try:
            answer = json.loads(reply.data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise PublishError("JetStream answered the batch with no ack")
        error = answer.get("error")
        if isinstance(error, dict):
            return APIError(
                code=error.get("code"),
                err_code=error.get("err_code"),
                description=error.get("description"),
            )
        if answer.get("stream") is None or answer.get("count") != last:
            raise PublishError(f"JetStream's ack of the batch is not whole: {answer!r}")
        return None

    async def publish_events(
        self, events: Sequence[Envelope], appends: Sequence[str] | None = None
    ) -> None:
        """Publish stored events in order, each with Nats-Msg-Id = event_id (the relay's job).

        `appends`: for each event, the append to the log (transaction) it was stored by
        (an append's events adjacent); each event then says what follows it there."""
        subjects = [self.topology.evt_subject(e.tenant_id, e.event_type) for e in events]
        marks = rests(subjects, appends) if appends is not None else [None] * len(events)
        batch = []
        for event, subject, rest in zip(events, subjects, marks, strict=True):
            headers = message_headers(
                msg_id=event.event_id,
                tenant=event.tenant_id,
                correlation_id=event.correlation_id,
                causation_id=event.causation_id,
                msg_type=event.event_type,
                service=event.service,
                traceparent=event.traceparent,
                user_id=getattr(event.data, "user_id", None),
                memory_id=getattr(event.data, "memory_id", None)
                if event.event_type in MEMORY_WORDS
                and getattr(event.data, "extractor", "") != "api"
                else None,
            )
            if rest:
                headers[Headers.APPEND_REST] = rest
            batch.append((subject, _encoder.encode(event), headers))
        await self._publish_all(batch)

    async def publish_signal(self, signal: Signal) -> None:
        await self.publish_signals([signal])

    async def publish_signals(self, signals: Sequence[Signal]) -> None:
        batch = []
        for signal in signals:
            headers = message_headers(
                msg_id=signal.signal_id,
                tenant=signal.tenant_id,
                correlation_id=signal.correlation_id,
                causation_id=signal.causation_id,
                msg_type=signal.signal_type,
                service=signal.service,
                user_id=signal.data.get("user_id"),
            )
            subject = self.topology.ops_subject(signal.tenant_id, signal.signal_type)
            batch.append((subject, _encoder.encode(signal), headers))
        await self._publish_all(batch)

    async def _publish_all(self, batch: list[tuple[str, bytes, dict[str, str]]]) -> None:
        # Pipelined: all messages go out in order on one connection, then the acks are awaited.
        futures = []
        try:
            for subject, payload, headers in batch:
                # Disconnected, nats-py's publish_async would fail after taking a slot of its
                # bounded window of unacknowledged publishes, and never give the slot back:
                # after a few thousand failures (a long outage under load) every publish
                # waited for ever. So a publish is only tried while connected (nothing
                # suspends between this check and the send), and never waits for a slot
                # longer than an ack may take.
                if not self.nc.is_connected:
                    raise PublishError("the message bus is not connected; nothing was sent")
                futures.append(
                    await self.js.publish_async(
                        subject, payload, headers=headers, wait_stall=self._ack_timeout
                    )
                )
        except PublishError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:
            # Disconnected: the client buffers nothing (mnemo.bus.connection), so what was
            # not sent is not stored.
            for future in futures:
                future.cancel()
            raise PublishError(
                f"the message bus refused the publish ({type(exc).__name__})"
            ) from exc
        try:
            acks = await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout)
        except TimeoutError as exc:
            for future in futures:
                future.cancel()
            raise PublishError(f"no JetStream ack within {self._ack_timeout}s") from exc
        except PublishError:
            raise
        except APIError as exc:
            raise refusal(exc) from exc
        except Exception as exc:
            raise PublishError(f"JetStream refused a publish: {exc}") from exc
        for ack in acks:
            if getattr(ack, "stream", None) is None:
                raise PublishError(f"JetStream returned no stream in its ack: {ack!r}")


def context_ids(default_correlation: str, default_cause: str) -> tuple[str, str]:
    """(correlation_id, causation_id) from the message being handled, else the defaults."""
    ctx = current_context()
    if ctx is None:
        return default_correlation, default_cause
    return ctx.correlation_id, ctx.message_id


def request_cause() -> tuple[str, str]:
    """(causation, correlation) for what answering the current request writes: the
    request's message id and correlation id (a fresh id for both outside one)."""
    ctx = current_context()
    cause = ctx.message_id if ctx and ctx.message_id else new_id()
    return cause, ctx.correlation_id if ctx and ctx.correlation_id else cause
