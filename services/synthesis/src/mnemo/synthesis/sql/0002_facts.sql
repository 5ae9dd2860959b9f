-- The facts read model behind the profile (static and dynamic lists of /v1/context).
-- A projection of fact.extracted; dropped per subject on memory.forgotten.
CREATE TABLE synthesis.facts (
    tenant_id   text        NOT NULL,
    fact_id     text        NOT NULL,
    user_id     text        NOT NULL,
    memory_id   text        NOT NULL,
    attribute   text        NOT NULL,
    value       text        NOT NULL,
    statement   text        NOT NULL,
    kind        text        NOT NULL,
    confidence  real        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, fact_id)
);

CREATE INDEX facts_subject_idx ON synthesis.facts (tenant_id, user_id, recorded_at DESC);
