-- Phase 2 of indexing: chunks searchable by keyword whose dense vector is still to come.
-- A row goes once the vector is in the store; rows outlive a crash, and replicas sharing
-- one Qdrant server claim them with FOR UPDATE SKIP LOCKED (see pending.py).
CREATE TABLE retrieval.dense_pending (
    collection  text        NOT NULL,
    point_id    text        NOT NULL,
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    memory_id   text        NOT NULL,
    text        text        NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (collection, point_id)
);

CREATE INDEX dense_pending_order_idx ON retrieval.dense_pending (collection, enqueued_at);
CREATE INDEX dense_pending_memory_idx ON retrieval.dense_pending (collection, tenant_id, memory_id);
CREATE INDEX dense_pending_subject_idx ON retrieval.dense_pending (collection, tenant_id, user_id);
