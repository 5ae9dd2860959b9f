-- A memory's preceding turn in its session (indexed along with it: see index.py).
CREATE INDEX memories_session_order_idx
    ON retrieval.memories (tenant_id, user_id, session_id, occurred_at, global_position)
    WHERE session_id IS NOT NULL;
