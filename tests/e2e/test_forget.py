"""Forget a user: every projection drops them, the log keeps no readable content, and a
rebuild of the projections from the log brings nothing back."""

import asyncio
import json
import uuid

import asyncpg

from ..disk import files_holding
from .test_errors import assert_problem
from .test_memories_api import memories
from .test_thin_path import search
from .waiting import eventually


def log_mentions(stack, text: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(stack.env["MNEMO_DATABASE_URL"])
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM mnemo.events WHERE data::text LIKE $1", f"%{text}%"
            )
        finally:
            await conn.close()

    return asyncio.run(count())


def vector_store_mentions(stack, text: str) -> list[str]:
    """The files of retrieval's vector store folder whose raw bytes hold `text`."""
    return files_holding(stack.home / "qdrant", [text.encode()])


def pending_mentions(stack, user_id: str, text: str) -> int:
    """Chunks still waiting for a dense vector that are the user's or hold `text`."""

    async def count() -> int:
        conn = await asyncpg.connect(stack.env["MNEMO_DATABASE_URL"])
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM retrieval.dense_pending WHERE user_id = $1 OR text LIKE $2",
                user_id,
                f"%{text}%",
            )
        finally:
            await conn.close()

    return asyncio.run(count())


# Where each service that compacts after a forget says what it did about it.
COMPACTING = ("ingest", "retrieval", "synthesis")


def compactions(stack, correlation_id: str) -> dict[str, str]:
    """What each service did about the forget of `correlation_id` once it was logged:
    `tables_compacted`, or `compaction_skipped`; from the services' logs."""
    done = {}
    for service in COMPACTING:
        logged = (stack.home / "logs" / f"{service}.log").read_text(errors="replace")
        for line in logged.split("\n"):
            if correlation_id in line and "compact" in line:
                event = json.loads(line).get("event")
                if event in ("tables_compacted", "compaction_skipped"):
                    done[service] = event
    return done


def test_forget_then_rebuild_brings_nothing_back(stack, api, user_id):
    token = uuid.uuid4().hex[:10]
    other = user_id + "-stays"
    items = [
        {"userId": user_id, "content": f"I work at Zorblax{token} and I love kayaking"},
        {"userId": user_id, "content": f"my passport number is P{token}"},
        {"userId": other, "content": f"the other user also mentions Zorblax{token}"},
    ]
    assert api.post("/v1/ingest/batch", json={"items": items}).status_code == 202
    eventually(lambda: memories(api, user_id)["total"] == 2)
    eventually(lambda: memories(api, other)["total"] == 1)
    eventually(lambda: search(api, user_id, f"Zorblax{token}"))

    response = api.delete("/v1/user", params={"userId": user_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted"] is True
    assert body["removed"]["memories"] == 2
    assert body["removed"]["facts"] >= 1  # "I work at ..." is a fact synthesis extracted

    eventually(lambda: memories(api, user_id)["total"] == 0)
    assert search(api, user_id, f"Zorblax{token}") == []
    assert log_mentions(stack, f"P{token}") == 0
    assert log_mentions(stack, f"Zorblax{token}") == 0  # the other user's content is sealed too
    # Nor does the vector store (a deleted point's payload stays in its files until it is
    # compacted), nor phase 2's work list: the other user's words were never there either.
    assert vector_store_mentions(stack, f"P{token}") == []
    assert vector_store_mentions(stack, f"Zorblax{token}") == []
    assert pending_mentions(stack, user_id, f"P{token}") == 0

    stack.rebuild("retrieval")
    assert memories(api, user_id)["total"] == 0
    assert search(api, user_id, f"Zorblax{token}") == []
    assert memories(api, other)["total"] == 1

    again = api.delete("/v1/memory", params={"userId": user_id})
    assert again.status_code == 200
    assert again.json()["removed"] == {"memories": 0, "facts": 0}


def test_a_forgotten_user_can_start_over(api, user_id):
    api.post("/v1/ingest", json={"userId": user_id, "content": "before"})
    eventually(lambda: memories(api, user_id)["total"] == 1)
    api.delete("/v1/memory", params={"userId": user_id})
    eventually(lambda: memories(api, user_id)["total"] == 0)
    api.post("/v1/ingest", json={"userId": user_id, "content": "after"})
    page = eventually(lambda: (p := memories(api, user_id))["total"] == 1 and p)
    assert page["memories"][0]["content"] == "after"


def test_forget_needs_a_user_id(api):
    assert_problem(api.delete("/v1/user"), 400, "userId")


def test_a_forget_naming_more_than_a_user_is_refused_and_forgets_nothing(api, user_id):
    """A parameter the forget does not take (`agentId`: "this agent's memories of the
    user") was ignored, and the user forgotten with every agent: now a 400 naming it."""
    api.post("/v1/ingest", json={"userId": user_id, "content": "kept whole"})
    eventually(lambda: memories(api, user_id)["total"] == 1)
    for path in ("/v1/user", "/v1/memory"):
        refused = api.delete(path, params={"userId": user_id, "agentId": "support-bot"})
        assert_problem(refused, 400, "agentId")
    assert memories(api, user_id)["total"] == 1


def test_no_read_after_the_answer_sees_what_was_forgotten_or_deleted(api, user_id):
    """Reads right after DELETE answers, while the read models are still busy with other
    work (a backlog of another user's memories ahead of the forget's event)."""
    token = uuid.uuid4().hex[:8]
    mine = [{"userId": user_id, "content": f"I work at Vexmoor{token} {n}"} for n in range(3)]
    assert api.post("/v1/ingest/batch", json={"items": mine}).status_code == 202
    page = eventually(lambda: (p := memories(api, user_id))["total"] == 3 and p)
    eventually(lambda: api.get("/v1/facts", params={"userId": user_id}).json().get("facts"))
    busy = [{"userId": user_id + "-busy", "content": f"busy note {n} {token}"} for n in range(300)]

    for start in range(0, 300, 50):  # batches hold up to 50 items
        assert api.post("/v1/ingest/batch", json={"items": busy[start : start + 50]}).is_success
    one = page["memories"][0]["id"]
    assert api.delete(f"/v1/memories/{one}").status_code == 200
    assert api.get(f"/v1/memories/{one}").status_code == 404
    assert one not in {m["id"] for m in memories(api, user_id)["memories"]}
    assert one not in {h["id"] for h in search(api, user_id, f"Vexmoor{token}")}

    for start in range(0, 200, 50):
        assert api.post("/v1/ingest/batch", json={"items": busy[start : start + 50]}).is_success
    assert api.delete("/v1/user", params={"userId": user_id}).status_code == 200
    assert memories(api, user_id)["total"] == 0
    assert search(api, user_id, f"Vexmoor{token}") == []
    assert api.get("/v1/facts", params={"userId": user_id}).json().get("facts") == []


def test_forgetting_again_rewrites_nothing(stack, api, user_id):
    """A forget that removes nothing (the client's retry after a 503 READ_MODELS_BEHIND,
    the same user forgotten twice) rewrites no table: VACUUM FULL locks each (pg_statistic
    too: every planner lookup not cached waits), and the first forget's compaction took
    what there was."""
    content = f"I work at Quorvath{uuid.uuid4().hex[:8]} and I love rowing"
    api.post("/v1/ingest", json={"userId": user_id, "content": content})
    eventually(lambda: memories(api, user_id)["total"] == 1)
    eventually(lambda: api.get("/v1/facts", params={"userId": user_id}).json().get("facts"))

    def forget() -> str:
        response = api.delete(
            "/v1/user", params={"userId": user_id}, headers={"x-correlation-id": uuid.uuid4().hex}
        )
        assert response.status_code == 200, response.text
        return response.headers["x-correlation-id"]

    first = forget()
    eventually(lambda: len(compactions(stack, first)) == len(COMPACTING), timeout=120)
    assert set(compactions(stack, first).values()) == {"tables_compacted"}  # the premise

    again = forget()
    # Told by each service's own line for this forget (the files of the tables would be
    # rewritten by another test's compaction in this stack meanwhile).
    eventually(lambda: len(compactions(stack, again)) == len(COMPACTING), timeout=120)
    assert set(compactions(stack, again).values()) == {"compaction_skipped"}
