-- A memory's session and source ids (the client's own names: a Mem0 run_id, a file name)
-- are no longer audited: the log seals them with the content, and a forget, which never
-- erases the audit, must leave nothing of what a user said. Entries audited before this
-- lose them too (a command's own fields, an event's data).
UPDATE audit.entries
   SET data = data - 'session_id' - 'source_id'
 WHERE data ? 'session_id' OR data ? 'source_id';
UPDATE audit.entries
   SET data = jsonb_set(data, '{data}', (data -> 'data') - 'session_id' - 'source_id')
 WHERE jsonb_typeof(data -> 'data') = 'object'
   AND (data -> 'data' ? 'session_id' OR data -> 'data' ? 'source_id');
