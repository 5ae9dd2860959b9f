-- Per-memory data keys: a memory's recording is sealed under a key of its own, so that
-- deleting the memory shreds it (in the deletion's transaction) and the sealed copy in the
-- append-only log can never be opened again, as a forget does for a whole subject. A
-- memory revised into another (Mem0's update) hands its key on: each version has a row
-- under the same key_id, and deleting the current version shreds them all, so no
-- version's words outlive it. The subject is kept so that a forget shreds these too.
-- Outside the append-only table, as mnemo.subject_keys is.
CREATE TABLE mnemo.memory_keys (
    tenant_id  text        NOT NULL,
    memory_id  text        NOT NULL,
    key_id     uuid        NOT NULL,
    user_id    text        NOT NULL,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, memory_id)
);
CREATE INDEX memory_keys_key_idx ON mnemo.memory_keys (key_id);
CREATE INDEX memory_keys_subject_idx ON mnemo.memory_keys (tenant_id, user_id);
-- Never sampled by ANALYZE: a shredded key must not outlive its row in pg_statistic
-- (0010_subject_keys_unsampled.sql).
ALTER TABLE mnemo.memory_keys ALTER COLUMN key SET STATISTICS 0;
-- Every data key that can open a sealed event, whichever table holds it.
CREATE VIEW mnemo.data_keys AS
    SELECT key_id, key FROM mnemo.subject_keys
    UNION ALL
    SELECT key_id, key FROM mnemo.memory_keys;
