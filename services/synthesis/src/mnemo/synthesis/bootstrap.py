"""Wiring: settings -> host -> consumer of recorded memories."""

from mnemo.bus import ConsumerSpec
from mnemo.eventlog import EventStore
from mnemo.host import Host
from mnemo.settings import load_settings
from mnemo.synthesis.handlers import SERVICE, SynthesisHandlers
from mnemo.synthesis.passes import SQL, PassTracker
from mnemo.synthesis.settings import SynthesisSettings


async def main() -> None:
    settings = load_settings(SynthesisSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"synthesis": SQL})
    assert host.pool is not None
    handlers = SynthesisHandlers(EventStore(host.pool), PassTracker(host.pool))
    topology = host.topology
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-memories",
            stream=topology.evt_stream,
            filter_subjects=[topology.evt_subject("*", "memory.recorded")],
        ),
        handlers.memory_recorded,
    )
    await host.serve_forever()
