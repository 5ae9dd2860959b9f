"""The bus over real NATS JetStream: dedupe, redelivery, backoff, dead letters, traces, queries."""

import asyncio
import contextlib
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec
import pytest
from opentelemetry import trace

from mnemo.bus import Consumer, ConsumerSpec, Delivery, QueryFailed, Reject, ask, serve
from mnemo.bus.publisher import PublishError
from mnemo.contracts import (
    Headers,
    IngestMemory,
    QueryError,
    SearchQuery,
    SearchResult,
    Signal,
    new_id,
    utcnow,
)
from mnemo.eventlog import EventStore
from mnemo.telemetry import tracer

from .dying_consumer import event_for
from .helpers import stream_messages


def command(tenant: str = "acme", command_id: str | None = None) -> IngestMemory:
    return IngestMemory(
        command_id=command_id or new_id(),
        tenant_id=tenant,
        issued_at=utcnow(),
        actor="test",
        memory_id=new_id(),
        user_id="u1",
        content="hello",
    )


async def publish(publisher, cmd: IngestMemory, correlation: str = "corr") -> None:
    await publisher.publish_command(cmd, correlation_id=correlation, causation_id="req-1")


def spec(topology, durable: str, **kw) -> ConsumerSpec:
    return ConsumerSpec(
        durable=durable, stream=topology.cmd_stream, filter_subjects=[topology.cmd_all], **kw
    )


async def run_until(consumer: Consumer, condition, timeout: float = 20.0) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, "condition not met in time"
            assert not task.done(), f"consumer stopped: {task.exception()!r}"
            await asyncio.sleep(0.05)
    finally:
        consumer.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_command_published_twice_is_stored_once(publisher, topology):
    cmd = command()
    await publish(publisher, cmd)
    await publish(publisher, cmd)
    info = await publisher.js.stream_info(topology.cmd_stream)
    assert info.state.messages == 1


async def test_headers_carry_correlation_causation_tenant_and_trace(publisher, topology):
    cmd = command(tenant="hdr")
    with tracer().start_as_current_span("test-publish"):
        await publish(publisher, cmd, correlation="corr-hdr")
    [msg] = await stream_messages(publisher.js, topology.cmd_stream, topology.cmd_all, expect=1)
    assert msg.headers[Headers.MSG_ID] == cmd.command_id
    assert msg.headers[Headers.CORRELATION] == "corr-hdr"
    assert msg.headers[Headers.CAUSATION] == "req-1"
    assert msg.headers[Headers.TENANT] == "hdr"
    assert msg.headers[Headers.TRACEPARENT].startswith("00-")


async def test_a_consumer_that_dies_before_ack_is_redelivered_and_processed_once(
    publisher, topology, nats_url, log_pool, fresh_database
):
    cmd = command()
    await publish(publisher, cmd)
    dying = subprocess.run(  # noqa: ASYNC221 - the test waits for the process on purpose
        [
            sys.executable,
            str(Path(__file__).with_name("dying_consumer.py")),
            nats_url,
            fresh_database,
            topology.root,
            "work",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dying.returncode == 17, dying.stderr
    store = EventStore(log_pool)
    deliveries: list[int] = []

    async def handle(delivery: Delivery) -> None:
        deliveries.append(delivery.num_delivered)
        await store.append(f"s-{delivery.msg_id}", [event_for(delivery)])

    consumer = Consumer(publisher, spec(topology, "work", ack_wait=2.0), handle)
    await run_until(consumer, lambda: consumer.handled == 1)
    assert deliveries == [2]
    assert len(await store.read_stream(f"s-{cmd.command_id}")) == 1


async def test_failures_of_the_message_back_off_then_dead_letter(publisher, topology):
    cmd = command(tenant="dl")
    await publish(publisher, cmd, correlation="corr-dl")
    attempts: list[int] = []
    # An exception's message may quote the value that failed: the reason names the
    # exception's class and where it was raised, never what it says.
    key = "mk_" + uuid.uuid4().hex

    async def always_fails(delivery: Delivery) -> None:
        attempts.append(delivery.num_delivered)
        raise ValueError(f"the data makes no sense: {key!r}")

    consumer = Consumer(
        publisher, spec(topology, "flaky", max_deliver=3, backoff_initial=0.05), always_fails
    )
    subject = topology.ops_subject("dl", "message.dead_lettered")
    await run_until(consumer, lambda: consumer.dead_lettered == 1)
    [msg] = await stream_messages(publisher.js, topology.ops_stream, subject, expect=1)
    signal = msgspec.json.decode(msg.data, type=Signal)
    assert attempts == [1, 2, 3]
    assert signal.causation_id == cmd.command_id
    assert signal.correlation_id == "corr-dl"
    assert signal.data["deliveries"] == 3
    assert signal.data["reason"].startswith("failed 3 times: ValueError at ")
    assert "always_fails" in signal.data["reason"]
    assert key not in signal.data["reason"] and "makes no sense" not in signal.data["reason"]
    [letter] = await stream_messages(publisher.js, topology.dlq_stream, topology.dlq_all, expect=1)
    assert key not in str(letter.headers)


async def test_a_rejected_message_is_dead_lettered_without_retry(publisher, topology):
    await publish(publisher, command(tenant="rj"))
    calls: list[int] = []

    async def rejects(delivery: Delivery) -> None:
        calls.append(delivery.num_delivered)
        raise Reject("cannot ever work")

    consumer = Consumer(publisher, spec(topology, "rejecting"), rejects)
    subject = topology.ops_subject("rj", "message.dead_lettered")
    await run_until(consumer, lambda: consumer.dead_lettered == 1)
    [msg] = await stream_messages(publisher.js, topology.ops_stream, subject, expect=1)
    assert "rejected: cannot ever work" in msgspec.json.decode(msg.data, type=Signal).data["reason"]
    await asyncio.sleep(0.5)
    assert calls == [1]


async def test_the_consumer_span_continues_the_publishers_trace(publisher, topology):
    with tracer().start_as_current_span("producer") as span:
        sent_trace = span.get_span_context().trace_id
        await publish(publisher, command(tenant="tr"))
    seen: list[int] = []

    async def handle(delivery: Delivery) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    consumer = Consumer(publisher, spec(topology, "traced"), handle)
    await run_until(consumer, lambda: bool(seen))
    assert seen == [sent_trace]


async def test_request_reply_query_service(nc, topology):
    async def search(query: SearchQuery) -> SearchResult | QueryError:
        if query.limit > 50:
            return QueryError(code="invalid", message="limit too high", field="limit")
        return SearchResult(results=[])

    svc = await serve(nc, topology, "retrieval", {"search": (SearchQuery, search)})
    subject = topology.svc_subject("retrieval", "search")
    try:
        ok = await ask(
            nc, subject, SearchQuery(tenant_id="t", user_id="u", query="q"), SearchResult
        )
        assert ok.results == []
        try:
            await ask(
                nc,
                subject,
                SearchQuery(tenant_id="t", user_id="u", query="q", limit=99),
                SearchResult,
            )
            raise AssertionError("expected QueryFailed")
        except QueryFailed as exc:
            assert exc.error.field == "limit"
    finally:
        await svc.stop()
    try:
        await ask(
            nc, subject, SearchQuery(tenant_id="t", user_id="u", query="q"), SearchResult, timeout=1
        )
        raise AssertionError("expected QueryFailed")
    except QueryFailed as exc:
        assert exc.error.code in {"unavailable", "timeout"}


async def test_a_batch_of_commands_is_stored_whole_or_not_at_all(publisher, topology):
    """A request's commands are one atomic batch: a publish cut off half-way (NATS killed,
    the connection lost) stores none of them, so the client's retry after its 503 stores
    each once (pipelined, the first ones were stored and then stored again); a retry of a
    batch stored whole (the same command ids) is answered as stored, and stores nothing."""
    js = publisher.js
    batch = [command() for _ in range(3)]
    real = publisher.nc.publish
    sent = 0

    async def cut_off(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        if sent == 2:
            raise ConnectionResetError("the connection was lost")
        await real(*args, **kwargs)

    publisher.nc.publish = cut_off  # type: ignore[method-assign]
    try:
        with pytest.raises(PublishError):
            await publisher.publish_commands(batch, correlation_id="c", causation_id="c")
    finally:
        publisher.nc.publish = real  # type: ignore[method-assign]
    assert (await js.stream_info(topology.cmd_stream)).state.messages == 0
    await publisher.publish_commands(batch, correlation_id="c", causation_id="c")
    await publisher.publish_commands(batch, correlation_id="c", causation_id="c")
    assert (await js.stream_info(topology.cmd_stream)).state.messages == 3
    # A retry holding the stored ones and one more (the server refuses such a batch whole):
    # the new one is stored, the others are not stored again.
    more = [*batch, command()]
    await publisher.publish_commands(more, correlation_id="c", causation_id="c")
    assert (await js.stream_info(topology.cmd_stream)).state.messages == 4
