-- Per-subject data keys for crypto-shredding. Not part of the append-only log: forgetting
-- a subject deletes its keys, and every sealed event of that subject becomes unreadable
-- without a single log row being changed.
CREATE TABLE mnemo.subject_keys (
    key_id     uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    user_id    text        NOT NULL,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subject_keys_subject_key UNIQUE (tenant_id, user_id)
);

-- Sealed events keep the subject in clear (never the content), so a forget can count them.
CREATE INDEX events_subject_idx ON mnemo.events (tenant_id, (data->>'user_id'), event_type);
