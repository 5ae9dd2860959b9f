-- Phase 2 claims chunks with a lease (claim token + expiry) in a short statement, instead of
-- holding row locks in a transaction while it embeds them: a transaction open for seconds
-- holds back pg_snapshot_xmin, and the event relay publishes nothing newer meanwhile.
ALTER TABLE retrieval.dense_pending
    ADD COLUMN claim         uuid,
    ADD COLUMN claimed_until timestamptz;
