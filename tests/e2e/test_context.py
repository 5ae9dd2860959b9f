"""GET /v1/context: profile lists from synthesis and relevant chunks, in valid and
knowledge time."""

from datetime import UTC, datetime, timedelta

from .test_errors import assert_problem
from .waiting import eventually


def context(api, user_id: str, **params) -> dict:
    response = api.get("/v1/context", params={"userId": user_id, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_profile_and_relevant_chunks_in_valid_and_knowledge_time(api, user_id):
    body = {
        "userId": user_id,
        "content": "I work at Stripe. I'm currently building a webhook retry system.",
        "sessionId": "s-ctx",
        "sourceType": "conversation",
        "metadata": {"timestamp": "2026-06-08T09:00:00Z"},
    }
    api.post("/v1/ingest", json=body)
    # Retrieval and synthesis catch up independently: wait for both.
    found = eventually(
        lambda: (
            (c := context(api, user_id, q="webhook retry"))["relevant"]
            and c["static"]
            and c["dynamic"]
            and c
        )
    )
    assert "Works at Stripe" in found["static"]
    assert "Working on a webhook retry system" in found["dynamic"]
    [hit] = found["relevant"]
    assert hit["similarity"] > 0
    assert hit["metadata"]["sessionId"] == "s-ctx"
    assert hit["metadata"]["sourceType"] == "conversation"
    assert hit["metadata"]["timestamp"] == "2026-06-08T09:00:00Z"

    # asOf: the profile as it was then in valid time (the SDK's reading), and only the
    # chunks ingested on or before then (seed 001's).
    before = context(api, user_id, q="webhook retry", asOf="2026-06-01T00:00:00Z")
    assert before == {"static": [], "dynamic": [], "relevant": []}
    after = context(api, user_id, q="webhook retry", asOf="2026-07-01T00:00:00Z")
    assert "Works at Stripe" in after["static"]
    assert datetime.now(UTC) > datetime(2026, 7, 1, tzinfo=UTC)  # ingested after asOf
    assert after["relevant"] == []
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    now = context(api, user_id, q="webhook retry", asOf=soon)
    assert now["static"] and len(now["relevant"]) == 1

    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    known_before = context(api, user_id, q="webhook retry", asOfKnowledge=an_hour_ago)
    assert known_before == {"static": [], "dynamic": [], "relevant": []}

    profile_only = context(api, user_id)
    assert profile_only["relevant"] == [] and profile_only["static"]


def test_context_parameters_are_checked(api, user_id):
    assert_problem(api.get("/v1/context"), 400, "userId")
    assert_problem(api.get("/v1/context", params={"userId": user_id, "limit": 21}), 400, "limit")
    bad = api.get("/v1/context", params={"userId": user_id, "asOf": "yesterday"})
    assert_problem(bad, 400, "asOf")


def test_forgetting_empties_the_profile(api, user_id):
    api.post("/v1/ingest", json={"userId": user_id, "content": "I live in Porto."})
    eventually(lambda: context(api, user_id)["static"])
    api.delete("/v1/user", params={"userId": user_id})
    eventually(lambda: context(api, user_id) == {"static": [], "dynamic": [], "relevant": []})
