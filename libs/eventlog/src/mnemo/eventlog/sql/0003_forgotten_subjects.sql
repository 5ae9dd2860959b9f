-- Where each forgotten subject's forget reached in the command stream. A command accepted
-- before the forget (its stream sequence at or below the mark) but recorded after it would
-- bring the subject's words back under a new key: the log drops it instead. Names the user
-- as `memory.forgotten` does, never what they said.
CREATE TABLE mnemo.forgotten_subjects (
    tenant_id        text        NOT NULL,
    user_id          text        NOT NULL,
    commands_through bigint      NOT NULL,
    forgotten_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
