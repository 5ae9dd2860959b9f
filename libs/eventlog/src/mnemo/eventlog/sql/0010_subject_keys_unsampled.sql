-- A data key must live in its row only: ANALYZE (autovacuum runs it on its own) would copy
-- a sample of the keys into pg_statistic, where a shredded key outlived its row, and with
-- it every sealed event of its forgotten subject could be read again. Never sampled; the
-- samples taken before go at the next forget's compaction (mnemo.eventlog.compaction).
ALTER TABLE mnemo.subject_keys ALTER COLUMN key SET STATISTICS 0;
