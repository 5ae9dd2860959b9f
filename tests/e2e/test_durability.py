"""A 202 means durable: accepted while ingest is down, recorded once it is back."""

from .test_memories_api import memories
from .waiting import eventually


def test_accepted_while_ingest_is_down_is_recorded_when_it_returns(stack, api, user_id):
    stack.stop("ingest")
    try:
        response = api.post("/v1/ingest", json={"userId": user_id, "content": "kept while down"})
        assert response.status_code == 202
        batch = api.post(
            "/v1/ingest/batch",
            json={"items": [{"userId": user_id, "content": f"batch {i}"} for i in range(3)]},
        )
        assert batch.status_code == 202
    finally:
        stack.start("ingest")
        stack.wait_healthy()
    page = eventually(lambda: (p := memories(api, user_id))["total"] == 4 and p)
    assert {m["content"] for m in page["memories"]} == {
        "kept while down",
        "batch 0",
        "batch 1",
        "batch 2",
    }
