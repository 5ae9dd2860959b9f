-- Who mentioned an entity (entity.extracted's `about`: a speaker's name; NULL: the subject).
ALTER TABLE synthesis.entity_mentions ADD COLUMN about text;
