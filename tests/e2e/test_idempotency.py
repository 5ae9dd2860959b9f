"""Idempotency-Key: replays, mismatches, concurrency and 5xx that are never kept."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from .test_errors import assert_problem
from .test_memories_api import memories
from .waiting import eventually


def test_concurrent_retries_with_one_key_run_the_handler_once(stack, api, user_id):
    key = "idem-" + uuid.uuid4().hex
    body = {"userId": user_id, "content": "exactly once please"}

    def send(_: int):
        with stack.client(**{"Idempotency-Key": key}) as client:
            return client.post("/v1/ingest", json=body)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 5
    assert len({r.headers["x-request-id"] for r in responses}) == 6
    api.post("/v1/ingest", json={"userId": user_id, "content": "marker"})
    page = eventually(lambda: (p := memories(api, user_id))["total"] >= 2 and p)
    assert sorted(m["content"] for m in page["memories"]) == ["exactly once please", "marker"]


def test_the_same_key_with_another_body_is_409(api, user_id):
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    first = api.post("/v1/ingest", json={"userId": user_id, "content": "a"}, headers=headers)
    assert first.status_code == 202
    other = api.post("/v1/ingest", json={"userId": user_id, "content": "b"}, headers=headers)
    assert assert_problem(other, 409)["code"] == "IDEMPOTENCY_BODY_MISMATCH"
    elsewhere = api.post("/v1/ingest/batch", json={"items": []}, headers=headers)
    assert assert_problem(elsewhere, 409)["code"] == "IDEMPOTENCY_BODY_MISMATCH"


def test_a_bad_key_is_400(api, user_id):
    body = {"userId": user_id, "content": "x"}
    too_long = api.post("/v1/ingest", json=body, headers={"Idempotency-Key": "k" * 256})
    assert_problem(too_long, 400, "Idempotency-Key")


def test_errors_below_500_are_kept_and_5xx_are_not(stack, api, user_id):
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    bad = api.post("/v1/ingest", json={"content": "no user"}, headers=headers)
    again = api.post("/v1/ingest", json={"content": "no user"}, headers=headers)
    assert bad.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"

    key = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    stack.stop("ingest")
    try:
        down = api.delete("/v1/user", params={"userId": user_id}, headers=key)
        assert down.status_code >= 500
    finally:
        stack.start("ingest")
        stack.wait_healthy()
    up = api.delete("/v1/user", params={"userId": user_id}, headers=key)
    assert up.status_code == 200
    assert "Idempotent-Replayed" not in up.headers
