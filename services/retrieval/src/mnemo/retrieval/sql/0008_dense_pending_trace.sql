-- The trace of the request each pending chunk came from: phase 2 embeds chunks of many
-- requests at once, in a span of its own linked to each of their traces.
ALTER TABLE retrieval.dense_pending ADD COLUMN traceparent text;
