-- The event log: the only source of truth. Append-only by trigger, not only by grant,
-- because the owner role is not bound by REVOKE.
CREATE TABLE mnemo.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: the relay reads only below the oldest in-flight xid,
    -- so a position allocated by a transaction that commits late is never skipped.
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_type      text        NOT NULL,
    tenant_id       text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_stream_version_nonnegative CHECK (stream_version >= 0)
);

CREATE INDEX events_tx_position_idx ON mnemo.events (transaction_id, global_position);
CREATE INDEX events_tenant_position_idx ON mnemo.events (tenant_id, global_position);

CREATE FUNCTION mnemo.events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mnemo.events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON mnemo.events
    FOR EACH ROW EXECUTE FUNCTION mnemo.events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON mnemo.events
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo.events_are_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON mnemo.events FROM PUBLIC;

-- One notification per appending statement wakes the relay (and anyone else listening).
CREATE FUNCTION mnemo.notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mnemo_events', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON mnemo.events
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo.notify_events_appended();

-- Where each follower of the log (the relay, projections rebuilding) has got to.
CREATE TABLE mnemo.checkpoints (
    name            text PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
