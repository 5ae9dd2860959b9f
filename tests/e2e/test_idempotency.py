"""Idempotency-Key: replays, mismatches, concurrency and 5xx that are never kept."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .test_memories_api import memories
from .waiting import eventually


@pytest.fixture
def own(stack, api):
    """A tenant of the test's own (its master key), for a test that needs its kept answers
    to stay: a forget erases every kept answer of its tenant once it has answered (ingest's
    eraser, seconds later), so another test's forget in the shared development tenant could
    erase one between two requests of this test."""
    tenant = sign_up(api, "idem-" + uuid.uuid4().hex[:6])
    with as_key(stack, tenant.master) as client:
        yield client


def test_concurrent_retries_with_one_key_run_the_handler_once(stack, own, user_id):
    key = "idem-" + uuid.uuid4().hex
    body = {"userId": user_id, "content": "exactly once please"}
    master = own.headers["Authorization"]

    def send(_: int):
        with stack.client(**{"Idempotency-Key": key, "Authorization": master}) as client:
            return client.post("/v1/ingest", json=body)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 5
    assert len({r.headers["x-request-id"] for r in responses}) == 6
    own.post("/v1/ingest", json={"userId": user_id, "content": "marker"})
    page = eventually(lambda: (p := memories(own, user_id))["total"] >= 2 and p)
    assert sorted(m["content"] for m in page["memories"]) == ["exactly once please", "marker"]


def test_the_same_key_with_another_body_is_409(own, user_id):
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    first = own.post("/v1/ingest", json={"userId": user_id, "content": "a"}, headers=headers)
    assert first.status_code == 202
    other = own.post("/v1/ingest", json={"userId": user_id, "content": "b"}, headers=headers)
    assert assert_problem(other, 409)["code"] == "IDEMPOTENCY_BODY_MISMATCH"
    elsewhere = own.post("/v1/ingest/batch", json={"items": []}, headers=headers)
    assert assert_problem(elsewhere, 409)["code"] == "IDEMPOTENCY_BODY_MISMATCH"


def test_a_bad_key_is_400(api, user_id):
    body = {"userId": user_id, "content": "x"}
    too_long = api.post("/v1/ingest", json=body, headers={"Idempotency-Key": "k" * 256})
    assert_problem(too_long, 400, "Idempotency-Key")


def test_errors_below_500_are_kept_and_5xx_are_not(stack, own, user_id):
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    bad = own.post("/v1/ingest", json={"content": "no user"}, headers=headers)
    again = own.post("/v1/ingest", json={"content": "no user"}, headers=headers)
    assert bad.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"

    key = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    stack.stop("ingest")
    try:
        down = own.delete("/v1/user", params={"userId": user_id}, headers=key)
        assert down.status_code >= 500
    finally:
        stack.start("ingest")
        stack.wait_healthy()
    up = own.delete("/v1/user", params={"userId": user_id}, headers=key)
    assert up.status_code == 200
    assert "Idempotent-Replayed" not in up.headers


def test_a_retry_after_a_forget_erased_its_kept_answer_stores_nothing_twice(stack, api):
    """A forget erases the tenant's kept answers (they may quote the forgotten user). A
    retry of another user's request then runs again: its Idempotency-Key still fixes the
    ids it writes, on every surface, so it is stored once (MEMANTO's and ElizaOS's writes
    took new ids, and stored it twice)."""
    user, entity = "idem-" + uuid.uuid4().hex[:8], str(uuid.uuid4())
    agent = api.post("/v1/agents", json={"name": "retrier"}).json()["id"]  # a UUID
    token = api.post(f"/api/v2/agents/{agent}/activate").json()["session_token"]
    sends = {
        "native": ("/v1/ingest", {"userId": user, "content": "native once"}, {}),
        "memanto": (
            f"/api/v2/agents/{agent}/remember",
            {"content": "memanto once", "user_id": user},
            {"X-Session-Token": token},
        ),
        "eliza": (
            f"/api/agents/{agent}/memories",
            {"content": {"text": "eliza once"}, "entityId": entity},
            {},
        ),
    }
    key = "retry-" + uuid.uuid4().hex

    def send(name: str) -> httpx.Response:
        path, body, headers = sends[name]
        response = api.post(path, json=body, headers={**headers, "Idempotency-Key": key + name})
        assert response.status_code < 300, response.text
        return response

    first = {name: send(name) for name in sends}
    for response in first.values():
        assert response.headers.get("Idempotent-Replayed") != "true"
    assert api.delete("/v1/user", params={"userId": "someone-else-" + user}).status_code == 200
    # Once the kept answers are gone, the retries run again: the same ids.
    for name in sends:
        again = eventually(
            lambda n=name: (r := send(n)).headers.get("Idempotent-Replayed") != "true" and r
        )
        assert memory_id(again) == memory_id(first[name]), (name, again.text)

    def stored() -> list[str]:
        both = memories(api, user)["memories"] + memories(api, entity)["memories"]
        return sorted(m["content"] for m in both)

    eventually(lambda: len(stored()) >= 3)
    assert stored() == ["eliza once", "memanto once", "native once"]


def memory_id(response: httpx.Response) -> str:
    body = response.json()
    found = body.get("id") or body.get("memory_id") or (body.get("data") or {}).get("id")
    assert found, body
    return str(found)


def test_an_agent_made_without_an_id_is_made_once_by_a_retry_whose_answer_is_gone(own):
    """POST /v1/agents and Elephantasm's POST /api/animas without an id: the Idempotency-Key
    names the agent, so a retry that runs again (its kept answer erased by a forget, or
    never kept: the gateway died first) finds the agent it made (it made a second one)."""
    tag = uuid.uuid4().hex[:8]
    sends = {
        "native": ("/v1/agents", {"name": "made once " + tag}),
        "elephantasm": ("/api/animas", {"name": "anima once " + tag}),
    }

    def send(name: str) -> httpx.Response:
        path, body = sends[name]
        response = own.post(path, json=body, headers={"Idempotency-Key": f"agent-{tag}-{name}"})
        assert response.status_code == 201, response.text
        return response

    first = {name: send(name).json()["id"] for name in sends}
    assert own.delete("/v1/user", params={"userId": "someone-" + tag}).status_code == 200
    for name in sends:
        again = eventually(
            lambda n=name: (r := send(n)).headers.get("Idempotent-Replayed") != "true" and r
        )
        assert again.json()["id"] == first[name], name
    agents = own.get("/v1/agents", params={"limit": 200}).json()["agents"]
    names = sorted(a["name"] for a in agents if a["name"].endswith(tag))
    assert names == ["anima once " + tag, "made once " + tag]


def test_a_fact_change_is_made_once_by_a_retry_whose_answer_is_gone(own, user_id):
    """A fact's contradiction, supersession and Mem0 update, retried with their
    Idempotency-Key once the kept answer is gone, answer the change made (its ids derive
    from the key): a contradiction was stated twice (two facts of the same words), a
    supersession answered 409 (the fact had ended) and a Mem0 update revised its own
    revision (a second UPDATE in the history)."""
    own.post("/v1/ingest", json={"userId": user_id, "content": "I work at Acme. I live in Oslo."})
    found = eventually(
        lambda: (
            len(f := own.get("/v1/facts", params={"userId": user_id}).json()["facts"]) == 2
            and {fact["attribute"]: fact["id"] for fact in f}
        )
    )
    work, home = found["employer"], found["location"]
    tag = uuid.uuid4().hex[:8]
    sends = {
        "contradict": (f"/v1/facts/{work}/contradict", {"content": "Works at Initech"}),
        "supersede": (f"/v1/facts/{home}/supersede", {"content": "Lives in Bergen"}),
    }

    def send(name: str) -> httpx.Response:
        path, body = sends[name]
        method = "PUT" if name == "mem0" else "POST"
        headers = {"Idempotency-Key": f"fact-{tag}-{name}"}
        response = own.request(method, path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    first = {name: send(name).json() for name in sends}
    # A Mem0 update of the fact the supersession stated (a memory of Mem0's: its chain).
    sends["mem0"] = (f"/mem0/v1/memories/{home}/", {"text": "Lives in Tromso"})
    mem0 = send("mem0").json()
    assert own.delete("/v1/user", params={"userId": "someone-" + tag}).status_code == 200
    for name in sends:
        again = eventually(
            lambda n=name: (r := send(n)).headers.get("Idempotent-Replayed") != "true" and r
        ).json()
        if name == "mem0":
            assert again["memory"] == mem0["memory"] == "Lives in Tromso"
        else:
            assert again["newFact"]["id"] == first[name]["newFact"]["id"], name
            assert again["eventIds"] == first[name]["eventIds"], name
    statements = sorted(
        f["statement"] for f in own.get("/v1/facts", params={"userId": user_id}).json()["facts"]
    )
    assert statements == ["Lives in Tromso", "Works at Acme", "Works at Initech"]
    history = own.get(f"/mem0/v1/memories/{home}/history/").json()
    assert [h["event"] for h in history] == ["ADD", "UPDATE", "UPDATE"], history


def test_a_mem0_update_sent_again_makes_no_second_revision(own, user_id):
    """PUT is idempotent: Mem0's update sent again with the same body (a client's retry
    after a lost answer, without an Idempotency-Key) changes nothing, of a memory stored as
    it was said or of a fact synthesis drew (each made a second revision, its old and new
    words the same)."""
    added = own.post(
        "/mem0/v3/memories/add/",
        json={"messages": "I like tea", "user_id": user_id, "infer": False},
    )
    memory = added.json()["results"][0]["id"]
    eventually(lambda: own.get(f"/mem0/v1/memories/{memory}/").status_code == 200)
    own.post("/v1/ingest", json={"userId": user_id + "-f", "content": "I live in Oslo."})
    [fact] = eventually(
        lambda: own.get("/v1/facts", params={"userId": user_id + "-f"}).json()["facts"]
    )
    for memory_id, text in ((memory, "I like green tea"), (fact["id"], "Lives in Bergen")):
        answers = [
            own.put(f"/mem0/v1/memories/{memory_id}/", json={"text": text}) for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [200, 200], answers[1].text
        assert answers[0].json()["memory"] == answers[1].json()["memory"] == text
        history = own.get(f"/mem0/v1/memories/{memory_id}/history/").json()
        changes = [(h["event"], h["old_memory"], h["new_memory"]) for h in history]
        assert [c[0] for c in changes] == ["ADD", "UPDATE"], changes
        assert own.get(f"/mem0/v1/memories/{memory_id}/").json()["memory"] == text


def test_a_contradiction_sent_again_states_its_fact_once(own, user_id):
    """The same contradiction sent again without an Idempotency-Key (a client's retry after
    a lost answer) answers the fact it stated: it stated a second fact of the same words."""
    own.post("/v1/ingest", json={"userId": user_id, "content": "I work at Acme."})
    [fact] = eventually(lambda: own.get("/v1/facts", params={"userId": user_id}).json()["facts"])
    body = {"content": "Works at Initech", "reason": "said so"}
    answers = [own.post(f"/v1/facts/{fact['id']}/contradict", json=body) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert answers[1].json()["newFact"]["id"] == answers[0].json()["newFact"]["id"]
    assert answers[1].json()["fact"]["contradictedBy"] == [answers[0].json()["newFact"]["id"]]
    statements = [
        f["statement"] for f in own.get("/v1/facts", params={"userId": user_id}).json()["facts"]
    ]
    assert sorted(statements) == ["Works at Acme", "Works at Initech"]


def test_a_retried_deletion_is_replayed_after_a_forget_and_deletes_nothing_after_it(own, user_id):
    """A forget erases the tenant's kept answers, which may hold what the user said; a
    deletion's answer holds none, and was erased too: retried, a forget, a memory's
    deletion or an agent's ran again and deleted what had been accepted since (the user's
    new life, the memory recorded anew under its sourceId, the agent made again). They
    are kept apart and replayed; the same key with another method is still a 409."""
    tag = uuid.uuid4().hex[:8]
    own.post("/v1/ingest", json={"userId": user_id, "content": "old life in Rome"})
    sent = own.post(
        "/v1/ingest", json={"userId": user_id + "-m", "content": "first words", "sourceId": "s1"}
    )
    memory = sent.json()["id"]
    agent = own.post("/v1/agents", json={"id": "gone-" + tag, "name": "gone"}).json()["id"]
    eventually(lambda: memories(own, user_id)["total"] == 1)
    eventually(lambda: own.get(f"/v1/memories/{memory}").status_code == 200)
    deletions = {
        "forget": ("/v1/user", {"userId": user_id}),
        "memory": (f"/v1/memories/{memory}", None),
        "agent": (f"/v1/agents/{agent}", None),
    }

    def delete(name: str) -> httpx.Response:
        path, params = deletions[name]
        answer = own.delete(path, params=params, headers={"Idempotency-Key": f"del-{tag}-{name}"})
        assert answer.status_code == 200, answer.text
        return answer

    first = {name: delete(name).json() for name in deletions}
    mismatch = own.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "x"},
        headers={"Idempotency-Key": f"del-{tag}-forget"},
    )
    assert mismatch.status_code == 409, mismatch.text
    # What came after each deletion: the user's new life, the memory again, the agent again.
    own.post("/v1/ingest", json={"userId": user_id, "content": "new life in Lisbon"})
    eventually(
        lambda: (
            own.post(
                "/v1/ingest",
                json={"userId": user_id + "-m", "content": "said anew", "sourceId": "s1"},
            ).status_code
            == 202
            and own.get(f"/v1/memories/{memory}").status_code == 200
        )
    )
    assert own.post("/v1/agents", json={"id": agent, "name": "again"}).status_code == 201
    eventually(lambda: memories(own, user_id)["total"] == 1)
    # A kept answer that may hold words, and another user forgotten: once that answer is
    # gone, the eraser has swept the tenant's.
    probe = {"Idempotency-Key": f"probe-{tag}"}
    own.post("/v1/ingest", json={"userId": user_id + "-p", "content": "probe"}, headers=probe)
    assert own.delete("/v1/user", params={"userId": "someone-" + tag}).status_code == 200
    eventually(
        lambda: (
            own.post(
                "/v1/ingest", json={"userId": user_id + "-p", "content": "probe"}, headers=probe
            ).headers.get("Idempotent-Replayed")
            != "true"
        )
    )
    for name in deletions:
        again = delete(name)
        assert again.headers.get("Idempotent-Replayed") == "true", name
        assert again.json() == first[name], name
    assert [m["content"] for m in memories(own, user_id)["memories"]] == ["new life in Lisbon"]
    assert own.get(f"/v1/memories/{memory}").json()["content"] == "said anew"
    assert own.get(f"/v1/agents/{agent}").json()["name"] == "again"


def test_an_agent_deleted_after_it_was_made_is_not_made_again_by_a_retry(own):
    """A retry of `POST /v1/agents` (or Elephantasm's `POST /api/animas`) without an id,
    its kept answer erased by a forget, made the agent its key names again, though it had
    been deleted since: a deletion brought back. It is answered as it was made."""
    tag = uuid.uuid4().hex[:8]
    sends = {
        "native": ("/v1/agents", {"name": "made then gone " + tag}),
        "elephantasm": ("/api/animas", {"name": "anima then gone " + tag}),
    }

    def send(name: str) -> httpx.Response:
        path, body = sends[name]
        answer = own.post(path, json=body, headers={"Idempotency-Key": f"gone-{tag}-{name}"})
        assert answer.status_code == 201, answer.text
        return answer

    made = {name: send(name).json()["id"] for name in sends}
    for agent in made.values():
        assert own.delete(f"/v1/agents/{agent}").status_code == 200
    assert own.delete("/v1/user", params={"userId": "someone-" + tag}).status_code == 200
    for name, agent in made.items():
        again = eventually(
            lambda n=name: (r := send(n)).headers.get("Idempotent-Replayed") != "true" and r
        )
        assert again.json()["id"] == agent, name
        assert own.get(f"/v1/agents/{agent}").status_code == 404, name
    names = [a["name"] for a in own.get("/v1/agents", params={"limit": 200}).json()["agents"]]
    assert not [n for n in names if n.endswith(tag)]


def test_an_elephantasm_event_retried_once_its_answer_is_gone_is_answered_as_made(own):
    """An event sent with an Idempotency-Key (with or without a dedupe_key), retried once
    a forget had erased its kept answer: it was stored once but answered 409 "already
    exists", telling the client its write had conflicted. It is answered 201 as made; the
    same dedupe_key in another request is still a 409."""
    tag = uuid.uuid4().hex[:8]
    anima = own.post("/api/animas", json={"name": "events " + tag}).json()["id"]
    bodies = {
        "keyless": {"anima_id": anima, "event_type": "message.in", "content": "hello " + tag},
        "keyed": {
            "anima_id": anima,
            "event_type": "message.in",
            "content": "keyed " + tag,
            "dedupe_key": "dk-" + tag,
        },
    }

    def send(name: str) -> httpx.Response:
        headers = {"Idempotency-Key": f"ev-{tag}-{name}"}
        return own.post("/api/events", json=bodies[name], headers=headers)

    first = {name: send(name) for name in bodies}
    assert [a.status_code for a in first.values()] == [201, 201]
    assert own.delete("/v1/user", params={"userId": "someone-" + tag}).status_code == 200
    for name in bodies:
        again = eventually(
            lambda n=name: (r := send(n)).headers.get("Idempotent-Replayed") != "true" and r
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] == first[name].json()["id"]
    other = own.post("/api/events", json={**bodies["keyed"], "content": "another"})
    assert other.status_code == 409, other.text
    page = eventually(
        lambda: (p := own.get("/v1/memories", params={"userId": anima}).json())["total"] == 2 and p
    )
    assert sorted(m["content"] for m in page["memories"]) == ["hello " + tag, "keyed " + tag]
