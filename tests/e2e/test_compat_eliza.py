"""The ElizaOS memory surface over running services, as an ElizaOS client drives it: create,
list, room memories, search, export then import into another agent, forget an entity;
errors in ElizaOS's envelope; the audit chain of a request made here; agent isolation."""

import json
import uuid

import httpx
import pytest

from .test_accounts import Tenant, as_key, sign_up
from .waiting import eventually

CREATED_AT = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in ms as ElizaOS sends it


# ElizaOS ids are UUIDs.
ENTITY = str(uuid.uuid4())
ROOM = str(uuid.uuid4())
WORLD = str(uuid.uuid4())


def assert_envelope_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["success"] is False and set(body) == {"success", "error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    # Seed 002's error has `details`: here the field it names (also `field`), else null.
    assert body["error"]["details"] == body["error"].get("field"), body
    return body["error"]


def data(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def memory(text: str, entity: str, room: str, **extra) -> dict:
    return {
        "entityId": entity,
        "roomId": room,
        "content": {"text": text, "source": "discord", "actions": ["REPLY"]},
        "metadata": {"type": "message", "tags": ["e2e"]},
        **extra,
    }


def portable(memory: dict) -> str:
    """What an export carries from one agent to another: all but the id and the agent."""
    fields = ("entityId", "roomId", "worldId", "content", "metadata", "createdAt")
    return json.dumps({f: memory[f] for f in fields}, sort_keys=True)


def listed(client: httpx.Client, agent_id: str, **params) -> list[dict]:
    found = data(client.get(f"/api/agents/{agent_id}/memories", params=params))
    return found["memories"]


@pytest.fixture(scope="module")
def tenant(stack) -> Tenant:
    with stack.client() as api:
        return sign_up(api, "eliza-" + uuid.uuid4().hex[:6])


@pytest.fixture(scope="module")
def admin(stack, tenant):
    with as_key(stack, tenant.master) as client:
        yield client


@pytest.fixture(scope="module")
def agent_b(admin) -> str:
    made = admin.post("/v1/agents", json={"name": "Other agent"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


@pytest.fixture(scope="module")
def seeded(admin, tenant) -> dict:
    """Three memories of agent A: two of entity e1 in room r1, one of e2 in room r2."""
    agent = tenant.agent_id
    e1, e2, r1, r2 = (str(uuid.uuid4()) for _ in range(4))
    sent = [
        memory("My sister Alice breeds alpacas in Peru", e1, r1, createdAt=CREATED_AT),
        memory("I am learning to play the cello", e1, r1),
        memory("Our team ships the billing service on Fridays", e2, r2, worldId=WORLD),
    ]
    ids = []
    for body in sent:
        created = data(admin.post(f"/api/agents/{agent}/memories", json=body), 201)
        assert created["queued"] is True
        ids.append(created["id"])
    eventually(lambda: len(listed(admin, agent)) >= 3)
    return {"agent": agent, "e1": e1, "e2": e2, "r1": r1, "r2": r2, "ids": ids}


def test_created_memories_come_back_in_elizaos_shape(admin, seeded):
    found = {m["id"]: m for m in listed(admin, seeded["agent"])}
    alpacas = found[seeded["ids"][0]]
    assert alpacas["entityId"] == seeded["e1"] and alpacas["roomId"] == seeded["r1"]
    assert alpacas["agentId"] == seeded["agent"]
    assert alpacas["content"] == {
        "text": "My sister Alice breeds alpacas in Peru",
        "source": "discord",
        "actions": ["REPLY"],
    }
    assert alpacas["metadata"] == {"type": "message", "tags": ["e2e"]}
    assert alpacas["createdAt"] == CREATED_AT
    assert found[seeded["ids"][2]]["worldId"] == WORLD
    # The same memories through the /api/memory domain, and the filters.
    again = data(admin.get(f"/api/memory/agents/{seeded['agent']}/memories"))
    assert {m["id"] for m in again["memories"]} == set(found) and again["total"] == 3
    assert {m["id"] for m in listed(admin, seeded["agent"], entityId=seeded["e2"])} == {
        seeded["ids"][2]
    }


def test_room_memories_are_that_rooms_only(admin, seeded):
    path = f"/api/memory/agents/{seeded['agent']}/rooms/{seeded['r1']}/memories"
    room = data(admin.get(path, params={"limit": 10}))["memories"]
    assert {m["id"] for m in room} == set(seeded["ids"][:2])
    assert {m["roomId"] for m in room} == {seeded["r1"]}
    # As ElizaOS's own server mounts them: /api/memory/{agentId}/..., channelId for roomId.
    agent, r1 = seeded["agent"], seeded["r1"]
    mounted = data(admin.get(f"/api/memory/{agent}/rooms/{r1}/memories"))["memories"]
    by_channel = data(admin.get(f"/api/memory/{agent}/memories", params={"channelId": r1}))
    assert (
        {m["id"] for m in mounted}
        == {m["id"] for m in by_channel["memories"]}
        == {m["id"] for m in room}
    )


def test_an_agents_rooms_are_the_rooms_of_its_memories(admin, seeded, agent_b):
    agent, r1, r2 = seeded["agent"], seeded["r1"], seeded["r2"]
    rooms = {r["id"]: r for r in data(admin.get(f"/api/agents/{agent}/rooms"))["rooms"]}
    assert set(rooms) >= {r1, r2}
    assert rooms[r1]["agentId"] == agent and rooms[r1]["metadata"]["memoryCount"] == 2
    one = data(admin.get(f"/api/agents/{agent}/rooms/{r1}"))
    assert one["id"] == r1 and one["metadata"]["memoryCount"] == 2
    assert one["metadata"]["lastMemoryAt"] == rooms[r1]["metadata"]["lastMemoryAt"]
    # Another agent holds no memory in these rooms; a room nobody used is not found.
    assert r1 not in {r["id"] for r in data(admin.get(f"/api/agents/{agent_b}/rooms"))["rooms"]}
    assert_envelope_error(admin.get(f"/api/agents/{agent_b}/rooms/{r1}"), 404, "NOT_FOUND")
    unknown = admin.get(f"/api/agents/{agent}/rooms/{uuid.uuid4()}")
    assert_envelope_error(unknown, 404, "NOT_FOUND")
    assert_envelope_error(admin.get(f"/api/agents/{agent}/rooms/not-a-uuid"), 400, "INVALID_ID")


def test_a_rooms_memories_page_back_in_time_by_before(admin, tenant):
    """ElizaOS's room view asks for the memories before the oldest it shows (`before`, ms):
    each page goes further back, by when they happened, and the last is empty (`before` was
    ignored: the first page came back for ever)."""
    agent, room, entity = tenant.agent_id, str(uuid.uuid4()), str(uuid.uuid4())
    times = [CREATED_AT + hour * 3_600_000 for hour in (0, 1, 2)]
    # Sent newest first, so the order they are recorded in is not the order they happened.
    for text, at in list(zip(("first", "second", "third"), times, strict=True))[::-1]:
        sent = admin.post(
            f"/api/agents/{agent}/memories",
            json=memory(f"The {text} rehearsal", entity, room, createdAt=at),
        )
        data(sent, 201)
    path = f"/api/memory/agents/{agent}/rooms/{room}/memories"
    eventually(lambda: len(data(admin.get(path))["memories"]) == 3)
    pages, before = [], times[-1] + 1
    while len(pages) < 5:
        page = data(admin.get(path, params={"limit": 2, "before": before}))["memories"]
        if not page:
            break
        pages.append([m["createdAt"] for m in page])
        before = page[-1]["createdAt"]
    assert pages == [[times[2], times[1]], [times[0]]]
    # A `before` past any time a memory can have is no bound; a bad one names itself.
    assert len(data(admin.get(path, params={"before": 2**53}))["memories"]) == 3
    assert_envelope_error(admin.get(path, params={"before": "yesterday"}), 400, "INVALID_REQUEST")


def test_search_spans_the_agents_entities_and_says_whose_each_hit_is(admin, seeded):
    path = f"/api/memory/agents/{seeded['agent']}/memories/search"

    def hits() -> list[dict]:
        return data(admin.get(path, params={"q": "alpacas Peru", "limit": 5}))["memories"]

    found = eventually(lambda: [h for h in hits() if h["id"] == seeded["ids"][0]])
    assert found[0]["entityId"] == seeded["e1"] and found[0]["roomId"] == seeded["r1"]
    assert found[0]["content"]["text"] == "My sister Alice breeds alpacas in Peru"
    assert found[0]["createdAt"] == CREATED_AT
    assert isinstance(found[0]["similarity"], float)
    # Narrowed to one room, the other room's memory cannot come back.
    in_r2 = data(admin.get(path, params={"q": "alpacas", "roomId": seeded["r2"]}))["memories"]
    assert {h["id"] for h in in_r2} <= {seeded["ids"][2]}
    # A memory sent without createdAt has one time, listed or found (a hit showed when it
    # was recorded, the listing when it was accepted).
    cello = seeded["ids"][1]
    listed_at = {m["id"]: m["createdAt"] for m in listed(admin, seeded["agent"])}[cello]
    hit = eventually(
        lambda: [
            h
            for h in data(admin.get(path, params={"q": "learning cello", "limit": 5}))["memories"]
            if h["id"] == cello
        ]
    )
    assert hit[0]["createdAt"] == listed_at


def test_the_same_elizaos_id_sent_again_is_the_same_memory(stack, tenant):
    body = memory("I prefer green tea", str(uuid.uuid4()), str(uuid.uuid4()), id=str(uuid.uuid4()))
    # ElizaOS clients send their token as X-API-KEY.
    with httpx.Client(
        base_url=stack.base_url, headers={"X-API-KEY": tenant.master}, timeout=15
    ) as client:
        path = f"/api/agents/{tenant.agent_id}/memories"
        first = data(client.post(path, json=body), 201)
        second = data(client.post(path, json=body), 201)
        assert first["id"] == second["id"]
        # Idempotency-Key works with X-API-KEY as with a bearer key.
        key = {"Idempotency-Key": "eliza-" + uuid.uuid4().hex}
        other = {**body, "id": str(uuid.uuid4())}
        made = client.post(path, json=other, headers=key)
        same = client.post(path, json=other, headers=key)
        assert same.headers.get("idempotent-replayed") == "true"
        assert data(same, 201) == data(made, 201) and data(same, 201)["id"] != first["id"]
        # The same key with another body is refused (by the shared middleware, in problem+json).
        assert client.post(path, json=body, headers=key).status_code == 409
    # Without a key of its own, a caller cannot replay someone else's answer.
    with httpx.Client(base_url=stack.base_url, timeout=15) as anonymous:
        stranger = anonymous.post(path, json=other, headers={**key, "X-API-KEY": "mk_nope"})
        assert_envelope_error(stranger, 401, "AUTH_REQUIRED")


_json = {"content-type": "application/json"}


def test_export_then_import_into_another_agent(admin, seeded, agent_b):
    exported = admin.get(f"/api/memory/agents/{seeded['agent']}/export")
    dump = data(exported)
    assert dump["count"] == len(dump["memories"]) >= 3
    texts = sorted(m["content"]["text"] for m in dump["memories"])
    # The export's answer goes back in as it came.
    path = f"/api/memory/agents/{agent_b}/import"
    imported = data(admin.post(path, content=exported.content, headers=_json), 201)
    assert imported["imported"] == dump["count"]
    assert not set(imported["ids"]) & {m["id"] for m in dump["memories"]}

    def copies() -> list[dict] | None:
        found = listed(admin, agent_b, limit=100)
        return found if len(found) == dump["count"] else None

    copied = eventually(copies)
    assert sorted(m["content"]["text"] for m in copied) == texts
    assert {m["agentId"] for m in copied} == {agent_b}
    assert sorted(map(portable, copied)) == sorted(map(portable, dump["memories"]))
    # Importing the same file again adds nothing; agent A still holds its own.
    again = data(admin.post(path, json={"memories": dump["memories"]}), 201)
    assert sorted(again["ids"]) == sorted(imported["ids"])
    stats = data(admin.get(f"/api/memory/agents/{agent_b}/stats"))
    assert stats["totalMemories"] == dump["count"]
    assert len(listed(admin, seeded["agent"], limit=100)) >= dump["count"]


def test_errors_answer_in_the_elizaos_envelope(stack, admin, tenant):
    agent = tenant.agent_id
    path = f"/api/agents/{agent}/memories"
    with httpx.Client(base_url=stack.base_url, timeout=15) as anonymous:
        assert_envelope_error(anonymous.get(path), 401, "AUTH_REQUIRED")
        wrong = anonymous.get(path, headers={"X-API-KEY": "mk_nope"})
        assert_envelope_error(wrong, 401, "AUTH_REQUIRED")
    missing = admin.post(path, json={"entityId": ENTITY, "content": {"source": "x"}})
    assert assert_envelope_error(missing, 400, "INVALID_REQUEST")["field"] == "content.text"
    no_content = admin.post(path, json={"entityId": ENTITY})
    assert assert_envelope_error(no_content, 400, "INVALID_REQUEST")["field"] == "content"
    bad_entity = admin.post(path, json={"entityId": "no spaces", "content": {"text": "x"}})
    assert assert_envelope_error(bad_entity, 400, "INVALID_ID")["field"] == "entityId"
    bad_time = admin.post(path, json={"content": {"text": "x"}, "createdAt": 1e20})
    assert assert_envelope_error(bad_time, 400, "INVALID_REQUEST")["field"] == "createdAt"
    malformed = admin.post(path, content=b"{not json", headers=_json)
    assert_envelope_error(malformed, 400, "INVALID_REQUEST")
    bad_agent = admin.get("/api/agents/bad%20agent/memories")
    assert assert_envelope_error(bad_agent, 400, "INVALID_ID")["field"] == "agentId"
    # Ids are UUIDs, as ElizaOS's server checks them (seed 002: "Invalid UUID format"):
    # a plain name is refused wherever an id goes.
    named = admin.get("/api/agents/support-bot/memories")
    refused = assert_envelope_error(named, 400, "INVALID_ID")
    assert refused["field"] == "agentId" and "Invalid UUID format" in named.text
    in_room = admin.get(f"/api/memory/{agent}/rooms/general/memories")
    assert assert_envelope_error(in_room, 400, "INVALID_ID")["field"] == "roomId"
    for field in ("entityId", "roomId", "worldId", "id"):
        sent = admin.post(path, json={"content": {"text": "x"}, field: "alice"})
        assert assert_envelope_error(sent, 400, "INVALID_ID")["field"] == field
    by_entity = admin.get(path, params={"entityId": "alice"})
    assert assert_envelope_error(by_entity, 400, "INVALID_ID")["field"] == "entityId"
    search = admin.get(f"/api/memory/agents/{agent}/memories/search")
    assert assert_envelope_error(search, 400, "INVALID_REQUEST")["field"] == "q"
    limit = admin.get(path, params={"limit": 1000})
    assert assert_envelope_error(limit, 400, "INVALID_REQUEST")["field"] == "limit"
    item = admin.post(
        f"/api/memory/agents/{agent}/import",
        json={"memories": [{"content": {"text": "fine"}}, {"content": {"text": ""}}]},
    )
    assert (
        assert_envelope_error(item, 400, "INVALID_REQUEST")["field"] == "memories[1].content.text"
    )
    assert_envelope_error(admin.delete(f"{path}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_envelope_error(admin.get("/api/memory/groups"), 501, "NOT_IMPLEMENTED")


def test_rate_limits_answer_429_in_the_envelope(stack):
    key = "mk_dev_" + uuid.uuid4().hex
    with stack.extra_gateway(key, MNEMO_RATE_LIMITS="memories=1,default=6000") as client:
        path = f"/api/agents/{uuid.uuid4()}/memories"
        answers = [client.get(path) for _ in range(3)]
    assert answers[0].status_code in (200, 429), answers[0].text
    # One call a minute: of three, one at least is over (a minute may turn between two).
    limited = next(a for a in answers if a.status_code != 200)
    assert_envelope_error(limited, 429, "RATE_LIMITED")
    assert limited.headers["retry-after"]


def test_an_agent_key_reaches_only_its_own_agent(stack, tenant, seeded, agent_b):
    with as_key(stack, tenant.agent_key) as own:
        assert listed(own, tenant.agent_id)
        for response in (
            own.get(f"/api/agents/{agent_b}/memories"),
            own.get(f"/api/memory/agents/{agent_b}/memories/search", params={"q": "alpacas"}),
            own.get(f"/api/memory/agents/{agent_b}/export"),
            own.post(f"/api/agents/{agent_b}/memories", json={"content": {"text": "x"}}),
        ):
            assert_envelope_error(response, 404, "NOT_FOUND")
        # Deleting an entity's memories is the agent's own business: only its own go.
        other = own.delete(f"/api/agents/{agent_b}/memories", params={"entityId": ENTITY})
        assert_envelope_error(other, 404, "NOT_FOUND")
        mine = own.delete(f"/api/agents/{tenant.agent_id}/memories", params={"entityId": ENTITY})
        assert data(mine)["entityId"] == ENTITY


def test_a_request_made_here_has_its_audit_chain(admin, tenant):
    correlation = "eliza-" + uuid.uuid4().hex
    created = admin.post(
        f"/api/agents/{tenant.agent_id}/memories",
        json=memory("I ride a red bicycle to work", ENTITY, ROOM),
        headers={"x-correlation-id": correlation},
    )
    assert data(created, 201)["id"]
    assert created.headers["x-correlation-id"] == correlation

    def chain() -> dict | None:
        found = admin.get("/v1/audit/events", params={"correlation_id": correlation}).json()
        types = {e["type"] for e in found["events"]}
        wanted = {"http.request", "ingest.memory", "memory.recorded", "memory.indexed"}
        return found if wanted <= types else None

    events = eventually(chain)["events"]
    by_type = {e["type"]: e for e in events}
    assert by_type["http.request"]["data"]["path"] == f"/api/agents/{tenant.agent_id}/memories"
    assert by_type["ingest.memory"]["causation_id"] == by_type["http.request"]["message_id"]
    assert by_type["memory.recorded"]["causation_id"] == by_type["ingest.memory"]["message_id"]
    assert "bicycle" not in str(events)


def test_deleting_with_an_entity_deletes_only_this_agents_memories_of_it(admin, tenant):
    entity = str(uuid.uuid4())
    path = f"/api/agents/{tenant.agent_id}/memories"
    other_agent = str(uuid.uuid4())
    other_path = f"/api/agents/{other_agent}/memories"
    data(admin.post(path, json=memory("My passport number is in the drawer", entity, ROOM)), 201)
    data(admin.post(other_path, json=memory("I told the other agent too", entity, ROOM)), 201)
    eventually(lambda: listed(admin, tenant.agent_id, entityId=entity))
    eventually(lambda: listed(admin, other_agent, entityId=entity))
    deleted = data(admin.delete(path, params={"entityId": entity}))
    assert deleted["deleted"] == 1 and deleted["entityId"] == entity
    assert not listed(admin, tenant.agent_id, entityId=entity)
    # The same entity's memory with another agent stays.
    assert len(listed(admin, other_agent, entityId=entity)) == 1


def test_deleting_one_memory_and_all_of_an_agents(admin):
    agent = str(uuid.uuid4())
    path = f"/api/agents/{agent}/memories"
    ids = [
        data(admin.post(path, json=memory(f"Fact number {i} about llamas", ENTITY, ROOM)), 201)[
            "id"
        ]
        for i in range(3)
    ]
    eventually(lambda: len(listed(admin, agent)) == 3)
    gone = data(admin.delete(f"{path}/{ids[0]}"))
    assert gone == {"deleted": True, "id": ids[0]}
    eventually(lambda: {m["id"] for m in listed(admin, agent)} == set(ids[1:]))
    assert data(admin.delete(f"{path}/{ids[0]}"))["deleted"]  # again: the same answer
    # A parameter the delete does not take (a room, a misspelt entity) is refused: it was
    # ignored, and every memory of the agent deleted.
    for name in ("roomId", "entity_id"):
        refused = admin.delete(path, params={name: str(uuid.uuid4())})
        assert assert_envelope_error(refused, 400, "INVALID_REQUEST")["details"] == name
    # An empty entity, or two, is no entity (taken as none, every memory went).
    for params in ({"entityId": ""}, {"entityId": ENTITY, "userId": str(uuid.uuid4())}):
        refused = admin.delete(path, params=params)
        assert assert_envelope_error(refused, 400, "INVALID_REQUEST")["details"] == "entityId"
    assert_envelope_error(admin.delete(f"{path}/not-a-uuid"), 400, "INVALID_ID")
    assert len(listed(admin, agent)) == 2
    everything = data(admin.delete(path))
    assert everything == {"deleted": 2, "agentId": agent}
    eventually(lambda: listed(admin, agent) == [])


def test_the_seeds_first_step_tests_the_server(stack):
    """Seed 002, Getting Started: `curl http://localhost:3000/api/server/health`."""
    with httpx.Client(base_url=stack.base_url) as anyone:  # no key: a public check
        ping = anyone.get("/api/server/ping")
        assert ping.status_code == 200 and ping.json()["pong"] is True
        health = eventually(lambda: (r := anyone.get("/api/server/health")).is_success and r)
        body = health.json()
        assert body["status"] == "OK"
        assert set(body["dependencies"].values()) == {"healthy"}
