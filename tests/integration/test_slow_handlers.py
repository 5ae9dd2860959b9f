"""A slow handler's message is not done twice (issue #15's local model takes tens of
seconds a call): while a batch is worked on, its messages are kept in progress, so
JetStream does not hand them to another replica once ack_wait has passed."""

import asyncio
import contextlib

from mnemo.bus import Consumer, Delivery

from .test_bus import command, publish, spec

# Long enough that a loaded machine still sends the keep-alives (every third of it) in time.
ACK_WAIT = 2.0


async def test_a_slow_message_is_not_redelivered_to_another_replica(publisher, topology):
    inside = asyncio.Event()
    slow_calls: list[str] = []
    other_calls: list[str] = []

    async def slow(delivery: Delivery) -> None:
        slow_calls.append(delivery.msg_id)
        inside.set()
        # The work itself (not a wait on the pipeline): three times ack_wait.
        await asyncio.sleep(3 * ACK_WAIT)

    async def other(delivery: Delivery) -> None:
        other_calls.append(delivery.msg_id)

    durable = spec(topology, "slow-replicas", ack_wait=ACK_WAIT, batch=1)
    first, second = Consumer(publisher, durable, slow), Consumer(publisher, durable, other)
    await publish(publisher, command())
    tasks = [asyncio.create_task(first.run())]
    try:
        await asyncio.wait_for(inside.wait(), 30)
        tasks.append(asyncio.create_task(second.run()))  # a second replica, idle and asking
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while first.handled < 1:
            assert loop.time() < deadline, "the slow handler never finished"
            await asyncio.sleep(0.05)
        assert other_calls == [], "the message was handed to another replica meanwhile"
        assert len(slow_calls) == 1
    finally:
        first.stop()
        second.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_replica_stopped_mid_batch_gives_its_messages_back_at_once(publisher, topology):
    """A replica stopped while a batch is in its hands (a service shut down, scaled in)
    gives back what it had not settled: another replica has them at once, not after
    ack_wait (here a minute, longer than the test waits)."""
    inside = asyncio.Event()
    other_calls: list[str] = []

    async def stuck(delivery: Delivery) -> None:
        inside.set()
        await asyncio.Event().wait()  # never ends: the replica is stopped in it

    async def other(delivery: Delivery) -> None:
        other_calls.append(delivery.msg_id)

    durable = spec(topology, "stopped-replicas", ack_wait=60.0, batch=10)
    first, second = Consumer(publisher, durable, stuck), Consumer(publisher, durable, other)
    sent = [command() for _ in range(3)]
    for one in sent:
        await publish(publisher, one)
    running = asyncio.create_task(first.run())
    tasks = [running]
    try:
        await asyncio.wait_for(inside.wait(), 30)
        first.stop()
        running.cancel()  # as the host stops its tasks
        with contextlib.suppress(asyncio.CancelledError):
            await running
        tasks.append(asyncio.create_task(second.run()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30  # half the ack_wait: only a message given back comes
        while len(set(other_calls)) < len(sent):
            assert loop.time() < deadline, f"given back: {len(set(other_calls))} of 3"
            await asyncio.sleep(0.05)
    finally:
        second.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
