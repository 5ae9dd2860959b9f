"""Projections are disposable: drop Qdrant, rebuild from the log, and search still finds it."""

from .conftest import own_stack
from .test_thin_path import chain, search
from .waiting import eventually

# A stack of this module's own (it overrides the session's): a rebuild re-indexes every
# memory its stack holds, and the session's holds every earlier test's (a minute of
# MiniLM, growing with the suite, under the tests after it if it outlived its deadline).
stack = own_stack("rebuild")


def test_retrieval_index_rebuilds_from_the_log(stack, api, user_id):
    response = api.post("/v1/ingest", json={"userId": user_id, "content": "The lighthouse is red"})
    assert response.status_code == 202
    memory_id = response.json()["id"]
    eventually(lambda: search(api, user_id, "lighthouse"))

    assert "rebuilt the memory index from the log" in stack.rebuild("retrieval")

    hits = search(api, user_id, "lighthouse")
    assert [h["id"] for h in hits] == [memory_id]


def test_audit_index_rebuilds_from_the_streams(stack, api, user_id):
    correlation = "corr-" + user_id
    api.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "audit me"},
        headers={"x-correlation-id": correlation},
    )
    wanted = {
        "http.request",
        "ingest.memory",
        "memory.recorded",
        "memory.synthesized",
        "subject.synthesized",
        "memory.indexed",
    }

    def complete():
        found = chain(api, correlation)
        return found if {e["type"] for e in found["events"]} >= wanted else None

    before = eventually(complete)
    stack.rebuild("audit")
    after = eventually(complete)
    assert [e["message_id"] for e in after["events"]] == [e["message_id"] for e in before["events"]]
