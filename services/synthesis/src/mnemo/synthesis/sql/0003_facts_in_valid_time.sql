-- Facts in valid time and the entity graph: projections of fact.extracted,
-- fact.superseded, fact.corroborated, entity.extracted and memory.synthesized; a subject's
-- rows are dropped on memory.forgotten. Nothing here is truth: `rebuild` refills it.
ALTER TABLE synthesis.facts ADD COLUMN category text NOT NULL DEFAULT '';
ALTER TABLE synthesis.facts ADD COLUMN span_start int;
ALTER TABLE synthesis.facts ADD COLUMN span_end int;
ALTER TABLE synthesis.facts ADD COLUMN agent_id text;

-- When a fact stopped holding (valid_to) and since when that was known (recorded_at).
-- A fact can be bounded more than once (a fact learnt late shortens it); the earliest wins.
CREATE TABLE synthesis.fact_endings (
    tenant_id     text        NOT NULL,
    event_id      text        NOT NULL,
    user_id       text        NOT NULL,
    fact_id       text        NOT NULL,
    valid_to      timestamptz NOT NULL,
    reason        text        NOT NULL,
    superseded_by text,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX fact_endings_fact_idx ON synthesis.fact_endings (tenant_id, fact_id);

-- Every further time a fact was said: its evidence (memory and span).
CREATE TABLE synthesis.fact_evidence (
    tenant_id   text        NOT NULL,
    event_id    text        NOT NULL,
    user_id     text        NOT NULL,
    fact_id     text        NOT NULL,
    memory_id   text        NOT NULL,
    span_start  int         NOT NULL,
    span_end    int         NOT NULL,
    confidence  real        NOT NULL,
    agent_id    text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX fact_evidence_fact_idx ON synthesis.fact_evidence (tenant_id, fact_id);

-- One row per mention of an entity; the latest (valid time) says its relationship.
CREATE TABLE synthesis.entity_mentions (
    tenant_id       text        NOT NULL,
    event_id        text        NOT NULL,
    user_id         text        NOT NULL,
    entity_id       text        NOT NULL,
    name            text        NOT NULL,
    type            text        NOT NULL,
    relationship    text        NOT NULL,
    confidence      real        NOT NULL,
    memory_id       text        NOT NULL,
    agent_id        text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    global_position bigint      NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX entity_mentions_subject_idx
    ON synthesis.entity_mentions (tenant_id, user_id, entity_id, occurred_at DESC);

-- Subjects with at least one synthesized memory (before that, no entity graph: 404).
CREATE TABLE synthesis.subjects (
    tenant_id      text        NOT NULL,
    user_id        text        NOT NULL,
    synthesized_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
