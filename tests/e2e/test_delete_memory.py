"""DELETE /v1/memories/{id}: one memory leaves every read model and the index, stays gone
after a rebuild from the log, and only its own agent's key reaches it."""

import uuid

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .waiting import eventually


def test_a_deleted_memory_is_gone_everywhere_and_stays_gone(stack, api, user_id):
    keep = api.post("/v1/ingest", json={"userId": user_id, "content": "I keep ferrets"}).json()
    drop = api.post("/v1/ingest", json={"userId": user_id, "content": "I keep tarantulas"})
    drop_id = drop.json()["id"]

    def search(q: str) -> list[str]:
        return [
            h["id"]
            for h in api.get("/v1/search", params={"userId": user_id, "q": q}).json()["results"]
        ]

    eventually(lambda: drop_id in search("tarantulas"))
    gone = api.delete(f"/v1/memories/{drop_id}")
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"deleted": True, "id": drop_id, "userId": user_id}
    eventually(lambda: api.get(f"/v1/memories/{drop_id}").status_code == 404)
    assert drop_id not in search("tarantulas")
    assert keep["id"] in search("ferrets")
    listed = api.get("/v1/memories", params={"userId": user_id}).json()
    assert [m["id"] for m in listed["memories"]] == [keep["id"]]
    assert api.delete(f"/v1/memories/{drop_id}").status_code == 200  # the same answer again
    assert_problem(api.delete(f"/v1/memories/{uuid.uuid4()}"), 404)

    stack.rebuild("retrieval")
    stack.wait_healthy()
    eventually(lambda: keep["id"] in search("ferrets"))
    assert drop_id not in search("tarantulas")
    assert api.get(f"/v1/memories/{drop_id}").status_code == 404


def test_only_its_agent_or_the_tenant_deletes_a_memory(stack):
    with stack.client() as api:
        tenant = sign_up(api, "del-" + uuid.uuid4().hex[:6])
        stranger = sign_up(api, "del2-" + uuid.uuid4().hex[:6])
    with as_key(stack, tenant.master) as admin:
        other = admin.post("/v1/agents", json={"name": "other"}).json()["id"]
        other_key = admin.post("/v1/keys", json={"kind": "agent", "agentId": other}).json()["key"]
    with as_key(stack, tenant.agent_key) as own:
        memory_id = own.post("/v1/ingest", json={"userId": "u", "content": "mine"}).json()["id"]
        eventually(lambda: own.get(f"/v1/memories/{memory_id}").status_code == 200)
    for key in (other_key, stranger.master):
        with as_key(stack, key) as outsider:
            assert_problem(outsider.delete(f"/v1/memories/{memory_id}"), 404)
    with as_key(stack, tenant.agent_key) as own:
        assert own.delete(f"/v1/memories/{memory_id}").status_code == 200
