-- Where each deleted memory's deletion reached in the command stream. A command naming the
-- memory (its sourceId or id sent again) accepted before the deletion but recorded after
-- it (a backlog) would bring the deleted memory back: it is dropped instead, as a forgotten
-- subject's and a deleted agent's late commands are. Cleared with those marks when the
-- command stream is made anew.
CREATE TABLE mnemo.deleted_memories (
    tenant_id        text   NOT NULL,
    memory_id        text   NOT NULL,
    commands_through bigint NOT NULL,
    PRIMARY KEY (tenant_id, memory_id)
);
