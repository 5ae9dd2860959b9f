-- Whom a fact describes (fact.extracted's `about`: a speaker's name; NULL: the subject).
ALTER TABLE synthesis.facts ADD COLUMN about text;
