-- A projection (not the truth): rebuildable, so rows may be updated or dropped.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE audit.entries (
    tenant_id      text        NOT NULL,
    message_id     text        NOT NULL,
    kind           text        NOT NULL,  -- request | command | event | signal
    type           text        NOT NULL,
    service        text        NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text,
    subject        text        NOT NULL,
    "timestamp"    timestamptz NOT NULL,
    audited_at     timestamptz NOT NULL DEFAULT now(),
    data           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, kind, message_id)
);

CREATE INDEX entries_correlation_idx ON audit.entries (tenant_id, correlation_id, "timestamp");
