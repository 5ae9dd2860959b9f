-- The command stream that the forgotten subjects' marks count in, known by when JetStream
-- made it. Were it ever made anew (its store lost, or deleted by an operator), its
-- sequences would start again and the marks, which count in the old one, would drop the
-- new commands of every subject once forgotten: they are cleared instead (the commands
-- they stood for went with the old stream).
CREATE TABLE mnemo.command_stream (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    created_at timestamptz NOT NULL
);
