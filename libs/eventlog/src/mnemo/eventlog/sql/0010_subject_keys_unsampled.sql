-- A data key must live in its row only: ANALYZE (autovacuum runs it on its own) would copy
-- a sample of the keys into pg_statistic, where a shredded key outlived its row, and with
-- it every sealed event of its forgotten subject could be read again. Never sampled.
ALTER TABLE mnemo.subject_keys ALTER COLUMN key SET STATISTICS 0;
-- And the samples taken before go now. ANALYZE skips a column whose target is 0, so it
-- never replaces them, and only a superuser may delete rows of pg_statistic (what the
-- compaction after a forget does). Changing the column's type drops its statistics
-- (PostgreSQL's RemoveStatistics) for the table's owner too, on every version Mnemo runs
-- on (pg_clear_attribute_stats is PostgreSQL 18's only); to the same type it rewrites
-- nothing and keeps the target of 0. Their bytes leave pg_statistic's files at the next
-- forget's compaction as a superuser, or when PostgreSQL reuses the space.
ALTER TABLE mnemo.subject_keys ALTER COLUMN key TYPE bytea USING key;
