"""Dead letters over real NATS JetStream: kept whole, counted, listed, replayed, dropped."""

import asyncio
import contextlib

from mnemo.bus import Consumer, Delivery, Reject
from mnemo.bus.dead_letters import DeadLetters

from .test_bus import command, publish, spec


async def _eventually(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(consumer: Consumer):
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        consumer.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_failing_message_is_kept_whole_and_replayed_to_its_consumer(publisher, topology):
    broken = True
    handled: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        if broken:
            raise RuntimeError("the projection is broken")
        handled.append(delivery)

    consumer = Consumer(
        publisher, spec(topology, "dl-replay", max_deliver=2, backoff_initial=0.05), handler
    )
    store = DeadLetters(publisher.js, topology)
    cmd = command(tenant="dlr")
    async with running(consumer):
        await publish(publisher, cmd, correlation="corr-dlr")

        async def dead() -> bool:
            return (await store.counts()).get("dl-replay") == 1

        await _eventually(dead)
        [letter] = [x async for x in store.entries("dl-replay")]
        assert letter.subject == topology.cmd_subject("ingest.memory", "dlr")
        assert letter.correlation_id == "corr-dlr" and letter.tenant_id == "dlr"
        assert letter.deliveries == 2 and letter.reason.startswith("failed 2 times: RuntimeError")
        # Where it was raised, never what it says (see the test below).
        assert "in handler" in letter.reason and "projection" not in letter.reason
        assert b'"command_id"' in letter.data and cmd.command_id.encode() in letter.data
        assert handled == []

        broken = False  # the cause is fixed: the operator replays
        await store.replay(letter)

        async def replayed() -> bool:
            return len(handled) == 1

        await _eventually(replayed)
        assert await store.counts() == {}
    [delivery] = handled
    assert delivery.subject == letter.subject
    assert delivery.msg_id == cmd.command_id
    assert delivery.correlation_id == "corr-dlr"


async def test_a_reason_names_the_failure_never_the_value_that_failed(publisher, topology):
    """A dead letter's reason is listed by `mnemo admin dead-letters` and kept in the
    audit: an exception's message quotes the value that failed (a timestamp's text, a
    row's values, a server's reply echoing a memory), so the reason is the exception's
    class, its safe codes and where it was raised."""
    import asyncpg

    said = "I told my therapist about the divorce"
    failures = iter(
        [
            ValueError(f"Invalid isoformat string: '{said}'"),
            asyncpg.exceptions.UniqueViolationError(f"duplicate key value: ({said})"),
        ]
    )

    async def handler(delivery: Delivery) -> None:
        raise next(failures)

    consumer = Consumer(
        publisher, spec(topology, "dl-said", max_deliver=1, backoff_initial=0.05), handler
    )
    store = DeadLetters(publisher.js, topology)
    async with running(consumer):
        await publish(publisher, command(tenant="dls"))
        await publish(publisher, command(tenant="dls"))

        async def dead() -> bool:
            return (await store.counts()).get("dl-said") == 2

        await _eventually(dead)
    reasons = sorted([x.reason async for x in store.entries("dl-said")])
    assert [r for r in reasons if "therapist" in r or "divorce" in r] == []
    assert reasons[0].startswith("failed 1 times: ValueError at ")
    assert reasons[1].startswith(
        "failed 1 times: asyncpg.exceptions.UniqueViolationError sqlstate=23505 at "
    )


async def test_a_replay_that_fails_again_is_dead_lettered_again(publisher, topology):
    async def handler(delivery: Delivery) -> None:
        raise Reject("malformed for good")

    consumer = Consumer(publisher, spec(topology, "dl-again"), handler)
    store = DeadLetters(publisher.js, topology)
    async with running(consumer):
        await publish(publisher, command(tenant="dla"))

        async def one() -> bool:
            return (await store.counts()).get("dl-again") == 1

        await _eventually(one)
        [first] = [x async for x in store.entries()]
        await store.replay(first)

        async def again() -> bool:
            letters = [x async for x in store.entries()]
            return len(letters) == 1 and letters[0].sequence != first.sequence

        await _eventually(again)
        [second] = [x async for x in store.entries()]
        assert second.data == first.data and second.subject == first.subject
        await store.drop(second.sequence)
        assert await store.counts() == {}


async def test_a_dependency_outage_never_uses_up_deliveries(publisher, topology):
    """Ten times max_deliver failures of the database: the message waits, then is handled."""
    import asyncpg

    attempts: list[int] = []
    outage = 15

    async def handler(delivery: Delivery) -> None:
        attempts.append(delivery.num_delivered)
        if len(attempts) <= outage:
            # What asyncpg raises when PostgreSQL is shut down under it.
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    consumer = Consumer(
        publisher,
        spec(topology, "dl-outage", max_deliver=2, backoff_initial=0.01, pause_max=0.05),
        handler,
    )
    store = DeadLetters(publisher.js, topology)
    async with running(consumer):
        await publish(publisher, command(tenant="dlo"))

        async def handled() -> bool:
            return consumer.handled == 1

        await _eventually(handled, timeout=60)
    assert len(attempts) == outage + 1
    assert consumer.paused >= outage
    assert await store.counts() == {}


async def test_a_connection_refused_pauses_the_batch_instead_of_failing_it(publisher, topology):
    seen: list[str] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.msg_id)
        if len(seen) <= 3:
            raise OSError(111, "Connection refused")

    consumer = Consumer(
        publisher, spec(topology, "dl-refused", max_deliver=1, backoff_initial=0.01), handler
    )
    cmds = [command(tenant="dlc") for _ in range(5)]
    async with running(consumer):
        for cmd in cmds:
            await publish(publisher, cmd)

        async def all_handled() -> bool:
            return consumer.handled == 5

        await _eventually(all_handled, timeout=60)
    assert await DeadLetters(publisher.js, topology).counts() == {}
