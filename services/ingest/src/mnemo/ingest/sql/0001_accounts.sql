-- Read model of tenants, agents and API keys, projected from the account-<tenant> streams.
-- Rebuilt from the log whenever ingest starts; only key digests (HMAC-SHA256), never keys.
CREATE SCHEMA IF NOT EXISTS accounts;

CREATE TABLE accounts.tenants (
    tenant_id   text PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    created_at  timestamptz NOT NULL
);

CREATE TABLE accounts.agents (
    tenant_id   text NOT NULL,
    agent_id    text NOT NULL,
    name        text NOT NULL,
    description text,
    metadata    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, agent_id)
);

CREATE TABLE accounts.keys (
    key_id      text PRIMARY KEY,
    tenant_id   text NOT NULL,
    kind        text NOT NULL,
    agent_id    text,
    label       text,
    prefix      text NOT NULL,
    digest      text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX keys_by_tenant ON accounts.keys (tenant_id, created_at);
