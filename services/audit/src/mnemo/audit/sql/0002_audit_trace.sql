-- The trace each audited message belongs to (from its traceparent), so a correlation id
-- leads to its traces in a tracing backend.
ALTER TABLE audit.entries ADD COLUMN trace_id text;
