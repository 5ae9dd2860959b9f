"""Wiring: settings -> host -> one durable consumer per stream, and the audit query."""

from pathlib import Path

from mnemo.audit.handlers import SERVICE, AuditHandlers
from mnemo.audit.settings import AuditSettings
from mnemo.bus import ConsumerSpec
from mnemo.contracts import AuditQuery
from mnemo.host import Host
from mnemo.settings import load_settings

SQL = Path(__file__).parent / "sql"


async def main() -> None:
    settings = load_settings(AuditSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"audit": SQL})
    assert host.pool is not None
    handlers = AuditHandlers(host.pool, settings.audit_max_chain)
    topology = host.topology
    for kind, stream, subjects in (
        ("command", topology.cmd_stream, topology.cmd_all),
        ("event", topology.evt_stream, topology.evt_all),
        ("signal", topology.ops_stream, topology.ops_all),
    ):
        host.consume(
            ConsumerSpec(durable=f"{SERVICE}-{kind}s", stream=stream, filter_subjects=[subjects]),
            handlers.recorder(kind),
            handlers.batch_recorder(kind),
        )
    host.query("events", AuditQuery, handlers.events)
    await host.serve_forever()
