"""The anansi-memory SDK from PyPI, unchanged, pointed at the gateway with base_url=."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from anansi_memory import AnansiError, AnansiMemory

from .waiting import eventually


@pytest.fixture
def client(stack):
    return AnansiMemory(api_key=stack.api_key, base_url=stack.base_url)


def test_the_main_flow(client):
    user = "anansi-" + uuid.uuid4().hex[:8]
    first = client.ingest(
        user_id=user,
        content="I work at Globex as a data engineer.",
        source_type="conversation",
        session_id="s1",
        metadata={"timestamp": "2024-01-10T09:00:00Z"},
    )
    assert first.queued and first.id
    client.ingest(
        user_id=user,
        content="I love hiking in the Alps on weekends.",
        source_id="note:1",
        metadata={"timestamp": "2024-03-02T09:00:00Z"},
    )
    memories, total = eventually(lambda: (found := client.list_memories(user))[1] == 2 and found)
    assert total == 2
    assert {m.source_id for m in memories} >= {"note:1"}
    assert all(m.created_at for m in memories)

    hits = eventually(lambda: client.search(user_id=user, query="hiking mountains"))
    assert hits[0].content.startswith("I love hiking")
    assert hits[0].score > 0 and hits[0].source_id == "note:1"
    keyword = client.search(user_id=user, query="Globex", search_mode="keyword", limit=1)
    assert [h.content for h in keyword] == ["I work at Globex as a data engineer."]

    context = eventually(
        lambda: (c := client.context(user_id=user, q="where do I work")).static and c
    )
    assert any("Globex" in fact for fact in context.static)
    assert context.relevant and "Globex" in context.format_for_prompt()
    # Before the second memory happened (valid time), only the first is relevant.
    before = client.context(user_id=user, q="hiking", as_of="2024-02")
    assert all("hiking" not in r.content for r in before.relevant)
    # Before anything was known (knowledge time), nothing is.
    known = client.context(
        user_id=user,
        q="hiking",
        as_of_knowledge=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
    )
    assert known.relevant == [] and known.static == []

    entities = eventually(lambda: client.list_entities(user))
    assert any(e["name"] == "Globex" for e in entities)

    assert client.delete_user(user) == {"deleted": True}
    assert eventually(lambda: client.list_memories(user)[1] == 0)
    assert client.delete_user(user) == {"deleted": True}


def test_errors_carry_a_readable_message(client, stack):
    with pytest.raises(AnansiError) as bad:
        client.search(user_id="someone", query="   ")
    assert bad.value.status_code == 400
    assert "query" in str(bad.value)
    with pytest.raises(AnansiError) as unauthorized:
        AnansiMemory(api_key="mk_wrong", base_url=stack.base_url).list_memories("x")
    assert unauthorized.value.status_code == 401
    assert "API key" in str(unauthorized.value)
