"""The elephantasm SDK from PyPI, unchanged, pointed at the gateway with endpoint=."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from elephantasm import Elephantasm, EventType
from elephantasm.exceptions import AuthenticationError, NotFoundError

from .waiting import eventually


@pytest.fixture
def client(stack):
    with Elephantasm(api_key=stack.api_key, endpoint=stack.base_url) as sdk:
        yield sdk


def test_create_anima_extract_every_event_type_inject_and_as_prompt(client, stack):
    anima = client.create_anima(
        "support-" + uuid.uuid4().hex[:6],
        description="Patient support agent",
        meta={"traits": ["patient", "precise"]},
    )
    assert client.inject(anima_id=anima.id) is None  # no memory yet: JSON null
    start = datetime.now(UTC) - timedelta(hours=3)
    sent = [
        (EventType.SYSTEM, "Support session opened", None),
        (EventType.MESSAGE_IN, "Hi, I work at Initech and my printer jams daily.", "user"),
        (EventType.MESSAGE_OUT, "Sorry to hear that. Which model is it?", "assistant"),
        (EventType.TOOL_CALL, "lookup_printer(model='PC LOAD 3000')", "tool"),
        (EventType.TOOL_RESULT, "PC LOAD 3000: known paper-feed defect", "tool"),
        ("message.in", "It is the PC LOAD 3000.", "user"),
    ]
    events = []
    for i, (event_type, content, role) in enumerate(sent):
        events.append(
            client.extract(
                event_type,
                content,
                anima_id=anima.id,
                session_id="conv-1",
                role=role,
                author="bob" if role == "user" else None,
                occurred_at=start + timedelta(minutes=i),
                meta={"turn": i},
            )
        )
    assert [e.event_type for e in events] == [
        "system",
        "message.in",
        "message.out",
        "tool.call",
        "tool.result",
        "message.in",
    ]
    assert events[1].anima_id == anima.id and events[1].content.startswith("Hi, I work")

    # Every event in the session, and synthesis's one fact ("Works at Initech") in the
    # knowledge: a pack compiled before the fact landed is rightly a different pack.
    pack = eventually(
        lambda: (
            (p := client.inject(anima_id=anima.id))
            and p.session_memory_count == 6
            and p.knowledge_count == 1
            and p
        )
    )
    assert pack.anima_id == anima.id and pack.preset_name == "conversational"
    assert 0 < pack.token_count <= pack.max_tokens == 4000
    prompt = pack.as_prompt()
    assert "PC LOAD 3000" in prompt and "Support session opened" in prompt
    assert pack.has_identity and "Patient support agent" in pack.identity.prose
    temporal = pack.temporal_context
    assert temporal.formatted.startswith("Last interaction:") and 2 < temporal.hours_ago < 4
    assert [m.summary for m in pack.session_memories][-1] == "It is the PC LOAD 3000."
    # Nothing new: the same stored pack comes back.
    assert client.inject(anima_id=anima.id).id == pack.id
    steered = client.inject(anima_id=anima.id, query="printer model", preset="self_determined")
    assert steered.preset_name == "self_determined" and steered.query == "printer model"
    assert steered.id != pack.id


def test_errors_and_dedupe(client, stack):
    anima = client.create_anima("dedupe-" + uuid.uuid4().hex[:6])
    assert client._client.get(f"/animas/{anima.id}").json()["name"] == anima.name
    with pytest.raises(NotFoundError):
        client.extract(EventType.MESSAGE_IN, "hello", anima_id=uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.inject(anima_id=uuid.uuid4())
    with pytest.raises(AuthenticationError):
        Elephantasm(api_key="mk_nope", endpoint=stack.base_url).inject(anima_id=anima.id)
    body = {
        "anima_id": str(anima.id),
        "event_type": "message.in",
        "content": "once",
        "dedupe_key": "k-1",
    }
    with httpx.Client(
        base_url=f"{stack.base_url}/api", headers={"Authorization": f"Bearer {stack.api_key}"}
    ) as api:
        first = api.post("/events", json=body)
        assert first.status_code == 201 and first.json()["dedupe_key"] == "k-1"
        again = api.post("/events", json=body)
        assert again.status_code == 409 and "dedupe_key" in again.json()["detail"]
        bad = api.post("/events", json={**body, "event_type": "shout", "dedupe_key": None})
        assert bad.status_code == 422 and "event_type" in bad.json()["detail"]
        # A role is one of those the seed lists.
        role = api.post("/events", json={**body, "role": "narrator", "dedupe_key": None})
        assert role.status_code == 422 and "role" in role.json()["detail"]
        # A refusal names the field as this API calls it (it said `sessionId`, `meta`).
        long = api.post("/events", json={**body, "session_id": "s" * 300, "dedupe_key": None})
        assert long.status_code == 422 and "session_id" in long.json()["detail"], long.text
        assert "sessionId" not in long.text
        big = {"note": "x" * 70_000}
        meta = api.post("/events", json={**body, "meta": big, "dedupe_key": None})
        assert meta.status_code == 413 and "metadata" not in meta.text, meta.text
        health = api.get("/health")
        assert health.json()["status"] == "healthy"
        assert api.get("/subscriptions/usage").json()["plan"] == "self-hosted"
    # The duplicate was stored once.
    with stack.client() as native:
        page = eventually(
            lambda: (
                (r := native.get("/v1/memories", params={"userId": str(anima.id)}).json())["total"]
                and r
            )
        )
    assert [m["content"] for m in page["memories"]] == ["once"]


def test_a_dedupe_key_is_claimed_again_once_its_event_is_gone(client, stack):
    """409 means the event was not sent; once its memory is deleted, or its anima deleted
    and made again, the key is free again (as a native sourceId), and the event sent with
    it is stored and answered 201, never 409 while stored."""
    anima = str(client.create_anima("redo-" + uuid.uuid4().hex[:6]).id)
    body = {"anima_id": anima, "event_type": "message.in", "dedupe_key": "dk1"}

    def contents(native) -> list[str]:
        page = native.get("/v1/memories", params={"userId": anima}).json()
        return [m["content"] for m in page["memories"]]

    with (
        httpx.Client(
            base_url=f"{stack.base_url}/api", headers={"Authorization": f"Bearer {stack.api_key}"}
        ) as api,
        stack.client() as native,
    ):
        first = api.post("/events", json={**body, "content": "first words"})
        assert first.status_code == 201, first.text
        assert api.post("/events", json={**body, "content": "again"}).status_code == 409
        eventually(lambda: contents(native) == ["first words"])
        assert native.delete(f"/v1/memories/{first.json()['id']}").status_code == 200
        second = api.post("/events", json={**body, "content": "second words"})
        assert second.status_code == 201, second.text
        eventually(lambda: contents(native) == ["second words"])
        assert native.delete(f"/v1/agents/{anima}").status_code == 200
        assert native.post("/v1/agents", json={"id": anima, "name": "redo"}).status_code == 201
        third = api.post("/events", json={**body, "content": "a new anima's words"})
        assert third.status_code == 201, third.text
        eventually(lambda: contents(native) == ["a new anima's words"])


def test_an_event_sent_here_has_its_audit_chain(client, stack):
    anima = client.create_anima("audited-" + uuid.uuid4().hex[:6])
    correlation = "elephantasm-" + uuid.uuid4().hex
    with httpx.Client(
        base_url=f"{stack.base_url}/api", headers={"Authorization": f"Bearer {stack.api_key}"}
    ) as api:
        sent = api.post(
            "/events",
            json={"anima_id": str(anima.id), "event_type": "message.in", "content": "hello"},
            headers={"x-correlation-id": correlation},
        )
    assert sent.status_code == 201 and sent.headers["x-correlation-id"] == correlation
    with stack.client() as native:

        def chain() -> list[dict] | None:
            found = native.get("/v1/audit/events", params={"correlation_id": correlation})
            events = found.json()["events"]
            wanted = {"http.request", "ingest.memory", "memory.recorded", "memory.indexed"}
            return events if wanted <= {e["type"] for e in events} else None

        events = eventually(chain)
    request = next(e for e in events if e["type"] == "http.request")
    assert request["data"]["path"] == "/api/events"


def test_the_seeds_authentication_example_lists_animas(client, stack):
    """Seed 000: `curl /api/animas -H "Authorization: Bearer ..."`."""
    made = client.create_anima("listed-" + uuid.uuid4().hex[:6])
    with httpx.Client(base_url=stack.base_url) as api:
        listed = api.get("/api/animas", headers={"Authorization": f"Bearer {stack.api_key}"})
        assert listed.status_code == 200
        assert str(made.id) in {a["id"] for a in listed.json()}
        refused = api.get("/api/animas", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401 and "detail" in refused.json()


def test_the_dedupe_key_an_answer_shows_is_claimed(client, stack):
    """An event sent without a dedupe_key is answered with one (as the seed's example):
    a client that sends the event again with it gets 409, not a second memory."""
    anima = client.create_anima("shown-" + uuid.uuid4().hex[:6])
    event = client.extract(EventType.MESSAGE_IN, "only once", anima_id=anima.id)
    assert event.dedupe_key
    body = {"anima_id": str(anima.id), "event_type": "message.in", "content": "only once"}
    with (
        httpx.Client(
            base_url=f"{stack.base_url}/api", headers={"Authorization": f"Bearer {stack.api_key}"}
        ) as api,
        stack.client() as native,
    ):
        again = api.post("/events", json={**body, "dedupe_key": event.dedupe_key})
        assert again.status_code == 409, again.text
        other = api.post("/events", json=body)
        assert other.status_code == 201 and other.json()["dedupe_key"] != event.dedupe_key

        def contents() -> list[str]:
            page = native.get("/v1/memories", params={"userId": str(anima.id)}).json()
            return [m["content"] for m in page["memories"]]

        eventually(lambda: contents() == ["only once", "only once"])
