"""DELETE /v1/memories/{id}: one memory leaves every read model and the index (what
synthesis drew from it too), stays gone after a rebuild from the log, and only its own
agent's key reaches it."""

import os
import signal
import uuid

import httpx

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .test_facts import by_statement, facts
from .test_synthesis import context, entities, relations, say
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


def _memory_of(api, user_id: str, start: str) -> str:
    """The id of the user's memory whose content starts with `start` (once it is listed)."""

    def found() -> str | None:
        listed = api.get("/v1/memories", params={"userId": user_id, "limit": 100}).json()
        return next((m["id"] for m in listed["memories"] if m["content"].startswith(start)), None)

    return eventually(found, timeout=120)


def test_what_synthesis_drew_from_a_deleted_memory_goes_with_it(stack, api, user_id):
    """A fact, an entity or a profile line that only a deleted memory said leaves with it;
    what it ended holds again; a fact another memory also said stays, on that evidence."""
    token = uuid.uuid4().hex[:6]
    old, new, home = f"Initrode{token}", f"Globex{token}", f"Porto{token}"
    say(api, user_id, f"I work at {old} as a data analyst.", "2026-03-01T09:00:00Z")
    say(api, user_id, f"I live in {home}.", "2026-03-02T09:00:00Z")
    eventually(lambda: f"Works at {old}" in context(api, user_id)["static"], timeout=120)
    say(api, user_id, f"I just joined {new}.", "2026-04-01T09:00:00Z")
    say(api, user_id, f"As I said, I live in {home}.", "2026-04-02T09:00:00Z")
    eventually(lambda: f"Works at {new}" in context(api, user_id)["static"], timeout=120)
    eventually(
        lambda: len(by_statement(facts(api, user_id))[f"Lives in {home}"]["evidence"]) == 2,
        timeout=120,
    )
    joined, lived = _memory_of(api, user_id, "I just joined"), _memory_of(api, user_id, "I live in")

    assert api.delete(f"/v1/memories/{joined}").status_code == 200
    assert api.delete(f"/v1/memories/{lived}").status_code == 200

    said_again = _memory_of(api, user_id, "As I said")

    def withdrawn() -> bool:
        # Both deletions (each withdrawn on its own, maybe in another batch) are in.
        now = by_statement(facts(api, user_id))
        evidence = [e["memoryId"] for e in now[f"Lives in {home}"]["evidence"]]
        return (
            f"Works at {new}" not in now
            and now[f"Works at {old}"]["status"] == "current"
            # Said again by a memory that stays: the fact stays, on its evidence only.
            and evidence == [said_again]
        )

    eventually(withdrawn, timeout=120)
    listed = by_statement(facts(api, user_id, changedSince="2000-01-01T00:00:00Z"))
    assert f"Works at {new}" not in listed  # not even as a past fact
    assert listed[f"Works at {old}"]["validTo"] is None
    profile = context(api, user_id)["static"]
    assert f"Works at {old}" in profile and f"Works at {new}" not in profile
    names = {name for name, _, _ in relations(entities(api, user_id) or {"entities": []})}
    assert new not in names and old in names

    # From the log again: the same.
    stack.rebuild("synthesis")
    stack.wait_healthy()
    eventually(lambda: f"Works at {old}" in context(api, user_id)["static"], timeout=120)
    again = by_statement(facts(api, user_id, changedSince="2000-01-01T00:00:00Z"))
    assert f"Works at {new}" not in again and again[f"Works at {old}"]["validTo"] is None


def test_deleting_the_older_memory_takes_the_former_relationship_it_named(stack, api, user_id):
    """The newer memory ended the older one's fact and named its value as it was
    ("Oldcorpia, former employer"); deleting the older memory (or revising it through
    Mem0's update) takes that mention away with the fact: the value was its words."""
    token = uuid.uuid4().hex[:6]
    old, new = f"Oldcorpia{token}", f"Newcorpia{token}"
    was, now = f"Rosalind{token}", f"Theodora{token}"
    moved = f"Movecorp{token}"
    say(api, user_id, f"I work at {old}.", "2026-03-01T09:00:00Z")
    say(api, user_id, f"My partner is {was}.", "2026-03-02T09:00:00Z")
    say(api, user_id, f"I work at {new}.", "2026-04-01T09:00:00Z")
    say(api, user_id, f"My partner is {now}.", "2026-04-02T09:00:00Z")
    formerly = {(old, "organization", "former employer"), (was, "person", "former partner")}
    eventually(lambda: formerly <= relations(entities(api, user_id)), timeout=120)
    worked, partnered = (
        _memory_of(api, user_id, f"I work at {old}"),
        _memory_of(api, user_id, f"My partner is {was}"),
    )
    assert api.delete(f"/v1/memories/{worked}").status_code == 200
    # A Mem0 update is a revision: the old version is deleted, the new text recorded.
    mem0 = stack.client(Authorization=f"Token {stack.api_key}")
    with mem0:
        revised = mem0.put(f"/v1/memories/{partnered}/", json={"text": "I like green tea."})
        assert revised.status_code == 200, revised.text

    def names() -> set[str]:
        return {name for name, _, _ in relations(entities(api, user_id))}

    eventually(lambda: not {old, was} & names(), timeout=120)
    assert {(new, "organization", "employer"), (now, "person", "partner")} <= relations(
        entities(api, user_id)
    )
    statements = set(by_statement(facts(api, user_id, changedSince="2000-01-01T00:00:00Z")))
    assert not any(old in s or was in s for s in statements)

    # Once more down the chain: a third employer ends the second, whose memory then goes.
    say(api, user_id, f"I work at {moved}.", "2026-05-01T09:00:00Z")
    eventually(
        lambda: (new, "organization", "former employer") in relations(entities(api, user_id)),
        timeout=120,
    )
    ended = _memory_of(api, user_id, f"I work at {new}")
    assert api.delete(f"/v1/memories/{ended}").status_code == 200
    eventually(lambda: new not in names(), timeout=120)


def _revised(stack, memory_id: str, text: str) -> None:
    """A Mem0 update: the memory lives on in a new version (another id)."""
    with httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Token {stack.api_key}"}, timeout=30
    ) as mem0:
        updated = mem0.put(f"/mem0/v1/memories/{memory_id}/", json={"text": text})
        assert updated.status_code == 200, updated.text


def test_a_revised_memory_deleted_by_its_first_id_is_gone_at_once_and_can_be_sent_again(
    stack, api, user_id
):
    """Deleted by the id it was first sent under, the version it lives on in goes, and no
    read after the answer finds it; its sourceId sent again then records it anew (it was
    answered 202 and dropped: the first version's stream still said "revised")."""
    sent = {"userId": user_id, "content": "the heron nests by the weir", "sourceId": "crm:7"}
    first = api.post("/v1/ingest", json=sent).json()["id"]
    eventually(lambda: api.get(f"/v1/memories/{first}").status_code == 200)
    _revised(stack, first, "the heron nests by the old mill")

    def listed() -> list[str]:
        page = api.get("/v1/memories", params={"userId": user_id}).json()
        return [m["content"] for m in page["memories"]]

    eventually(lambda: listed() == ["the heron nests by the old mill"])
    assert api.delete(f"/v1/memories/{first}").status_code == 200
    assert listed() == []
    hits = api.get("/v1/search", params={"userId": user_id, "q": "heron"}).json()["results"]
    assert hits == []

    again = {**sent, "content": "the heron came back"}
    assert api.post("/v1/ingest", json=again).json()["id"] == first
    eventually(lambda: listed() == ["the heron came back"])


def test_a_deletion_the_index_has_not_confirmed_is_503_and_asked_again_200(stack, api, user_id):
    """The answer to a deletion promises that no read after it shows the memory: the index
    is asked to drop it first. While the index does not answer (here: retrieval stopped),
    the deletion is recorded but answered 503 READ_MODELS_BEHIND, not 200 (it was 200, and
    a search after it could still find the memory); asked again once the index answers, it
    deletes nothing more and is 200."""
    sent = api.post("/v1/ingest", json={"userId": user_id, "content": "I keep axolotls"})
    memory_id = sent.json()["id"]

    def search() -> list[str]:
        found = api.get("/v1/search", params={"userId": user_id, "q": "axolotls"})
        return [h["id"] for h in found.json()["results"]]

    eventually(lambda: memory_id in search())
    retrieval = stack.procs["retrieval"]
    os.kill(retrieval.pid, signal.SIGSTOP)
    try:
        behind = api.delete(f"/v1/memories/{memory_id}", timeout=120)
    finally:
        os.kill(retrieval.pid, signal.SIGCONT)
    assert_problem(behind, 503)
    assert behind.json()["code"] == "READ_MODELS_BEHIND"
    assert behind.headers["retry-after"] == "1"
    again = eventually(
        lambda: (r := api.delete(f"/v1/memories/{memory_id}")).status_code == 200 and r
    )
    assert again.json() == {"deleted": True, "id": memory_id, "userId": user_id}
    assert memory_id not in search()


def test_a_memory_deleted_the_moment_it_was_accepted_is_deleted(api, user_id):
    """Deleting an id a 202 had just given, its command still on its way: the deletion
    answered 404 (no such memory yet), and the memory was recorded after it, though the
    client had been told it did not exist. The deletion waits for what was accepted before
    it; an id that is no memory is still a 404, on every surface."""
    sent = api.post(
        "/v1/ingest/batch",
        json={"items": [{"userId": user_id, "content": f"note {i}"} for i in range(20)]},
    )
    assert sent.status_code == 202, sent.text
    answers = [api.delete(f"/v1/memories/{memory}") for memory in sent.json()["ids"]]
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    added = api.post(
        "/mem0/v3/memories/add/",
        json={"messages": "I like tea", "user_id": user_id, "infer": False},
    )
    gone = api.delete(f"/mem0/v1/memories/{added.json()['results'][0]['id']}/")
    assert gone.status_code == 200, gone.text
    for path in (f"/v1/memories/{uuid.uuid4()}", f"/mem0/v1/memories/{uuid.uuid4()}/"):
        assert api.delete(path).status_code == 404
    api.post("/v1/ingest", json={"userId": user_id, "content": "a marker after them"})
    page = eventually(
        lambda: (
            (p := api.get("/v1/memories", params={"userId": user_id}).json())["total"] >= 1 and p
        )
    )
    assert [m["content"] for m in page["memories"]] == ["a marker after them"]
