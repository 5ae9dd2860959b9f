"""`mnemo admin dead-letters list|count|replay|drop`: what the consumers gave up on.

Talks to the DLQ stream over the bus of MNEMO_NATS_URL (else of the running `mnemo run`).
`list` shows each entry (never its content: it may be a memory), `count` the number
waiting per consumer, `replay` hands entries back to their consumer (which dead-letters
one again if it still fails), `drop` removes entries for good.
"""

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import nats
import nats.js.errors
from nats.js import JetStreamContext

from mnemo.bus.dead_letters import DeadLetter, DeadLetters
from mnemo.contracts import Topology
from mnemo.runtime.admin import bus_failure, quiet, reachable_bus
from mnemo.runtime.settings import RunSettings


def dead_letters(
    settings: RunSettings,
    action: str,
    consumer: str | None = None,
    sequences: list[int] | None = None,
    every: bool = False,
) -> int:
    url = reachable_bus(settings)
    if url is None:
        return 2
    if action in ("replay", "drop") and not sequences and not every:
        print(f"mnemo admin: say which to {action}: --seq N (repeatable) or --all", file=sys.stderr)
        return 2
    work = {"list": _list, "count": _count, "replay": _replay, "drop": _drop}[action]
    try:
        return asyncio.run(_with_bus(url, settings.bus_root, work, consumer, sequences or []))
    except BrokenPipeError:
        # The reader went (`… | head`): not the bus. Quiet, as a pipe's writer is.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, nats.errors.Error) as exc:
        print(bus_failure(url, exc), file=sys.stderr)
        return 1


Work = Callable[[DeadLetters, str | None, list[int]], Awaitable[int]]


async def _with_bus(
    url: str, root: str, work: Work, consumer: str | None, sequences: list[int]
) -> int:
    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False, error_cb=quiet)
    try:
        js, topology = nc.jetstream(timeout=10), Topology(root=root)
        store = DeadLetters(js, topology)
        if consumer is not None:
            # The durables there are, and any a dead letter still names (one since gone).
            known = await _consumers(js, topology) | set(await store.counts())
            if consumer not in known:
                # Not "0 dead letters": a misspelt name would tell there is nothing to do.
                named = ", ".join(sorted(known)) or "none yet"
                print(
                    f"mnemo admin: no consumer {consumer!r} (consumers: {named})", file=sys.stderr
                )
                return 2
        return await work(store, consumer, sequences)
    finally:
        await nc.close()


async def _consumers(js: JetStreamContext, topology: Topology) -> set[str]:
    """The durable consumers of the streams the services read."""
    found: set[str] = set()
    for stream in (topology.cmd_stream, topology.evt_stream, topology.ops_stream):
        try:
            infos = await js.consumers_info(stream)
        except nats.js.errors.NotFoundError:
            continue
        found.update(info.name for info in infos if info.config.durable_name)
    return found


def _line(letter: DeadLetter) -> str:
    return (
        f"{letter.sequence}\t{letter.consumer}\t{letter.msg_type or letter.subject}\t"
        f"tenant={letter.tenant_id}\tcorrelation={letter.correlation_id}\t"
        f"deliveries={letter.deliveries}\tat={letter.dead_at}\treason={letter.reason}"
    )


async def _list(store: DeadLetters, consumer: str | None, _: list[int]) -> int:
    found = 0
    async for letter in store.entries(consumer):
        print(_line(letter), flush=True)  # a line at a time, as a reader (`head`) takes them
        found += 1
    print(f"{found} dead letter(s)", file=sys.stderr)
    return 0


async def _count(store: DeadLetters, consumer: str | None, _: list[int]) -> int:
    counts = await store.counts()
    if consumer:
        counts = {consumer: counts.get(consumer, 0)}
    for name, number in counts.items():
        print(f"{name}\t{number}")
    print(f"total\t{sum(counts.values())}")
    return 0


async def _chosen(
    store: DeadLetters, consumer: str | None, sequences: list[int]
) -> list[DeadLetter]:
    if not sequences:
        return [letter async for letter in store.entries(consumer)]
    chosen = []
    for sequence in sequences:
        letter = await store.get(sequence)
        if letter is None:
            print(f"mnemo admin: no dead letter {sequence}", file=sys.stderr)
        elif consumer is None or letter.consumer == consumer:
            chosen.append(letter)
    return chosen


async def _replay(store: DeadLetters, consumer: str | None, sequences: list[int]) -> int:
    letters = await _chosen(store, consumer, sequences)
    for letter in letters:
        await store.replay(letter)
        print(f"replayed {letter.sequence} to {letter.consumer}")
    return 0 if letters or not sequences else 1


async def _drop(store: DeadLetters, consumer: str | None, sequences: list[int]) -> int:
    letters = await _chosen(store, consumer, sequences)
    for letter in letters:
        await store.drop(letter.sequence)
        print(f"dropped {letter.sequence} ({letter.consumer})")
    return 0 if letters or not sequences else 1
