-- Which memories of a batch synthesis has seen, per user: when all of a user's are in, the
-- pass over that user runs once. A projection: rebuildable, no content.
CREATE SCHEMA IF NOT EXISTS synthesis;

CREATE TABLE synthesis.batch_members (
    tenant_id text NOT NULL,
    batch_id  text NOT NULL,
    user_id   text NOT NULL,
    memory_id text NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, batch_id, user_id, memory_id)
);
