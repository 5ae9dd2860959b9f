"""Erasing what the bus keeps about one user, once that user is forgotten.

JetStream keeps commands 7 days and events 30, dead letters until replayed and the
gateway's kept answers a day: long after the log's keys are shredded, the streams' files
would still hold what the user said. Every message about a user carries `Mnemo-Subject`
(`subject_tag(tenant, user)`, set by the publisher), dead letters keep their message's
headers, and the gateway keys its kept answers by tenant. Erasing walks each stream's
messages of the tenant, headers only, and deletes each one of the user with the server's
secure delete: STREAM.MSG.DELETE without `no_erase` overwrites the stored bytes with
random data rather than only dropping them from the index.

The forget's own `memory.forgotten` stays: it names the user, never what was said, and
consumers that have not reached it yet still need it to drop their rows. So does whatever
came after the forget (`through`): the user's new life, memories accepted once the forget
answered, which the services have still to record and index.
"""

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from mnemo.bus.appends import matches
from mnemo.bus.kv import kv_stream
from mnemo.bus.publisher import DERIVED_WORDS
from mnemo.contracts import COMMAND_TYPES, Headers, Topology, subject_tag, tenant_tag
from mnemo.telemetry import get_logger

log = get_logger(__name__)

FORGOTTEN = "memory.forgotten"
_FETCH = 512
_DELETES_IN_FLIGHT = 64
_FETCH_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Sweep:
    """Which messages of `stream` to look at (`filters`), up to which sequence (`through`;
    None: the stream's last when the sweep starts), and which of them to erase."""

    stream: str
    filters: list[str]
    erase: Callable[[dict[str, str]], bool]
    through: int | None = None
    # When what decides is a message's own sequence too (each memory its own bound): this,
    # of the headers and the sequence, in place of `erase`.
    erase_at: Callable[[dict[str, str], int], bool] | None = None


def subject_sweeps(
    topology: Topology, tenant_id: str, user_id: str, through: Mapping[str, int] | None = None
) -> list[Sweep]:
    """Every place on the bus where a message about the user can be kept. `through`: by
    stream, the last sequence published before the forget (the command stream's head when
    it began, the forget's own event): what came later is the user's new life and stays,
    a dead letter too when the message it holds came later. A stream not named is swept
    to its last message at the start."""
    tag = subject_tag(tenant_id, user_id)
    bounds = dict(through or {})

    def about_user(headers: dict[str, str]) -> bool:
        return headers.get(Headers.SUBJECT) == tag and headers.get(Headers.TYPE) != FORGOTTEN

    def dead_before(headers: dict[str, str]) -> bool:
        if not about_user(headers):
            return False
        bound = bounds.get(headers.get(Headers.DEAD_STREAM, ""))
        try:
            return bound is None or int(headers.get(Headers.DEAD_SEQUENCE, "")) <= bound
        except ValueError:
            return True  # where it came from unknown: erased (the user's words first)

    bucket = topology.idempotency_bucket
    cmd, evt = topology.cmd_stream, topology.evt_stream
    return [
        Sweep(
            cmd,
            [topology.cmd_subject(name, tenant_id) for name in COMMAND_TYPES],
            about_user,
            bounds.get(cmd),
        ),
        Sweep(evt, [topology.tenant_evt(tenant_id)], about_user, bounds.get(evt)),
        Sweep(topology.ops_stream, [topology.tenant_ops(tenant_id)], about_user),
        Sweep(topology.dlq_stream, [topology.dlq_all], dead_before),
        # A kept answer names no user: all the tenant's go (a retry then runs again, and
        # its Idempotency-Key still fixes the ids it writes, so nothing is stored twice),
        # but a deletion's (`<tenant>.<key>.<hash>.d`: ids and counts, no words), which a
        # retry must replay: run again, it deleted what came after it.
        Sweep(kv_stream(bucket), [f"$KV.{bucket}.{tenant_tag(tenant_id)}.*.*"], lambda _: True),
    ]


def memory_sweeps(
    topology: Topology,
    tenant_id: str,
    user_id: str,
    through: Mapping[str, Mapping[str, int]],
    dead_through: Mapping[str, Mapping[str, int]],
    derived_through: Mapping[str, int] | None = None,
) -> list[Sweep]:
    """Where the words of the user's deleted memories are kept on the bus: their
    `ingest.memory` commands, `memory.recorded` events and dead letters of those. `through`:
    by stream, each memory's own bound (the memory and every version of it), up to which
    its messages go: on the command stream, where every command naming it is recorded or
    dropped; on the event stream, its deletion's own event (a recording after it is a new
    life of the same id, which stays). `dead_through`: the same for dead letters, by the
    stream their message came from (a dead-lettered command was never recorded: only one
    a deletion's mark drops may go). A memory or stream not named is not swept.

    What synthesis drew from each memory (`DERIVED_WORDS`: a fact's statement, an entity's
    name) goes from the event stream too, up to the memory's own bound there and no further
    than `derived_through` gives for its type, up to which every durable reader of that
    type has taken it: a fact may rest on other memories too, and one not yet read would be
    missed by the read models that show it (the log keeps it, sealed)."""
    tag = subject_tag(tenant_id, user_id)

    def within(bounds: Mapping[str, int], headers: dict[str, str], sequence: int) -> bool:
        if headers.get(Headers.SUBJECT) != tag:
            return False
        bound = bounds.get(headers.get(Headers.MEMORY, ""))
        return bound is not None and sequence <= bound

    def dead_within(headers: dict[str, str], _sequence: int) -> bool:
        bounds = dead_through.get(headers.get(Headers.DEAD_STREAM, ""), {})
        try:
            return within(bounds, headers, int(headers.get(Headers.DEAD_SEQUENCE, "")))
        except ValueError:
            return False

    sweeps = [Sweep(topology.dlq_stream, [topology.dlq_all], lambda _: False, None, dead_within)]
    subjects = {
        topology.cmd_stream: topology.cmd_subject("ingest.memory", tenant_id),
        topology.evt_stream: topology.evt_subject(tenant_id, "memory.recorded"),
    }
    evt = topology.evt_stream
    sweeping: list[tuple[str, str, Mapping[str, int]]] = [
        (stream, subject, through.get(stream) or {}) for stream, subject in subjects.items()
    ]
    for kind, read in sorted((derived_through or {}).items()):
        own = {m: min(b, read) for m, b in (through.get(evt) or {}).items()}
        sweeping.append((evt, topology.evt_subject(tenant_id, kind), own))
    for stream, subject, given in sweeping:
        bounds = {m: b for m, b in given.items() if b > 0}
        if bounds:
            sweeps.append(
                Sweep(
                    stream,
                    [subject],
                    lambda _: False,
                    max(bounds.values()),
                    lambda h, n, b=bounds: within(b, h, n),  # type: ignore[misc]
                )
            )
    return sweeps


async def read_through(
    js: JetStreamContext, stream: str, subjects: Mapping[str, str], durables: Sequence[str]
) -> dict[str, int]:
    """For each of `subjects` (by name), the stream sequence up to which each of `durables`
    (the consumers that read them, named by who knows them: a listing of the stream's
    consumers is paged and may leave one out) that takes it has acknowledged all it takes
    (the lowest of their ack floors); a subject none of them takes is not named. A durable
    that does not exist (not made yet, or being made anew) holds every subject at 0."""
    floors: dict[str, int] = {}
    for durable in durables:
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            return dict.fromkeys(subjects, 0)
        config = info.config
        filters = list(config.filter_subjects or []) or [config.filter_subject or ">"]
        floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor is not None else 0
        for name, subject in subjects.items():
            if any(matches(f, subject) for f in filters):
                floors[name] = min(floors.get(name, floor), floor)
    return floors


async def erase_memories(
    js: JetStreamContext,
    topology: Topology,
    tenant_id: str,
    user_id: str,
    through: Mapping[str, Mapping[str, int]],
    dead_through: Mapping[str, Mapping[str, int]],
    readers: Sequence[str],
) -> dict[str, int]:
    """Erase the messages that carry the deleted memories' words (`memory_sweeps`); how
    many, by stream. `readers`: the durables that read what synthesis draws (their ack
    floors bound its erasure). Idempotent: a repeat finds nothing more."""
    derived = {kind: topology.evt_subject(tenant_id, kind) for kind in DERIVED_WORDS}
    try:
        floors = await read_through(js, topology.evt_stream, derived, readers)
    except Exception as exc:  # not known to be read by all: they stay (README)
        log.warning("ack_floors_unread", stream=topology.evt_stream, error=exc)
        floors = dict.fromkeys(derived, 0)
    # A kind no durable reads: nothing waits for it.
    derived_through = {kind: floors.get(kind, 2**63) for kind in derived}
    erased = await _sweep_all(
        js, memory_sweeps(topology, tenant_id, user_id, through, dead_through, derived_through)
    )
    memories = {m for bounds in through.values() for m in bounds}
    log.info("memories_erased_from_streams", memories=len(memories), erased=erased)
    return erased


async def _sweep_all(js: JetStreamContext, sweeps: list[Sweep]) -> dict[str, int]:
    """Erase what each sweep finds; how many, by stream. Every sweep runs, then the first
    failure is raised: a repeat (the message handled again) finishes it."""
    erased: dict[str, int] = {}
    failed: list[Exception] = []
    for sweep in sweeps:
        try:
            sequences = await matching(js, sweep)
            await _erase(js, sweep.stream, sequences)
        except Exception as exc:
            failed.append(exc)
            continue
        if sequences:
            erased[sweep.stream] = len(sequences)
    if failed:
        raise failed[0]
    return erased


async def erase_subject(
    js: JetStreamContext,
    topology: Topology,
    tenant_id: str,
    user_id: str,
    through: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Erase every message about the user from every stream, up to the forget (`through`,
    see `subject_sweeps`); how many, by stream. Idempotent: a repeat finds nothing more."""
    started = time.monotonic()
    erased = await _sweep_all(js, subject_sweeps(topology, tenant_id, user_id, through))
    log.info(
        "subject_erased_from_streams",
        tenant_id=tenant_id,
        erased=sum(erased.values()),
        seconds=round(time.monotonic() - started, 3),
    )
    return erased


async def matching(js: JetStreamContext, sweep: Sweep) -> list[int]:
    """Sequences of the sweep's messages to erase, read headers only up to its `through`
    (else the stream's last message at the start: what comes later is not about a
    forgotten past)."""
    try:
        info = await js.stream_info(sweep.stream)
    except NotFoundError:
        return []
    last = info.state.last_seq
    if sweep.through is not None:
        last = min(last, sweep.through)
    if not info.state.messages:
        return []
    config = ConsumerConfig(
        filter_subjects=sweep.filters,
        headers_only=True,
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=60.0,
        mem_storage=True,
    )
    sub = await js.pull_subscribe("", stream=sweep.stream, config=config)
    found: list[int] = []
    try:
        # How many the filters match now: read that many (or up to `last`), never waiting
        # on a fetch for messages that will not come.
        remaining = (await sub.consumer_info()).num_pending or 0
        while remaining > 0:
            try:
                msgs = await sub.fetch(min(_FETCH, remaining), timeout=_FETCH_TIMEOUT)
            except TimeoutError:
                break  # fewer than counted: some expired meanwhile
            for msg in msgs:
                remaining -= 1
                sequence = msg.metadata.sequence.stream
                if sequence > last:
                    remaining = 0
                    break
                headers = dict(msg.headers or {})
                if (
                    sweep.erase_at(headers, sequence)
                    if sweep.erase_at is not None
                    else sweep.erase(headers)
                ):
                    found.append(sequence)
    finally:
        await sub.unsubscribe()
        try:
            await js.delete_consumer(sweep.stream, config.name or "")
        except Exception:
            pass
    return found


async def _erase(js: JetStreamContext, stream: str, sequences: list[int]) -> None:
    async def one(sequence: int) -> None:
        try:
            await js.delete_msg(stream, sequence)
        except NotFoundError:
            pass  # gone already: expired, or erased by an earlier try

    for start in range(0, len(sequences), _DELETES_IN_FLIGHT):
        await asyncio.gather(*(one(s) for s in sequences[start : start + _DELETES_IN_FLIGHT]))
