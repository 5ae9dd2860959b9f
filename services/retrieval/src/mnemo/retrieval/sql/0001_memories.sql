-- The read model behind GET /v1/memories: a projection, rebuilt from the log at will.
CREATE SCHEMA IF NOT EXISTS retrieval;

CREATE TABLE retrieval.memories (
    tenant_id       text        NOT NULL,
    memory_id       text        NOT NULL,
    user_id         text        NOT NULL,
    content         text        NOT NULL,
    source_type     text        NOT NULL,
    source_id       text,
    session_id      text,
    agent_id        text,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    global_position bigint      NOT NULL,
    PRIMARY KEY (tenant_id, memory_id)
);

CREATE INDEX memories_user_recent_idx
    ON retrieval.memories (tenant_id, user_id, recorded_at DESC, memory_id);
