"""The mem0ai client from PyPI (MemoryClient, the Mem0 platform API), unchanged, pointed at
the gateway with host=. Its telemetry is off (MEM0_TELEMETRY, read when mem0 is first
imported) and its config directory is a temporary one: nothing leaves the machine."""

import json
import os
import tempfile
import uuid

os.environ["MEM0_TELEMETRY"] = "False"
os.environ["MEM0_DIR"] = tempfile.mkdtemp(prefix="mem0-client-")

import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .waiting import eventually


@pytest.fixture(scope="module")
def acme(stack):
    with stack.client() as api:
        return sign_up(api, "mem0-" + uuid.uuid4().hex[:6])


@pytest.fixture(scope="module")
def client(stack, acme):
    return MemoryClient(api_key=acme.master, host=stack.base_url)


@pytest.fixture
def user():
    return "mem0-user-" + uuid.uuid4().hex[:8]


def found(client: MemoryClient, memory_id: str):
    """The memory once ingest has it (an add is queued), else None."""
    try:
        return client.get(memory_id)
    except MemoryNotFoundError:
        return None


def listed(client: MemoryClient, count: int, **filters):
    return eventually(lambda: (page := client.get_all(filters=filters))["count"] == count and page)


def test_the_client_connects_and_adds_messages_stored_as_is(client, acme, user):
    assert client.org_id == acme.tenant_id
    added = client.add(
        [
            {"role": "user", "content": "I am allergic to peanuts"},
            {"role": "assistant", "content": "Noted: no peanuts in your recipes."},
        ],
        user_id=user,
        metadata={"topic": "health"},
        infer=False,
    )
    assert added["status"] == "PENDING"
    first, second = (r["id"] for r in added["results"])
    assert [r["event"] for r in added["results"]] == ["ADD", "ADD"]
    got = eventually(lambda: found(client, first))
    assert got["memory"] == "I am allergic to peanuts"
    assert got["user_id"] == user and got["agent_id"] is None
    assert got["metadata"] == {"topic": "health"}  # role is kept, but not shown as metadata
    page = listed(client, 2, user_id=user)
    assert {m["id"] for m in page["results"]} == {first, second}
    assert client.get(second)["memory"] == "Noted: no peanuts in your recipes."
    # A user nobody wrote about has nothing.
    assert client.get_all(filters={"user_id": "nobody-" + user})["count"] == 0


def test_search_with_filters_and_top_k(client, user):
    client.add("I play the cello in a quartet", user_id=user, infer=False)
    client.add("My quartet rehearses on Thursdays", user_id=user, run_id="run-2", infer=False)
    client.add("The cello needs new strings", user_id=user, infer=False, metadata={"k": "v"})
    listed(client, 3, user_id=user)
    # A listing reads retrieval's memories table, written just before the index: a memory
    # listed may not be searchable yet.
    eventually(
        lambda: (
            len(client.search("cello quartet", filters={"user_id": user}, top_k=5)["results"]) == 3
        )
    )
    best = client.search("cello", filters={"user_id": user}, top_k=1)["results"]
    assert len(best) == 1 and "cello" in best[0]["memory"] and best[0]["score"] > 0
    both = client.search("cello", filters={"user_id": user}, top_k=5)["results"]
    assert {m["memory"] for m in both} >= {
        "I play the cello in a quartet",
        "The cello needs new strings",
    }
    in_run = client.search(
        "quartet", filters={"AND": [{"user_id": user}, {"run_id": "run-2"}]}, top_k=5
    )["results"]
    assert [m["memory"] for m in in_run] == ["My quartet rehearses on Thursdays"]
    assert in_run[0]["run_id"] == "run-2"
    whole_run = client.get_all(filters={"run_id": "run-2"})["results"]
    assert [m["memory"] for m in whole_run] == ["My quartet rehearses on Thursdays"]
    # A run is scope enough to search too (it was a 502: the index wanted a user or agent).
    run_only = client.search("quartet rehearses", filters={"run_id": "run-2"}, top_k=5)
    assert [m["memory"] for m in run_only["results"]] == ["My quartet rehearses on Thursdays"]
    tagged = client.search("cello", filters={"user_id": user, "metadata": {"k": "v"}})
    assert [m["memory"] for m in tagged["results"]] == ["The cello needs new strings"]
    paged = client.get_all(filters={"user_id": user}, page=2, page_size=2)
    assert paged["count"] == 3 and len(paged["results"]) == 1 and paged["next"] is None


def test_update_is_a_new_version_and_history_comes_from_the_log(client, user):
    [memory] = client.add("I live in Lisbon", user_id=user, infer=False)["results"]
    memory_id = memory["id"]
    eventually(lambda: found(client, memory_id))
    created_at = client.get(memory_id)["created_at"]
    updated = client.update(memory_id, text="I live in Porto")
    assert updated["id"] == memory_id and updated["memory"] == "I live in Porto"
    # Read from the log: the new text at once, under the same id and first time (written
    # as every time is: it was `+00:00` after an update, `Z` before).
    assert updated["created_at"] == created_at and created_at.endswith("Z")
    assert client.get(memory_id)["memory"] == "I live in Porto"
    assert client.get(memory_id)["created_at"] == created_at
    # Searches and listings after the answer find the new words at once (not neither).
    hits = client.search("where do I live", filters={"user_id": user})["results"]
    assert [h["memory"] for h in hits] == ["I live in Porto"]
    listing = client.get_all(filters={"user_id": user})["results"]
    assert [(m["id"], m["memory"]) for m in listing] == [(memory_id, "I live in Porto")]
    client.update(memory_id, metadata={"moved": True})
    now = client.get(memory_id)
    assert now["memory"] == "I live in Porto" and now["metadata"] == {"moved": True}
    history = client.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, "I live in Lisbon"),
        ("UPDATE", "I live in Lisbon", "I live in Porto"),
        ("UPDATE", "I live in Porto", "I live in Porto"),
    ]
    assert all(h["memory_id"] == memory_id for h in history)
    # The projections follow: one memory, under its first id, with the latest text.
    page = eventually(
        lambda: (
            (p := client.get_all(filters={"user_id": user}))["results"]
            and p["results"][0]["metadata"] == {"moved": True}
            and p
        )
    )
    assert [(m["id"], m["memory"]) for m in page["results"]] == [(memory_id, "I live in Porto")]
    hits = client.search("where do I live", filters={"user_id": user})["results"]
    assert [h["memory"] for h in hits] == ["I live in Porto"]
    assert client.delete(memory_id)["message"]
    with pytest.raises(MemoryNotFoundError):
        client.get(memory_id)
    # Asked again (a retry after a 503 READ_MODELS_BEHIND), the same answer, nothing more.
    assert client.delete(memory_id)["message"] == "Memory deleted successfully!"
    # Every change is still told, and no version's words (their key is shredded).
    history = client.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, None),
        ("UPDATE", None, None),
        ("UPDATE", None, None),
        ("DELETE", None, None),
    ]
    assert "Lisbon" not in str(history) and "Porto" not in str(history)
    with pytest.raises(MemoryNotFoundError):
        client.update(memory_id, text="I live in Faro")
    assert client.get_all(filters={"user_id": user})["count"] == 0


def test_delete_all_and_users(client, acme):
    ana, ben = "ana-" + uuid.uuid4().hex[:6], "ben-" + uuid.uuid4().hex[:6]
    client.add("Ana keeps bees", user_id=ana, infer=False)
    client.add("Ana sells honey", user_id=ana, infer=False)
    client.add("Ben fixes bikes", user_id=ben, agent_id="mechanic", run_id="visit-1", infer=False)
    listed(client, 2, user_id=ana)
    listed(client, 1, user_id=ben)
    entities = {(e["type"], e["name"]): e for e in client.users()["results"]}
    assert entities[("user", ana)]["total_memories"] == 2
    assert entities[("agent", "mechanic")]["total_memories"] == 1
    assert ("run", "visit-1") in entities
    by_agent = client.get_all(filters={"agent_id": "mechanic"})["results"]
    assert [(m["memory"], m["user_id"]) for m in by_agent] == [("Ben fixes bikes", ben)]
    assert client.delete_all(user_id=ana)["message"]
    # Forgotten before the answer: no read after it finds Ana.
    assert client.get_all(filters={"user_id": ana})["count"] == 0
    assert ("user", ana) not in {(e["type"], e["name"]) for e in client.users()["results"]}
    client.delete_users(user_id=ben)
    assert client.get_all(filters={"user_id": ben})["count"] == 0


def test_delete_all_of_an_agent_deletes_what_was_just_added(client, user):
    """Deleting an agent's memories the moment they are added (the read model may not have
    them yet): they are found in the log, so none is left once the pipeline has caught up."""
    agent = "courier-" + uuid.uuid4().hex[:6]
    for text in ("Parcel one left", "Parcel two left", "Parcel three left"):
        client.add(text, user_id=user, agent_id=agent, infer=False)
    assert client.delete_all(agent_id=agent)["message"]
    client.add("A marker after the deletion", user_id=user, infer=False)
    # The read model follows the log in order: once the marker is in, so is every deletion.
    listed(client, 1, user_id=user)
    assert client.get_all(filters={"agent_id": agent})["count"] == 0


def test_delete_all_of_a_run_deletes_what_was_just_added(client, user):
    """Deleting a run's memories the moment they are added (the read model may not have
    them yet): they are found in the log, so none is left once the pipeline has caught up;
    a memory of another run of the user stays."""
    run, other = "run-" + uuid.uuid4().hex[:6], "run-" + uuid.uuid4().hex[:6]
    client.add("Kept in another run", user_id=user, run_id=other, infer=False)
    for text in ("Leg one booked", "Leg two booked", "Leg three booked"):
        client.add(text, user_id=user, run_id=run, infer=False)
    assert client.delete_all(run_id=run)["message"]
    client.add("A marker after the deletion", user_id=user, infer=False)
    # The read model follows the log in order: once the marker is in, so is every deletion.
    listed(client, 2, user_id=user)
    assert client.get_all(filters={"run_id": run})["count"] == 0
    assert client.get_all(filters={"run_id": other})["count"] == 1


def test_delete_all_by_app_deletes_what_was_just_added(client, user):
    """The same by app_id (with a user), and by a run of an agent: the app is matched on the
    memories the log holds, opened by ingest (the log keeps it sealed)."""
    app, run = "app-" + uuid.uuid4().hex[:6], "run-" + uuid.uuid4().hex[:6]
    agent = "pilot-" + uuid.uuid4().hex[:6]
    client.add("Other app's note", user_id=user, app_id=app + "-x", infer=False)
    client.add("The agent's other run", user_id=user, agent_id=agent, infer=False)
    for text in ("App note one", "App note two", "App note three"):
        client.add(text, user_id=user, app_id=app, infer=False)
    for text in ("Run note one", "Run note two"):
        client.add(text, user_id=user, agent_id=agent, run_id=run, infer=False)
    assert client.delete_all(user_id=user, app_id=app)["message"]
    assert client.delete_all(agent_id=agent, run_id=run)["message"]
    client.add("A marker after the deletions", user_id=user, infer=False)
    listed(client, 3, user_id=user)
    assert client.get_all(filters={"user_id": user, "app_id": app})["count"] == 0
    assert client.get_all(filters={"run_id": run})["count"] == 0
    assert client.get_all(filters={"agent_id": agent})["count"] == 1


def test_delete_all_deletes_what_its_metadata_and_filters_name_and_no_more(
    stack, client, acme, user
):
    """`delete_all(user_id=…, metadata={…})` (the SDK writes the dict as Python does) and a
    `filters` parameter narrow the deletion: both were ignored, so the user was forgotten
    (every memory, and the facts drawn from them). A parameter the route does not take is
    a 400 naming it, never ignored."""
    client.add("Hike up Mount Tam on Sunday", user_id=user, metadata={"topic": "hike"}, infer=False)
    client.add("Swim in the bay", user_id=user, run_id="r9", infer=False)
    client.add("I work at Initech", user_id=user, infer=False)
    listed(client, 3, user_id=user)
    assert client.delete_all(user_id=user, metadata={"topic": "hike"})["deleted"] == 1
    with as_key(stack, acme.master) as api:
        raw = api.delete(
            "/mem0/v1/memories/",
            params={"user_id": user, "filters": json.dumps({"run_id": "r9"})},
        )
        assert raw.status_code == 200 and raw.json()["deleted"] == 1, raw.text
        for params, field in (
            ({"user_id": user, "entity_id": "x"}, "entity_id"),
            ({"user_id": user, "metadata": "topic=hike"}, "metadata"),
            ({"user_id": user, "filters": "[1]"}, "filters"),
            # An AND of two users names none (it forgot the second).
            ({"user_id": user, "filters": json.dumps({"user_id": "bob"})}, "user_id"),
            ({"user_id": user, "metadata": '{"topic": NaN}'}, "metadata"),
            ({"user_id": user, "metadata": "[" * 1200}, "metadata"),
            ({"user_id": user, "metadata": "{'topic': {1, 2}}"}, "metadata"),
        ):
            refused = api.delete("/mem0/v1/memories/", params=params)
            assert refused.status_code == 400 and refused.json()["field"] == field, refused.text
        facts = eventually(lambda: api.get("/v1/facts", params={"userId": user}).json()["facts"])
    client.add("A marker after the deletions", user_id=user, infer=False)
    memories = [m["memory"] for m in listed(client, 2, user_id=user)["results"]]
    assert sorted(memories) == ["A marker after the deletions", "I work at Initech"]
    assert [f["statement"] for f in facts] == ["Works at Initech"]


def test_infer_shows_the_facts_synthesis_draws_and_they_change_as_memories(stack, client, user):
    said = "I work at Initech and my manager is Bill Lumbergh"
    added = client.add(
        [{"role": "user", "content": said}, {"role": "assistant", "content": "Got it."}],
        user_id=user,
        app_id="crm",
        metadata={"source": "chat"},
    )
    assert added["results"] == [] and added["status"] == "PENDING"  # the facts are to come
    page = eventually(
        lambda: (p := client.get_all(filters={"user_id": user}))["count"] and p, timeout=60
    )
    memories = page["results"]
    assert {m["memory"] for m in memories}.isdisjoint({said, "Got it."})
    assert all(m["user_id"] == user and m["app_id"] == "crm" for m in memories)
    assert all(m["metadata"] == {"source": "chat"} for m in memories)
    work = next(m for m in memories if "Initech" in m["memory"])
    assert client.get(work["id"])["memory"] == work["memory"]

    # Found through the memory it was drawn from, in retrieval's index, which may be a
    # moment behind the listing (retrieval's memories table, written first).
    def found_by_search() -> bool:
        hits = client.search("where does the user work", filters={"user_id": user})["results"]
        return work["id"] in [h["id"] for h in hits]

    eventually(found_by_search)
    assert client.get_all(filters={"user_id": user, "app_id": "other"})["count"] == 0
    assert "Initech" in client.get_summary(filters={"user_id": user})["summary"]

    updated = client.update(work["id"], text="works at Globex")
    assert updated["id"] == work["id"] and updated["memory"] == "works at Globex"
    assert client.get(work["id"])["memory"] == "works at Globex"
    assert client.delete(work["id"])["message"]
    with pytest.raises(MemoryNotFoundError):
        client.get(work["id"])
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in client.history(work["id"])] == [
        ("ADD", None, work["memory"]),
        ("UPDATE", work["memory"], "works at Globex"),
        ("DELETE", "works at Globex", None),
    ]
    left = client.get_all(filters={"user_id": user})["results"]
    assert work["id"] not in [m["id"] for m in left] and len(left) == len(memories) - 1


def test_isolation_between_agent_keys_and_tenants(stack, acme, user):
    owner = MemoryClient(api_key=acme.agent_key, host=stack.base_url)
    assert owner.project_id == acme.agent_id
    [memory] = owner.add("My locker code is 4711", user_id=user, infer=False)["results"]
    assert memory["agent_id"] == acme.agent_id  # an agent key writes as its agent
    eventually(lambda: found(owner, memory["id"]))
    with as_key(stack, acme.master) as admin:
        second = admin.post("/v1/agents", json={"name": "neighbour"}).json()["id"]
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": second}).json()["key"]
    with stack.client() as api:
        other = sign_up(api, "mem0-other-" + uuid.uuid4().hex[:6])
    for stranger_key in (key, other.master):
        stranger = MemoryClient(api_key=stranger_key, host=stack.base_url)
        for call in (
            lambda s: s.get(memory["id"]),
            lambda s: s.history(memory["id"]),
            lambda s: s.update(memory["id"], text="0000"),
            lambda s: s.delete(memory["id"]),
        ):
            with pytest.raises(MemoryNotFoundError):
                call(stranger)
        assert stranger.get_all(filters={"user_id": user})["count"] == 0
        assert stranger.search("locker code", filters={"user_id": user})["results"] == []
        assert user not in str(stranger.users())
        stranger.delete_all(user_id=user)
    # An agent key cannot name another agent.
    with pytest.raises(MemoryNotFoundError):
        owner.get_all(filters={"user_id": user, "agent_id": second})
    assert owner.get(memory["id"])["memory"] == "My locker code is 4711"


def test_errors_come_in_mem0_shape(stack, client, acme, user):
    with pytest.raises(ValidationError):
        client.add([{"role": "user", "content": "   "}], user_id=user)
    with pytest.raises(ValidationError):
        client.add("no scope at all")
    with pytest.raises(ValueError, match="invalid or revoked"):
        MemoryClient(api_key="mk_nope", host=stack.base_url)
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token) as raw:
        bad = raw.post("/v3/memories/search/", json={"query": "x", "top_k": 0})
        assert bad.status_code == 400 and "top_k" in bad.json()["detail"]
        odd = raw.post("/v3/memories/", json={"filters": {"OR": [{"user_id": user}]}})
        assert odd.status_code == 400 and "OR" in odd.json()["detail"]
        nothing = raw.get("/v1/summary/")
        assert nothing.status_code in (404, 405) and "detail" in nothing.json()
        # Retried with its Idempotency-Key, an add stores its messages once.
        body = {"messages": "once", "user_id": user, "infer": False}
        keyed = {"Idempotency-Key": uuid.uuid4().hex}
        first = raw.post("/v3/memories/add/", json=body, headers=keyed)
        again = raw.post("/v3/memories/add/", json=body, headers=keyed)
        assert first.status_code == again.status_code == 200
        assert first.json()["results"][0]["id"] == again.json()["results"][0]["id"]
        # Kept for a Token key as for a Bearer one: replayed, and another body is a 409.
        assert again.headers.get("idempotent-replayed") == "true"
        other = raw.post("/v3/memories/add/", json={**body, "messages": "twice"}, headers=keyed)
        assert other.status_code == 409 and "detail" in other.json()
    # The native surface keeps its own paths and shapes (Bearer keys).
    with as_key(stack, acme.master) as native:
        missing = native.get(f"/v1/memories/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


def test_deleting_a_user_named_with_a_slash_forgets_that_user_and_no_other(stack, acme):
    """The router strips `/` at either end of a path and collapses `//`: a master key's
    `delete_users` of `erin/` (the client sends `/v2/entities/user/erin//`) forgot `erin`."""
    erin = "erin-" + uuid.uuid4().hex[:6]
    token = {"Authorization": f"Token {acme.master}"}
    names = (erin, f"{erin}/", f"/{erin}", f"{erin}//x", f"{erin}/x")
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        for name in names:
            body = {"messages": f"I am {name}", "user_id": name, "infer": False}
            assert raw.post("/v3/memories/add/", json=body).status_code == 200

        def said() -> set[str]:
            found = set()
            for name in names:
                page = raw.post("/v3/memories/", json={"filters": {"user_id": name}})
                assert page.status_code == 200, page.text
                found |= {m["memory"] for m in page.json()["results"]}
            return found

        eventually(lambda: len(said()) == len(names))
        for gone, name in enumerate(names[1:], start=1):
            deleted = raw.delete(f"/v2/entities/user/{name}/")
            assert deleted.status_code == 200, (name, deleted.text)
            assert said() == {f"I am {n}" for n in (names[0], *names[gone + 1 :])}, name


def test_an_update_refused_for_its_text_names_text(stack, acme, user):
    """An update's words are its `text`: one empty or too long was refused naming
    `messages` (an add's field), which the request did not hold."""
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        body = {"messages": "I keep a diary", "user_id": user, "infer": False}
        memory_id = raw.post("/v3/memories/add/", json=body).json()["results"][0]["id"]
        eventually(lambda: raw.get(f"/v1/memories/{memory_id}/").status_code == 200)
        for text in ("", " ", "x" * (100 * 1024 + 1)):
            refused = raw.put(f"/v1/memories/{memory_id}/", json={"text": text})
            assert refused.status_code in (400, 413), refused.text
            assert refused.json()["field"] == "text", refused.text
        assert raw.get(f"/v1/memories/{memory_id}/").json()["memory"] == "I keep a diary"


def test_each_change_has_its_audit_chain(stack, acme, user):
    token = {"Authorization": f"Token {acme.master}"}
    added_in, revised_in = ("mem0-" + uuid.uuid4().hex for _ in range(2))
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        body = {"messages": "I keep a diary", "user_id": user, "infer": False}
        added = raw.post("/v3/memories/add/", json=body, headers={"x-correlation-id": added_in})
        assert added.headers["x-correlation-id"] == added_in
        memory_id = added.json()["results"][0]["id"]
        eventually(lambda: raw.get(f"/v1/memories/{memory_id}/").status_code == 200)
        text = {"text": "I keep two diaries"}
        changed = raw.put(
            f"/v1/memories/{memory_id}/", json=text, headers={"x-correlation-id": revised_in}
        )
        assert changed.status_code == 200

    def steps(native: httpx.Client, correlation: str) -> dict[str, dict]:
        found = native.get("/v1/audit/events", params={"correlation_id": correlation}).json()
        return {e["type"]: e for e in found["events"]}

    with as_key(stack, acme.master) as native:
        eventually(
            lambda: (
                {"http.request", "ingest.memory", "memory.recorded"} <= set(steps(native, added_in))
            )
        )
        revision = eventually(
            lambda: (
                {"memory.deleted", "memory.recorded"} <= set(s := steps(native, revised_in)) and s
            )
        )
    deleted = revision["memory.deleted"]["data"]["data"]
    assert deleted["memory_id"] == memory_id and deleted["replaced_by"] not in (None, memory_id)


BAD_INPUT = [
    ("POST", "/v3/memories/add/", {"messages": [], "user_id": "u"}),
    (
        "POST",
        "/v3/memories/add/",
        {"messages": [{"role": "user", "content": {"image": 1}}], "user_id": "u"},
    ),
    ("POST", "/v3/memories/add/", {"messages": ["x"], "user_id": "u"}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u" * 300}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "agent_id": "no spaces!"}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "infer": "yes"}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "metadata": [1]}),
    # Not an object, so not "no metadata" either.
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "metadata": ""}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "metadata": 0}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "metadata": {"mem0": 1}}),
    ("POST", "/v3/memories/add/", {"messages": "x", "user_id": "u", "timestamp": 1.5}),
    (
        "POST",
        "/v3/memories/add/",
        {"messages": "x", "user_id": "u", "expiration_date": "2030-01-01"},
    ),
    ("POST", "/v3/memories/add/", {"messages": "x\u0000y", "user_id": "u"}),
    ("POST", "/v3/memories/add/", [1, 2]),
    (
        "POST",
        "/v3/memories/add/",
        {"messages": [{"content": "x", "role": "r" * 70_000}], "user_id": "u"},
    ),
    (
        "POST",
        "/v3/memories/add/",
        {"messages": [{"content": "x", "name": "n" * 70_000}], "user_id": "u"},
    ),
    ("POST", "/v3/memories/", {"filters": {"app_id": "a"}}),
    ("POST", "/v3/memories/", {"filters": {"AND": ["x"]}}),
    ("POST", "/v3/memories/?page=0", {"filters": {"user_id": "u"}}),
    ("POST", "/v3/memories/?page_size=x", {"filters": {"user_id": "u"}}),
    ("POST", "/v3/memories/", {"filters": {"user_id": "u"}, "page": 0}),
    ("POST", "/v3/memories/", {"filters": {"user_id": "u"}, "page": True}),
    ("POST", "/v3/memories/", {"filters": {"user_id": "u"}, "page": 1.5}),
    ("POST", "/v3/memories/", {"filters": {"user_id": "u"}, "page_size": "5"}),
    ("POST", "/v3/memories/", {"filters": {"user_id": "u"}, "page_size": 10**400}),
    ("POST", "/v3/memories/search/", {"query": "", "filters": {"user_id": "u"}}),
    ("POST", "/v3/memories/search/", {"query": "x", "filters": {"user_id": "u"}, "top_k": True}),
    ("POST", "/v3/memories/search/", {"query": "x", "filters": {"user_id": "u"}, "threshold": 2}),
    (
        "POST",
        "/v3/memories/search/",
        {"query": "x", "filters": {"user_id": "u"}, "threshold": True},
    ),
    ("POST", "/v3/memories/search/", {"query": "x" * 5000, "filters": {"user_id": "u"}}),
    ("PUT", f"/v1/memories/{uuid.uuid4()}/", {}),
    ("PUT", f"/v1/memories/{uuid.uuid4()}/", {"text": 5}),
    ("DELETE", "/v1/memories/", None),
    ("DELETE", "/v2/entities/app/x/", None),
    ("POST", "/v1/summary/", {"filters": {"agent_id": "a"}}),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_INPUT, ids=lambda v: str(v)[:40])
def test_bad_input_is_a_400_in_mem0_shape(stack, acme, method, path, body):
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        answer = raw.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]


def test_page_and_page_size_in_the_body_page_as_in_the_query(stack, acme, user):
    """The mem0ai client sends them in the query; one written by hand may put them in the
    body, where they were ignored: every page asked for was the first, whole."""
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        for text in ("one", "two", "three"):
            body = {"messages": f"I like {text}", "user_id": user, "infer": False}
            assert raw.post("/v3/memories/add/", json=body).status_code == 200
        scope = {"filters": {"user_id": user}}

        def page(**paging) -> dict:
            return raw.post("/v3/memories/", json={**scope, **paging}).json()

        eventually(lambda: page()["count"] == 3)
        by_query = raw.post("/v3/memories/?page=2&page_size=1", json=scope).json()
        by_body = page(page=2, page_size=1)
        assert by_body == by_query and len(by_body["results"]) == 1
        assert by_body["results"] != page(page=1, page_size=1)["results"]
        assert page(page=2.0, page_size=1) == by_body
        # Past the end: an empty page, not an error.
        past = page(page=9, page_size=2)
        assert (past["count"], past["next"], past["results"]) == (3, None, [])


@pytest.mark.parametrize("label", ["role", "name"])
def test_a_message_role_or_name_too_long_is_named(stack, acme, label):
    """Each is kept in the memory's metadata: one too long was a 413 naming metadata,
    though none was sent."""
    message = {"content": "hello", "role": "user", label: "r" * 70_000}
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        answer = raw.post("/v3/memories/add/", json={"messages": [message], "user_id": "u"})
    assert answer.status_code == 400 and answer.json()["field"] == f"messages[0].{label}", (
        answer.text
    )


@pytest.mark.parametrize(
    "refused",
    [
        {"metadata": {"timestamp": "0000-01-01"}},
        {"metadata": {"timestamp": "not a time"}},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": " "}]},
        {"timestamp": -1},
        {"infer": "no"},
    ],
    ids=str,
)
def test_a_refused_add_registers_no_agent(stack, acme, refused):
    agent_id = "mem0-never-" + uuid.uuid4().hex[:8]
    body = {"messages": "I like tea", "agent_id": agent_id, "infer": False, **refused}
    token = {"Authorization": f"Token {acme.master}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        answer = raw.post("/v3/memories/add/", json=body)
    assert answer.status_code == 400, answer.text[:300]
    with as_key(stack, acme.master) as native:
        assert native.get(f"/v1/agents/{agent_id}").status_code == 404
        with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
            valid = {"messages": "I like tea", "agent_id": agent_id, "infer": False}
            assert raw.post("/v3/memories/add/", json=valid).status_code == 200
        assert native.get(f"/v1/agents/{agent_id}").status_code == 200


def test_a_memory_stored_natively_shows_its_user_and_session_before_and_after_an_update(
    stack, client, acme, user
):
    with as_key(stack, acme.master) as native:
        sent = native.post(
            "/v1/ingest", json={"userId": user, "content": "I like jazz", "sessionId": "s-9"}
        )
    memory_id = sent.json()["id"]
    got = eventually(lambda: found(client, memory_id))
    assert (got["user_id"], got["agent_id"], got["run_id"]) == (user, None, "s-9")
    changed = client.update(memory_id, text="I like bebop")
    assert (changed["user_id"], changed["run_id"]) == (user, "s-9")
    again = client.get(memory_id)
    assert (again["memory"], again["user_id"], again["run_id"]) == ("I like bebop", user, "s-9")


@pytest.mark.parametrize(
    "odd", [{"added": 5}, {"added": [[1]]}, "x", {"app_id": ["a"]}, {"id": 7, "infer": "yes"}]
)
def test_no_other_surface_writes_the_mem0_key(stack, client, acme, user, odd):
    """`metadata.mem0` is the Mem0 surface's record of a memory (the id, user, agent, app
    and run it shows): another surface refuses it, whatever its shape (an agent's memory
    showed as another agent's, under another memory's id). One stored before (then taken,
    of any shape) is read as no record (tests/unit/gateway/test_mem0_shapes.py)."""
    with as_key(stack, acme.master) as native:
        sent = native.post(
            "/v1/ingest",
            json={"userId": user, "content": "I like kites", "metadata": {"mem0": odd}},
        )
    assert_problem(sent, 400, "metadata.mem0")


def test_reset_deletes_every_user_agent_and_run(stack):
    with stack.client() as api:
        own = sign_up(api, "mem0-reset-" + uuid.uuid4().hex[:6])
    fresh = MemoryClient(api_key=own.master, host=stack.base_url)
    fresh.add("Cara paints", user_id="cara", run_id="r-1", infer=False)
    fresh.add("The bot keeps notes", agent_id="notes-bot", infer=False)
    eventually(lambda: len(fresh.users()["results"]) == 4)  # cara, r-1, notes-bot as user and agent
    assert fresh.reset()["message"]
    assert fresh.users()["results"] == []
    assert fresh.get_all(filters={"user_id": "cara"})["count"] == 0


def test_a_star_is_any_in_a_read_filter_and_never_an_id(stack, acme):
    """`*` reads as any in list and search filters; an add, a delete or an entity naming
    `*` is refused (400 naming the field): stored as an id it could not be told from
    everyone, and taken as everyone a delete would reach every user."""
    erin = "erin-" + uuid.uuid4().hex[:6]
    token = {"Authorization": f"Token {acme.agent_key}"}
    with httpx.Client(base_url=stack.base_url, headers=token, timeout=15) as raw:
        for body in (
            {"messages": "I am nobody", "user_id": "*", "infer": False},
            {"messages": "I am nobody", "user_id": erin, "run_id": "*", "infer": False},
            {"messages": "I am nobody", "user_id": erin, "agent_id": "*", "infer": False},
        ):
            refused = raw.post("/v3/memories/add/", json=body)
            named = next(k for k, v in body.items() if v == "*")
            assert refused.status_code == 400 and refused.json()["field"] == named, refused.text
        added = raw.post(
            "/v3/memories/add/", json={"messages": "I am Erin", "user_id": erin, "infer": False}
        )
        assert added.status_code == 200, added.text

        def erins() -> list[str]:
            page = raw.post("/v3/memories/", json={"filters": {"user_id": "*"}}).json()
            return [m["memory"] for m in page["results"] if m["user_id"] == erin]

        assert eventually(lambda: erins() == ["I am Erin"])
        for path in ("/v2/entities/user/%2A/", "/v2/entities/run/%2A/", "/v1/memories/?user_id=*"):
            refused = raw.delete(path)
            assert refused.status_code == 400, (path, refused.text)
            assert refused.json()["field"] in ("user_id", "run_id")
        assert erins() == ["I am Erin"]
        assert "*" not in {e["name"] for e in raw.get("/v1/entities/").json()["results"]}
    # The native surface stores no user or session "*" either.
    with as_key(stack, acme.master) as native:
        for body in ({"userId": "*"}, {"userId": erin, "sessionId": "*"}):
            refused = native.post("/v1/ingest", json={"content": "x", **body})
            field = next(k for k, v in body.items() if v == "*")
            assert refused.status_code == 400 and refused.json()["details"]["field"] == field
        # Nor does it forget "*" (a client could read the 200 as everyone forgotten).
        for path in ("/v1/user", "/v1/memory"):
            refused = native.delete(path, params={"userId": "*"})
            assert refused.status_code == 400, (path, refused.text)
            assert refused.json()["details"]["field"] == "userId"


def test_search_shows_a_memory_as_get_and_list_do(stack, client, acme, user):
    """The metadata the client wrote, and the memory's agent and run: nothing the search
    adds (its session, agent and source type keys)."""
    [added] = client.add(
        "My bike is a blue Brompton",
        user_id=user,
        agent_id="bike-shop",
        run_id="fitting-1",
        metadata={"shop": "north"},
        infer=False,
    )["results"]
    with as_key(stack, acme.master) as native:
        sent = native.post(
            "/v1/ingest",
            json={"userId": user, "content": "My bike has a dynamo", "sessionId": "s-3"},
        )
    wanted = {
        added["id"]: eventually(lambda: found(client, added["id"])),
        sent.json()["id"]: eventually(lambda: found(client, sent.json()["id"])),
    }

    def listed_both() -> dict[str, dict]:
        page = client.get_all(filters={"user_id": user})["results"]
        return set(wanted) <= {m["id"] for m in page} and {m["id"]: m for m in page}

    # A get reads the log; the listing, the read model: it may come a moment later.
    listing = eventually(listed_both)

    def searched() -> dict[str, dict]:
        hits = client.search("bike", filters={"user_id": user}, top_k=5)["results"]
        return len(hits) == 2 and {m["id"]: m for m in hits}

    hits = eventually(searched)
    fields = ("memory", "user_id", "agent_id", "run_id", "metadata")
    for memory_id, got in wanted.items():
        shown = {f: got[f] for f in fields}
        assert {f: hits[memory_id][f] for f in fields} == shown
        assert {f: listing[memory_id][f] for f in fields} == shown
    assert wanted[added["id"]]["metadata"] == {"shop": "north"}
    assert (hits[sent.json()["id"]]["metadata"], hits[sent.json()["id"]]["run_id"]) == (None, "s-3")


def test_an_update_retried_once_its_kept_answer_is_gone_changes_nothing(stack, acme, user):
    """The retry of an update runs again when no answer is kept for it (another master key
    of the tenant here; likewise once a forget erased the kept answers): its version was
    made already, and is answered as it was, not revised into itself, which dropped the
    live version from every listing and search."""
    with as_key(stack, acme.master) as admin:
        second = admin.post("/v1/keys", json={"kind": "master"}).json()["key"]
    client = MemoryClient(api_key=acme.master, host=stack.base_url)
    added = client.add([{"role": "user", "content": "I live in Lisbon"}], user_id=user, infer=False)
    memory_id = added["results"][0]["id"]
    eventually(lambda: found(client, memory_id))
    key = {"Idempotency-Key": "update-" + uuid.uuid4().hex}
    for master in (acme.master, second):
        with httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Token {master}"}, timeout=30
        ) as mem0:
            updated = mem0.put(
                f"/v1/memories/{memory_id}/", json={"text": "I live in Porto"}, headers=key
            )
            assert updated.status_code == 200, updated.text
            assert updated.json()["memory"] == "I live in Porto"
    page = listed(client, 1, user_id=user)
    assert [m["memory"] for m in page["results"]] == ["I live in Porto"]
    assert [e["event"] for e in client.history(memory_id)] == ["ADD", "UPDATE"]
