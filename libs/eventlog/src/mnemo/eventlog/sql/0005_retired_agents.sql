-- Where each deleted agent's deletion reached in the command stream. A memory command
-- accepted before the deletion (at or below the mark) but recorded after it would give an
-- agent made again with the id a memory of the one deleted: the log drops it instead, as
-- it drops a forgotten subject's late commands. Cleared with the forget marks when the
-- command stream is made anew.
CREATE TABLE mnemo.retired_agents (
    tenant_id        text        NOT NULL,
    agent_id         text        NOT NULL,
    commands_through bigint      NOT NULL,
    retired_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id)
);
