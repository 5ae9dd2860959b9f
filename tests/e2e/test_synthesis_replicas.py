"""Synthesis scales out: a second replica on the same bus shares the memories (it alone
takes them while the first is stopped, then both do), and no memory is synthesized twice
and no fact extracted twice: facts said again are one fact with more evidence."""

import asyncio
import uuid

import asyncpg

from .waiting import eventually

USERS = 3
PER_USER = 20  # per phase
TOOLS = 4


def log_event_counts(dsn: str, user_ids: list[str]) -> dict[str, list[int]]:
    """Per event type, how many events each memory (or user) has in the log."""

    async def query() -> dict[str, list[int]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                """SELECT event_type, count(*) AS n FROM mnemo.events
                   WHERE tenant_id = 'e2e' AND data->>'user_id' = ANY($1::text[])
                     AND event_type IN ('memory.synthesized', 'fact.extracted')
                   GROUP BY event_type, coalesce(data->>'memory_id', '')""",
                user_ids,
            )
        finally:
            await conn.close()
        counts: dict[str, list[int]] = {}
        for row in rows:
            counts.setdefault(row["event_type"], []).append(row["n"])
        return counts

    return asyncio.run(query())


def ingest(api, user_ids: list[str], token: str, phase: int) -> None:
    items = [
        {
            "userId": user,
            "content": f"I use Tool{i % TOOLS}x{token}. I like topic{phase}n{i}x{token}.",
            "metadata": {"timestamp": f"2026-0{phase}-{i + 1:02d}T09:00:00Z"},
        }
        for user in user_ids
        for i in range(PER_USER)
    ]
    for start in range(0, len(items), 50):
        response = api.post("/v1/ingest/batch", json={"items": items[start : start + 50]})
        assert response.status_code == 202, response.text


def facts(api, user_id: str) -> list[dict]:
    response = api.get("/v1/facts", params={"userId": user_id})
    assert response.status_code == 200, response.text
    return response.json()["facts"]


def test_two_replicas_share_the_work_and_extract_each_fact_once(stack, api):
    token = uuid.uuid4().hex[:6]
    users = [f"rep-{token}-{n}" for n in range(USERS)]
    dsn = stack.env["MNEMO_DATABASE_URL"]
    replica_log = stack.home / "logs" / "synthesis-replica.log"
    main_log = stack.home / "logs" / "synthesis.log"

    def ready(log) -> int:
        return log.read_text().count('"service_ready"') if log.exists() else 0

    def synthesized() -> int:
        return sum(log_event_counts(dsn, users).get("memory.synthesized", []))

    with stack.replica("synthesis"):
        eventually(lambda: ready(replica_log), timeout=60)
        # Phase 1: the first replica is stopped, so the second one alone does the work.
        stack.stop("synthesis")
        try:
            ingest(api, users, token, 1)
            eventually(lambda: synthesized() == USERS * PER_USER, timeout=120)
        finally:
            started = ready(main_log)
            stack.start("synthesis")
            # Health is green while the replica answers: wait for this one to be serving.
            eventually(lambda: ready(main_log) > started, timeout=60)
        assert "memory_synthesized" in replica_log.read_text()
        # Phase 2: both replicas consume the same durable at once.
        ingest(api, users, token, 2)
        eventually(lambda: synthesized() == 2 * USERS * PER_USER, timeout=180)

    counts = log_event_counts(dsn, users)
    assert set(counts["memory.synthesized"]) == {1}  # each memory once
    expected = TOOLS + 2 * PER_USER  # per user: the tools (said again and again) and the likes
    assert sum(counts["fact.extracted"]) == USERS * expected

    def settled(user: str) -> list[dict] | None:
        # The read model applies facts, then their corroborations (evidence) as they come.
        found = facts(api, user)
        evidence = sum(len(f["evidence"]) for f in found if f["attribute"] == "tool")
        return found if len(found) == expected and evidence == PER_USER * 2 else None

    for user in users:
        found = eventually(lambda u=user: settled(u), timeout=60)
        statements = [f["statement"] for f in found]
        assert len(set(statements)) == len(statements)  # no fact twice
        tools = [f for f in found if f["attribute"] == "tool"]
        assert sorted(len(f["evidence"]) for f in tools) == [PER_USER * 2 // TOOLS] * TOOLS
