-- Deleting every memory of a scope narrower or other than an agent's (Mem0's delete_all by
-- run, by app, by metadata, alone or with a user or an agent).
--
-- The log finds a session's memories itself, not only a read model that may not have the
-- newest yet: memory.recorded keeps in clear, from this release on, a keyed digest of its
-- session (`session_tag`, HMAC-SHA256 under the server's secret and the tenant), never its
-- name, which is sealed with the content and the metadata.
CREATE INDEX events_session_memories_idx
    ON mnemo.events (tenant_id, (data->>'session_tag'), global_position)
    WHERE event_type = 'memory.recorded';

-- Where such a deletion reached in the command stream. A memory command of the scope
-- accepted before the deletion but recorded after it (a backlog) is dropped, as a
-- forgotten subject's is. '' is any user, agent or session (kept as its tag, as in the
-- log: a forgotten user's run names are not left here). The metadata the scope names
-- is never kept here: `paths` holds where to look (keys, no values) and `digest` an
-- HMAC-SHA256, under the server's secret, of the values wanted there ('' when none).
-- Cleared with the other marks when the command stream is made anew.
CREATE TABLE mnemo.scope_marks (
    tenant_id        text   NOT NULL,
    user_id          text   NOT NULL,
    agent_id         text   NOT NULL,
    session_tag      text   NOT NULL,
    digest           text   NOT NULL,
    paths            jsonb  NOT NULL,
    commands_through bigint NOT NULL,
    PRIMARY KEY (tenant_id, user_id, agent_id, session_tag, digest)
);
-- An append reads only the marks made after the oldest command it records was sent.
CREATE INDEX scope_marks_through_idx ON mnemo.scope_marks (tenant_id, commands_through);
