-- Whether synthesis has made its pass over the memory (`memory.synthesized`): the API's
-- `synthesized` flag. Rebuilt from the log like every column here.
ALTER TABLE retrieval.memories ADD COLUMN synthesized boolean NOT NULL DEFAULT false;
