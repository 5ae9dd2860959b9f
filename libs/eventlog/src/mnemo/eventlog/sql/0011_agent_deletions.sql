-- The agents' deletions in the log, found without reading the whole log: ingest looks for
-- one whose mark (mnemo.retired_agents) was never made (PostgreSQL failed between the
-- deletion's commit and its mark) every 30 s, and finishes it (EventStore.unretired_agents).
CREATE INDEX events_agent_deleted_idx ON mnemo.events (tenant_id, global_position)
    WHERE event_type = 'agent.deleted';
