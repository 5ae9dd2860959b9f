-- An agent's memories across its users (ElizaOS lists and exports memories by agent).
CREATE INDEX memories_agent_recent_idx
    ON retrieval.memories (tenant_id, agent_id, recorded_at DESC, memory_id);
