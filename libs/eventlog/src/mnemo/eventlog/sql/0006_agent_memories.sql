-- A deleted agent's memories are found in the log itself, not in a read model that may not
-- have them yet: sealed events keep agent_id in clear from this release on (earlier ones
-- hold it sealed, and a read model lists them). `swept`: the memories recorded for the
-- agent before its deletion are deleted; a deletion cut short is finished when ingest
-- starts again.
CREATE INDEX events_agent_memories_idx ON mnemo.events (tenant_id, (data->>'agent_id'), global_position)
    WHERE event_type = 'memory.recorded';

ALTER TABLE mnemo.retired_agents ADD COLUMN swept boolean NOT NULL DEFAULT true;
