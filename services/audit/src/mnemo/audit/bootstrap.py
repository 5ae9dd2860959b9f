"""Wiring: settings -> host -> a durable consumer for commands and one for signals, a
follower of the log for events, and the audit query."""

import contextlib
from pathlib import Path

from nats.js.errors import NotFoundError

from mnemo.audit.handlers import SERVICE, AuditHandlers
from mnemo.audit.log_events import FOLLOWER, RETIRED_DURABLE, follower
from mnemo.audit.settings import AuditSettings
from mnemo.bus import ConsumerSpec, Publisher
from mnemo.contracts import AuditQuery, Topology
from mnemo.host import Host
from mnemo.settings import load_settings
from mnemo.telemetry.live import Reading

SQL = Path(__file__).parent / "sql"


def sources(topology: Topology) -> list[tuple[str, str, str]]:
    """(kind, stream, subjects) of what the audit records from the bus (events it reads
    from the log: mnemo.audit.log_events)."""
    return [
        ("command", topology.cmd_stream, topology.cmd_all),
        ("signal", topology.ops_stream, topology.ops_all),
    ]


async def retire_events_durable(publisher: Publisher) -> None:
    """Delete the durable that delivered events before the audit followed the log (and its
    dead letters' replay durable): nothing reads them any more."""
    topology = publisher.topology
    for stream, durable in (
        (topology.evt_stream, RETIRED_DURABLE),
        (topology.dlq_stream, f"{RETIRED_DURABLE}-replay"),
    ):
        with contextlib.suppress(NotFoundError):
            await publisher.js.delete_consumer(stream, durable)


async def main() -> None:
    settings = load_settings(AuditSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"audit": SQL})
    assert host.pool is not None and host.publisher is not None
    handlers = AuditHandlers(host.pool, settings.audit_max_chain)
    topology = host.topology
    for kind, stream, subjects in sources(topology):
        host.consume(
            ConsumerSpec(durable=f"{SERVICE}-{kind}s", stream=stream, filter_subjects=[subjects]),
            handlers.recorder(kind),
            handlers.batch_recorder(kind),
        )
    await retire_events_durable(host.publisher)
    events = follower(host.pool, topology)
    host.background(events.run)

    async def follower_gauges() -> list[Reading]:
        head, audited = await events.lag()
        return [("mnemo_audit_lag_events", {}, max(head - audited, 0))]

    host.gauges(follower_gauges)
    host.query("events", AuditQuery, handlers.events, concurrent=True)
    await host.serve_forever()


async def rebuild() -> None:
    """Drop the audit index; it is rebuilt from every event of the log and every command
    and signal JetStream still holds.

    Run it with the audit service stopped: its durable consumers and its place in the log
    are deleted here, and the next start records everything again from the beginning.
    """
    settings = load_settings(AuditSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"audit": SQL})
    assert host.pool is not None and host.publisher is not None
    await host.pool.execute("TRUNCATE audit.entries")
    await host.pool.execute("DELETE FROM mnemo.checkpoints WHERE name = $1", FOLLOWER)
    for kind, stream, _ in sources(host.topology):
        with contextlib.suppress(NotFoundError):
            await host.publisher.js.delete_consumer(stream, f"{SERVICE}-{kind}s")
    await retire_events_durable(host.publisher)
    print(
        "audit index cleared; it is rebuilt from the log and the streams when the audit"
        " service starts"
    )
    await host.close()
