-- Where a deletion of every memory of an agent (of one user, or of all: user_id '') reached
-- in the command stream. A memory command of that agent (and user) accepted before the
-- deletion but recorded after it (a backlog) would outlive it: the log drops it instead,
-- as it drops a forgotten subject's. Cleared with the other marks when the command stream
-- is made anew.
CREATE TABLE mnemo.cleared_scopes (
    tenant_id        text   NOT NULL,
    agent_id         text   NOT NULL,
    user_id          text   NOT NULL,
    commands_through bigint NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, user_id)
);
