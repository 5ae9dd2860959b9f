"""Wiring: settings -> host -> consumer of recorded memories."""

from mnemo.bus import ConsumerSpec
from mnemo.contracts import ProfileQuery
from mnemo.eventlog import EventStore
from mnemo.host import Host
from mnemo.settings import load_settings
from mnemo.synthesis.handlers import SERVICE, ProfileHandlers, SynthesisHandlers
from mnemo.synthesis.passes import SQL, PassTracker
from mnemo.synthesis.profiles import FactTable
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
    profiles = ProfileHandlers(FactTable(host.pool))
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-profiles",
            stream=topology.evt_stream,
            filter_subjects=[
                topology.evt_subject("*", "fact.extracted"),
                topology.evt_subject("*", "memory.forgotten"),
            ],
        ),
        profiles.fact_event,
        profiles.fact_events,
    )
    host.query("profile", ProfileQuery, profiles.profile)
    await host.serve_forever()
