"""Search through the gateway: each mode, every filter, tenant isolation, and a re-index
when the embedding model changes."""

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import own_stack
from .test_errors import assert_problem
from .test_thin_path import search
from .waiting import eventually

NOTES = [
    {
        "content": "The orchestra hired a new xylophone player",
        "sourceType": "meeting",
        "sessionId": "s-music",
        "agentId": "agent-a",
        "metadata": {"timestamp": "2025-03-01T10:00:00Z"},
    },
    {
        "content": "Remember to file the quarterly tax return",
        "sourceType": "action",
        "sessionId": "s-admin",
        "agentId": "agent-b",
        "metadata": {"timestamp": "2025-06-01T10:00:00Z"},
    },
    {
        "content": "My grandmother's pasta recipe needs fresh basil",
        "sourceType": "conversation",
        "sessionId": "s-food",
        "agentId": "agent-a",
        "metadata": {"timestamp": "2025-09-01T10:00:00Z"},
    },
]


# A stack of this module's own (it overrides the session's): a change of model re-indexes every
# memory its stack holds, and the session's holds every earlier test's (a minute of
# MiniLM, growing with the suite, under the tests after it if it outlived its deadline).
stack = own_stack("modes")


@pytest.fixture
def notes(api, user_id):
    items = [{"userId": user_id, **note} for note in NOTES]
    assert api.post("/v1/ingest/batch", json={"items": items}).status_code == 202
    eventually(lambda: len(search(api, user_id, "tax return basil xylophone")) == 3)
    # Searchable by keyword first; the dense vectors follow (two-phase indexing).
    eventually(lambda: len(post_search(api, user_id, "notes", searchMode="vector")) == 3)
    return user_id


def post_search(api, user_id: str, query: str, **body) -> list[dict]:
    response = api.post("/v1/search", json={"userId": user_id, "query": query, **body})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def contents(results: list[dict]) -> list[str]:
    return [r["content"] for r in results]


def test_each_search_mode(api, notes):
    # Dense: meaning without shared words.
    assert (
        "xylophone"
        in post_search(api, notes, "percussion musician", searchMode="vector")[0]["content"]
    )
    # Keyword: the exact rare word, and nothing for words no memory has.
    assert contents(post_search(api, notes, "basil", searchMode="keyword")) == [NOTES[2]["content"]]
    assert post_search(api, notes, "zeppelin", searchMode="keyword") == []
    # Hybrid: both, and its alpha extremes are the pure modes.
    assert "tax" in post_search(api, notes, "taxes", searchMode="hybrid")[0]["content"]
    assert contents(post_search(api, notes, "basil", searchMode="hybrid", alpha=0)) == contents(
        post_search(api, notes, "basil", searchMode="keyword")
    )
    assert contents(post_search(api, notes, "recipe", searchMode="hybrid", alpha=1)) == contents(
        post_search(api, notes, "recipe", searchMode="vector")
    )


def test_every_filter(api, notes):
    q = "xylophone tax basil"
    assert len(post_search(api, notes, q, filters={"sourceType": "action"})) == 1
    assert len(post_search(api, notes, q, filters={"agentId": "agent-a"})) == 2
    # At the top of the body as in GET's parameters (it was dropped: every agent's came).
    assert len(post_search(api, notes, q, agentId="agent-a")) == 2
    clash = {"userId": notes, "query": q, "agentId": "agent-a", "filters": {"agentId": "b"}}
    assert_problem(api.post("/v1/search", json=clash), 400, "agentId")
    assert len(post_search(api, notes, q, sessionId="s-food")) == 1
    # asOf (seed 001): "only chunks ingested on or before this timestamp", whatever
    # metadata.timestamp says happened when: two of the notes are dated before 2025-07,
    # but none had been ingested then.
    assert post_search(api, notes, q, filters={"asOf": "2025-07-01T00:00:00Z"}) == []
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert len(post_search(api, notes, q, filters={"asOf": soon})) == 3
    assert post_search(api, notes, q, filters={"asOfKnowledge": "2020-01-01T00:00:00Z"}) == []
    got = api.get("/v1/search", params={"userId": notes, "q": q, "sourceType": "meeting"})
    assert len(got.json()["results"]) == 1
    got = api.get("/v1/search", params={"userId": notes, "q": q, "asOf": "2025-04-01T00:00:00Z"})
    assert got.json()["results"] == []
    got = api.get("/v1/search", params={"userId": notes, "q": q, "asOf": soon})
    assert len(got.json()["results"]) == 3


def test_another_tenant_sees_nothing(stack, api, notes):
    key = stack.api_key + "-other-tenant"
    with stack.extra_gateway(key, MNEMO_DEV_TENANT="other") as other:
        assert search(other, notes, "xylophone tax basil") == []
        assert other.get("/v1/memories", params={"userId": notes}).json()["total"] == 0
        other.post("/v1/ingest", json={"userId": notes, "content": "other tenant's zebra"})
        eventually(lambda: search(other, notes, "zebra"))
        assert all("zebra" not in h["content"] for h in search(api, notes, "zebra"))


def test_changing_the_embedding_model_reindexes_from_the_log(stack, api, notes):
    # A memory deleted, then sent again under its sourceId (its second life, same id): the
    # re-index replays its deletion, which must not drop the second life.
    again = notes + "-again"
    sent = {"userId": again, "content": "the quokka census is on friday", "sourceId": "crm:1"}
    memory_id = api.post("/v1/ingest", json=sent).json()["id"]
    eventually(lambda: search(api, again, "quokka"))
    assert api.delete(f"/v1/memories/{memory_id}").status_code == 200
    assert api.post("/v1/ingest", json=sent).json()["id"] == memory_id
    eventually(lambda: search(api, again, "quokka"))
    stack.stop("retrieval")
    stack.start("retrieval", MNEMO_EMBEDDER="hashing", MNEMO_EMBEDDING_DIM="512")
    try:
        # Inside: a start that outlives its deadline still gives the stack back its model.
        stack.wait_healthy()
        # 512-d hashing vectors now: the old 384-d index was dropped and rebuilt from the log.
        found = post_search(api, notes, "grandmother pasta recipe fresh basil", searchMode="vector")
        assert "basil" in found[0]["content"]
        assert len(found) == 3
        assert [h["id"] for h in search(api, again, "quokka")] == [memory_id]
        assert api.get("/v1/memories", params={"userId": again}).json()["total"] == 1
    finally:
        stack.stop("retrieval")
        stack.start("retrieval")
        stack.wait_healthy()
    assert (
        "xylophone"
        in post_search(api, notes, "percussion musician", searchMode="vector")[0]["content"]
    )
