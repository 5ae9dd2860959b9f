"""Wiring: settings -> host -> one durable consumer per stream, and the audit query."""

import contextlib
from pathlib import Path

from nats.js.errors import NotFoundError

from mnemo.audit.handlers import SERVICE, AuditHandlers
from mnemo.audit.settings import AuditSettings
from mnemo.bus import ConsumerSpec
from mnemo.contracts import AuditQuery, Topology
from mnemo.host import Host
from mnemo.settings import load_settings

SQL = Path(__file__).parent / "sql"


def sources(topology: Topology) -> list[tuple[str, str, str]]:
    """(kind, stream, subjects) of everything the audit records."""
    return [
        ("command", topology.cmd_stream, topology.cmd_all),
        ("event", topology.evt_stream, topology.evt_all),
        ("signal", topology.ops_stream, topology.ops_all),
    ]


async def main() -> None:
    settings = load_settings(AuditSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"audit": SQL})
    assert host.pool is not None
    handlers = AuditHandlers(host.pool, settings.audit_max_chain)
    topology = host.topology
    for kind, stream, subjects in sources(topology):
        host.consume(
            ConsumerSpec(durable=f"{SERVICE}-{kind}s", stream=stream, filter_subjects=[subjects]),
            handlers.recorder(kind),
            handlers.batch_recorder(kind),
        )
    host.query("events", AuditQuery, handlers.events, concurrent=True)
    await host.serve_forever()


async def rebuild() -> None:
    """Drop the audit index and replay every command, event and signal JetStream still holds.

    Run it with the audit service stopped: its durable consumers are deleted here, and the
    next start creates them again from the first message of each stream.
    """
    settings = load_settings(AuditSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"audit": SQL})
    assert host.pool is not None and host.publisher is not None
    await host.pool.execute("TRUNCATE audit.entries")
    for kind, stream, _ in sources(host.topology):
        with contextlib.suppress(NotFoundError):
            await host.publisher.js.delete_consumer(stream, f"{SERVICE}-{kind}s")
    print("audit index cleared; it is rebuilt from the streams when the audit service starts")
    await host.close()
