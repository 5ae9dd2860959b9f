"""Batch ingest and the memories read model, through the gateway over running services."""

from .test_errors import assert_problem
from .test_facts import facts
from .test_thin_path import chain
from .waiting import eventually


def memories(api, user_id: str, **params) -> dict:
    response = api.get("/v1/memories", params={"userId": user_id, **params})
    assert response.status_code == 200, response.text
    return response.json()


def contents(api, user_id: str) -> list[str]:
    return [m["content"] for m in memories(api, user_id)["memories"]]


def test_batch_is_accepted_listed_newest_first_and_fetchable(api, user_id):
    items = [
        {"userId": user_id, "content": "first: I moved to Lisbon", "sourceType": "conversation"},
        {
            "userId": user_id,
            "content": "second: standup notes",
            "sourceType": "meeting",
            "sessionId": "s-9",
            "agentId": "agent-7",
            "metadata": {"title": "Standup"},
        },
        {"userId": user_id, "content": "third: bought a bike", "sourceId": "crm:17"},
    ]
    response = api.post("/v1/ingest/batch", json={"items": items})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queued"] == 3 and len(set(body["ids"])) == 3

    page = eventually(lambda: (p := memories(api, user_id))["total"] == 3 and p)
    assert {m["id"] for m in page["memories"]} == set(body["ids"])
    stamps = [m["createdAt"] for m in page["memories"]]
    assert stamps == sorted(stamps, reverse=True)

    meeting = memories(api, user_id, sourceType="meeting")
    assert meeting["total"] == 1
    [m] = meeting["memories"]
    assert (m["sessionId"], m["agentId"], m["metadata"]["title"]) == ("s-9", "agent-7", "Standup")
    assert memories(api, user_id, q="lisbon")["total"] == 1
    assert (
        memories(api, user_id, limit=1, offset=1)["memories"][0]["id"] == page["memories"][1]["id"]
    )

    one = api.get(f"/v1/memories/{body['ids'][2]}")
    assert one.status_code == 200
    assert one.json()["content"] == "third: bought a bike"
    assert one.json()["sourceId"] == "crm:17"


def test_a_batch_with_one_bad_item_is_refused_whole(api, user_id):
    items = [
        {"userId": user_id, "content": "fine"},
        {"userId": user_id, "content": "bad source", "sourceType": "telepathy"},
    ]
    problem = assert_problem(api.post("/v1/ingest/batch", json={"items": items}), 400)
    assert problem["details"]["field"] == "items[1].sourceType"
    assert problem["details"]["index"] == 1
    missing = [{"userId": user_id, "content": "x"}, {"content": "no user"}]
    assert_problem(api.post("/v1/ingest/batch", json={"items": missing}), 400, "items[1].userId")
    too_big = [{"userId": user_id, "content": "a" * (100 * 1024 + 1)}]
    assert_problem(api.post("/v1/ingest/batch", json={"items": too_big}), 413, "items[0].content")

    # Nothing of the refused batches was stored: a later marker is the only memory.
    api.post("/v1/ingest", json={"userId": user_id, "content": "marker"})
    page = eventually(lambda: (p := memories(api, user_id))["total"] >= 1 and p)
    assert [m["content"] for m in page["memories"]] == ["marker"]


def test_batch_size_limits(api, user_id):
    assert_problem(api.post("/v1/ingest/batch", json={"items": []}), 400, "items")
    many = [{"userId": user_id, "content": f"m{i}"} for i in range(51)]
    assert_problem(api.post("/v1/ingest/batch", json={"items": many}), 400, "items")
    assert_problem(api.post("/v1/ingest/batch", json={"items": "nope"}), 400, "items")


def test_source_id_is_idempotent_across_single_and_batch(api, user_id):
    item = {"userId": user_id, "content": "once only", "sourceId": "doc:1"}
    single = api.post("/v1/ingest", json=item).json()["id"]
    batch = api.post("/v1/ingest/batch", json={"items": [item, item]}).json()["ids"]
    assert batch == [single, single]
    api.post("/v1/ingest", json={"userId": user_id, "content": "marker two"})
    page = eventually(lambda: (p := memories(api, user_id))["total"] >= 2 and p)
    assert sorted(m["content"] for m in page["memories"]) == ["marker two", "once only"]


def test_a_source_id_sent_again_once_its_memory_is_gone_records_it_again(api, user_id):
    """sourceId keeps a record stored once while it is there; deleted, or its user
    forgotten, the record sent again (a 202: a promise) is stored again under its id,
    listed, searchable, and read by synthesis, single or in a batch."""
    first = {"userId": user_id, "content": "I work at Initech.", "sourceId": "crm:42"}
    memory_id = api.post("/v1/ingest", json=first).json()["id"]
    eventually(lambda: memories(api, user_id)["total"] == 1)
    assert api.delete(f"/v1/memories/{memory_id}").status_code == 200

    again = {**first, "content": "I live in Tromso."}
    assert api.post("/v1/ingest", json=again).json()["id"] == memory_id
    page = eventually(lambda: (p := memories(api, user_id))["total"] == 1 and p)
    assert [m["content"] for m in page["memories"]] == ["I live in Tromso."]
    # Listed first (retrieval's memories table), searchable a moment later (its index).
    found = eventually(
        lambda: api.get("/v1/search", params={"userId": user_id, "q": "Tromso"}).json()["results"]
    )
    assert [r["id"] for r in found] == [memory_id]
    # What the deleted recording said is withdrawn; what the new one says is read.
    eventually(lambda: [f["statement"] for f in facts(api, user_id)] == ["Lives in Tromso"])
    # Sent again while it is there: stored once, as before.
    assert api.post("/v1/ingest", json=again).json()["id"] == memory_id

    # Deleted again, then sent in a batch.
    assert api.delete(f"/v1/memories/{memory_id}").status_code == 200
    third = {**first, "content": "third time"}
    assert api.post("/v1/ingest/batch", json={"items": [third]}).json()["ids"] == [memory_id]
    eventually(
        lambda: [m["content"] for m in memories(api, user_id)["memories"]] == [third["content"]]
    )

    # The user forgotten: their new life may send the record again.
    assert api.delete("/v1/user", params={"userId": user_id}).status_code == 200
    fourth = {**first, "content": "after the forget"}
    assert api.post("/v1/ingest", json=fourth).json()["id"] == memory_id
    eventually(
        lambda: [m["content"] for m in memories(api, user_id)["memories"]] == [fourth["content"]]
    )


def test_an_unknown_memory_is_404(api):
    assert_problem(api.get("/v1/memories/00000000-0000-0000-0000-000000000000"), 404)


def test_a_batch_triggers_one_synthesis_pass_per_user(api, user_id):
    other = user_id + "-b"
    correlation = "corr-batch-" + user_id
    items = [{"userId": user_id, "content": f"a{i}: I like tea number {i}"} for i in range(3)]
    items += [{"userId": other, "content": f"b{i}: I live in Town{i}"} for i in range(2)]
    response = api.post(
        "/v1/ingest/batch", json={"items": items}, headers={"x-correlation-id": correlation}
    )
    ids = response.json()["ids"]

    def passes():
        events = chain(api, correlation)["events"]
        found = [e for e in events if e["type"] == "subject.synthesized"]
        synthesized = [e for e in events if e["type"] == "memory.synthesized"]
        return found if len(synthesized) == 5 and len(found) >= 2 else None

    found = eventually(passes)
    by_user = {e["data"]["data"]["user_id"]: e["data"]["data"]["memory_ids"] for e in found}
    assert len(found) == 2
    assert sorted(by_user[user_id]) == sorted(ids[:3])
    assert sorted(by_user[other]) == sorted(ids[3:])


def test_a_single_ingest_is_its_own_pass(api, user_id):
    correlation = "corr-single-" + user_id
    memory_id = api.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "just one"},
        headers={"x-correlation-id": correlation},
    ).json()["id"]

    def passes():
        found = [e for e in chain(api, correlation)["events"] if e["type"] == "subject.synthesized"]
        return found or None

    [found] = eventually(passes)
    assert found["data"]["data"]["memory_ids"] == [memory_id]
    assert found["service"] == "synthesis"


def test_synthesized_says_whether_synthesis_has_read_the_memory(stack, api, user_id):
    """Seed 001's `synthesized`: false until synthesis has made its pass (facts, entities,
    profile), then true, and still true after the read model is rebuilt from the log."""
    response = api.post("/v1/ingest", json={"userId": user_id, "content": "I work at Initech"})
    memory_id = response.json()["id"]

    def synthesized() -> bool:
        got = api.get(f"/v1/memories/{memory_id}")
        return got.status_code == 200 and got.json()["synthesized"] is True

    eventually(synthesized, timeout=120)
    assert memories(api, user_id)["memories"][0]["synthesized"] is True
    stack.rebuild("retrieval")
    assert synthesized()


def test_memories_longer_together_than_one_message_are_all_read(stack, api, user_id):
    """Sixteen memories of 100 KB (each accepted) are more than one NATS message holds
    (1 MiB): a listing gives as many as one reply holds, `total` says how many there are,
    and the next page starts after them (the whole listing was a 504 every time, so what
    was accepted could not be read). A search asking for more than one reply holds is a
    400 naming `limit`, at once."""
    import random

    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def text(i: int) -> str:
        words = [
            "".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(14_000)
        ]
        return f"long {i} " + " ".join(words)[:99_000]

    sent = [text(i) for i in range(16)]
    for content in sent:
        posted = api.post("/v1/ingest", json={"userId": user_id, "content": content})
        assert posted.status_code == 202, posted.text
    eventually(
        lambda: (
            api.get("/v1/memories", params={"userId": user_id, "limit": 1}).json()["total"] == 16
        )
    )
    seen: list[str] = []
    while len(seen) < 16:
        page = api.get(
            "/v1/memories", params={"userId": user_id, "limit": 100, "offset": len(seen)}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["total"] == 16 and body["memories"], body["total"]
        seen += [m["content"] for m in body["memories"]]
    assert sorted(seen) == sorted(sent)
    # Mem0's listing has no pages: every memory of the user in one answer.
    listed = api.post(
        "/v3/memories/",
        json={"filters": {"user_id": user_id}},
        headers={"Authorization": f"Token {stack.api_key}"},
    )
    assert listed.status_code == 200, listed.text[:300]
    assert len(listed.json()["results"]) == 16
    found = api.get("/v1/search", params={"userId": user_id, "q": "long", "limit": 50})
    assert found.status_code in (200, 400), found.text
    if found.status_code == 400:
        assert_problem(found, 400, "limit")


def test_a_batch_holding_one_memory_twice_with_other_words_is_refused(api, user_id):
    """Two items with one sourceId are one memory: with the same words it is stored once
    (as a resend is); with other words the second was answered 202 and dropped, so the
    batch is refused, naming it."""
    twice = [
        {"userId": user_id, "content": "first words", "sourceId": "dup-1"},
        {"userId": user_id, "content": "other words", "sourceId": "dup-1"},
    ]
    assert_problem(api.post("/v1/ingest/batch", json={"items": twice}), 400, "items[1]")
    same = [twice[0], dict(twice[0])]
    sent = api.post("/v1/ingest/batch", json={"items": same})
    assert sent.status_code == 202, sent.text
    ids = sent.json()["ids"]
    assert ids[0] == ids[1]
    listed = eventually(
        lambda: api.get("/v1/memories", params={"userId": user_id}).json()["memories"]
    )
    assert [m["content"] for m in listed] == ["first words"]
