-- What callers did to facts through the API (fact.validated, fact.contradicted), which
-- extractor stated each fact, and the LLM calls each tenant made per day (its budget).
ALTER TABLE synthesis.facts ADD COLUMN extractor text;

-- A projection like the others: dropped per subject on memory.forgotten, rebuilt from the log.
CREATE TABLE synthesis.fact_marks (
    tenant_id     text        NOT NULL,
    event_id      text        NOT NULL,
    user_id       text        NOT NULL,
    fact_id       text        NOT NULL,
    mark          text        NOT NULL,  -- validated | contradicted
    other_fact_id text,                  -- the contradicting fact, when one was stated
    confidence    real,
    actor         text        NOT NULL,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX fact_marks_fact_idx ON synthesis.fact_marks (tenant_id, user_id, fact_id);

-- Not a projection: a counter shared by every replica (one row per tenant and UTC day).
CREATE TABLE synthesis.llm_usage (
    tenant_id text NOT NULL,
    day       date NOT NULL,
    calls     int  NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
