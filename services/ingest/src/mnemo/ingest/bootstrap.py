"""Wiring: settings -> host -> command consumer, relay, health."""

from pathlib import Path

from mnemo.bus import ConsumerSpec, key_value, settled
from mnemo.contracts import (
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    DeleteAgentMemories,
    DeleteMemory,
    DeleteScopeMemories,
    ForgetSubject,
    GetAgent,
    IssueKey,
    ListAgents,
    ListKeys,
    MemoryVersionsQuery,
    ReviseMemory,
    RevokeKey,
    UpdateAgent,
    keys_bucket,
)
from mnemo.eventlog import EventStore, Relay
from mnemo.host import Host
from mnemo.ingest.accounts import Accounts
from mnemo.ingest.erasure import MEMORY_DURABLE, Eraser
from mnemo.ingest.handlers import SERVICE, IngestHandlers
from mnemo.ingest.revisions import MemoryRevisions
from mnemo.ingest.settings import IngestSettings
from mnemo.settings import load_settings
from mnemo.telemetry.live import Reading

SQL = Path(__file__).parent / "sql"
# Seconds of failed publishes before the relay makes ingest's health "degraded" (a NATS
# blip of a few seconds does not; a full event stream, which refuses until an operator
# makes room, does).
RELAY_STALLED_AFTER = 10.0


async def main() -> None:
    settings = load_settings(IngestSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"ingest": SQL})
    assert host.pool is not None and host.publisher is not None
    # The server's secret keys the digests of the metadata a scope's deletion marks.
    store = EventStore(host.pool, mark_secret=settings.key_secret)
    topology = host.topology
    js = host.publisher.js

    async def command_stream() -> tuple[int, bool]:
        """The command stream's last sequence, and whether it was made anew since the log
        last looked (the forget marks, which counted in the old one, are then cleared:
        `EventStore.align_command_stream`)."""
        info = await js.stream_info(topology.cmd_stream)
        anew = info.created is not None and await store.align_command_stream(info.created)
        return int(info.state.last_seq), anew

    await command_stream()  # before any command is read

    async def command_head() -> int:
        return (await command_stream())[0]

    keys = await settled(
        lambda: key_value(js, keys_bucket(host.topology.root), replicas=settings.stream_replicas),
        "keys bucket",
    )

    async def commands_read(head: int) -> bool:
        """Whether every memory command up to stream sequence `head` has been handled."""
        info = await js.consumer_info(topology.cmd_stream, MEMORY_DURABLE)
        floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor is not None else 0
        return floor >= head or (not info.num_pending and not info.num_ack_pending)

    accounts = Accounts(store, host.pool, keys, settings.key_secret, command_head)
    await accounts.rebuild()
    handlers = IngestHandlers(
        store,
        chunk_max=settings.chunk_max_chars,
        chunk_overlap=settings.chunk_overlap_chars,
        command_stream=command_stream,
        agents=accounts.agents_of,
        commands_read=commands_read,
    )
    accounts.sweeping_with(handlers.sweep_agent)
    # A deletion of an agent cut short (its memories not all deleted) is finished.
    host.background(accounts.keep_sweeping)
    host.consume(
        ConsumerSpec(
            durable=MEMORY_DURABLE,
            stream=topology.cmd_stream,
            filter_subjects=[topology.cmd_subject("ingest.memory", "*")],
        ),
        handlers.ingest_memory,
        handlers.ingest_memories,
    )
    host.query("forget", ForgetSubject, handlers.forget)
    # What a forget leaves on the bus and in the key table's files, erased once it is logged.
    eraser = Eraser(host.pool, host.publisher)
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-eraser",
            stream=topology.evt_stream,
            filter_subjects=[topology.evt_subject("*", "memory.forgotten")],
        ),
        eraser.forgotten,
    )
    # What a memory's deletion leaves on the bus and in the key table's files.
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-memory-eraser",
            stream=topology.evt_stream,
            filter_subjects=[topology.evt_subject("*", "memory.deleted")],
        ),
        eraser.deleted,
        eraser.deleted_batch,
    )
    host.background(eraser.key_compaction.run)
    host.query("delete_memory", DeleteMemory, handlers.delete_memory)
    host.query("delete_agent_memories", DeleteAgentMemories, handlers.delete_agent_memories)
    host.query("delete_scope_memories", DeleteScopeMemories, handlers.delete_scope_memories)
    revisions = MemoryRevisions(store, handlers.chunks)
    host.query("revise_memory", ReviseMemory, revisions.revise)
    host.query("memory_versions", MemoryVersionsQuery, revisions.versions, concurrent=True)
    host.query("create_tenant", CreateTenant, accounts.create_tenant)
    host.query("issue_key", IssueKey, accounts.issue_key)
    host.query("revoke_key", RevokeKey, accounts.revoke_key)
    host.query("list_keys", ListKeys, accounts.list_keys)
    host.query("create_agent", CreateAgent, accounts.create_agent)
    host.query("update_agent", UpdateAgent, accounts.update_agent)
    host.query("delete_agent", DeleteAgent, accounts.delete_agent)
    host.query("get_agent", GetAgent, accounts.get_agent)
    host.query("list_agents", ListAgents, accounts.list_agents)
    if settings.relay_enabled:
        relay = Relay(host.pool, host.publisher, batch_size=settings.relay_batch)
        host.background(relay.run)

        async def relay_gauges() -> list[Reading]:
            head, published = await relay.lag()
            return [
                ("mnemo_log_head_position", {}, head),
                ("mnemo_relay_lag_events", {}, max(head - published, 0)),
            ]

        host.gauges(relay_gauges)

        async def relay_check() -> None:
            if reason := relay.stalled(after=RELAY_STALLED_AFTER):
                raise RuntimeError(reason)

        host.health_check("relay", relay_check)
    await host.serve_forever()
