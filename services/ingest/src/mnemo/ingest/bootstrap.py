"""Wiring: settings -> host -> command consumer, relay, health."""

from mnemo.bus import ConsumerSpec
from mnemo.contracts import ForgetSubject
from mnemo.eventlog import EventStore, Relay
from mnemo.host import Host
from mnemo.ingest.handlers import SERVICE, IngestHandlers
from mnemo.ingest.settings import IngestSettings
from mnemo.settings import load_settings


async def main() -> None:
    settings = load_settings(IngestSettings)
    host = Host(SERVICE, settings)
    await host.start()
    assert host.pool is not None and host.publisher is not None
    handlers = IngestHandlers(
        EventStore(host.pool),
        chunk_max=settings.chunk_max_chars,
        chunk_overlap=settings.chunk_overlap_chars,
    )
    topology = host.topology
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-memory",
            stream=topology.cmd_stream,
            filter_subjects=[topology.cmd_subject("ingest.memory", "*")],
        ),
        handlers.ingest_memory,
    )
    host.query("forget", ForgetSubject, handlers.forget)
    if settings.relay_enabled:
        relay = Relay(host.pool, host.publisher, batch_size=settings.relay_batch)
        host.background(relay.run)
    await host.serve_forever()
