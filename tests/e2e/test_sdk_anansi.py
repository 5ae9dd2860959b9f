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

    # Both memories indexed (the list above reads the read model, which may be ahead).
    hits = eventually(
        lambda: len(found := client.search(user_id=user, query="hiking mountains")) == 2 and found
    )
    assert hits[0].content.startswith("I love hiking")
    assert hits[0].score > 0 and hits[0].source_id == "note:1"
    keyword = client.search(user_id=user, query="Globex", search_mode="keyword", limit=1)
    assert [h.content for h in keyword] == ["I work at Globex as a data engineer."]

    context = eventually(
        lambda: (c := client.context(user_id=user, q="where do I work")).static and c
    )
    assert any("Globex" in fact for fact in context.static)
    assert context.relevant and "Globex" in context.format_for_prompt()
    # As of 2024-02: the profile as it held then (valid time: Globex, from January's
    # memory), and no chunk, as none had been ingested by then (seed 001).
    before = client.context(user_id=user, q="hiking", as_of="2024-02")
    assert any("Globex" in fact for fact in before.static) and before.relevant == []
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


def test_context_and_search_narrowed_as_the_sdk_asks(client):
    """context(scope, session_id, threshold, alpha, filters) and search(source_id): each
    narrows what comes back, so none of them is sent for nothing."""
    user = "anansi-" + uuid.uuid4().hex[:8]
    client.ingest(user_id=user, content="We picked Postgres for billing.", session_id="s-db")
    client.ingest(
        user_id=user,
        content="Postgres backups run nightly.",
        session_id="s-ops",
        source_type="meeting",
        source_id="minutes:7",
    )
    client.ingest(user_id=user, content="Lunch was pasta.", session_id="s-ops")
    both = eventually(
        lambda: (
            len(found := client.context(user_id=user, q="postgres", scope="user").relevant) == 3
            and found
        )
    )
    assert {r.content for r in both[:2]} == {
        "We picked Postgres for billing.",
        "Postgres backups run nightly.",
    }

    def relevant(**kwargs) -> list[str]:
        return [r.content for r in client.context(user_id=user, q="postgres", **kwargs).relevant]

    assert relevant(scope="session", session_id="s-db") == ["We picked Postgres for billing."]
    assert set(relevant(session_id="s-ops")) == {
        "Postgres backups run nightly.",
        "Lunch was pasta.",
    }
    assert relevant(filters={"sourceType": "meeting"}) == ["Postgres backups run nightly."]
    assert relevant(filters={"sessionId": "s-db"}) == ["We picked Postgres for billing."]
    # A threshold above every score leaves nothing; alpha weighs the two rankings.
    assert relevant(threshold=1.0) == []

    def scored(alpha: float) -> list[tuple[str, float]]:
        found = client.context(user_id=user, q="postgres", alpha=alpha).relevant
        return [(r.content, r.similarity) for r in found]

    assert scored(0.0) != scored(1.0)
    for wrong in ({"scope": "team"}, {"scope": "session"}, {"threshold": 2}):
        with pytest.raises(AnansiError) as refused:
            client.context(user_id=user, q="postgres", **wrong)
        assert refused.value.status_code == 400
    with pytest.raises(AnansiError) as unknown_filter:
        client.context(user_id=user, q="postgres", filters={"colour": "red"})
    assert unknown_filter.value.status_code == 400 and "filters" in str(unknown_filter.value)

    by_source = client.search(user_id=user, query="postgres", source_id="minutes:7")
    assert [(h.content, h.source_id) for h in by_source] == [
        ("Postgres backups run nightly.", "minutes:7")
    ]
    assert client.search(user_id=user, query="postgres", source_id="minutes:8") == []


def test_a_ttl_is_refused_not_ignored(client):
    """Mnemo keeps a memory until it is deleted or its user forgotten: a ttl it would not
    keep to is a 400 naming it, and nothing is stored."""
    user = "anansi-" + uuid.uuid4().hex[:8]
    with pytest.raises(AnansiError) as refused:
        client.ingest(user_id=user, content="Remember this for an hour.", ttl=3600)
    assert refused.value.status_code == 400 and "ttl" in str(refused.value)
    assert client.list_memories(user)[1] == 0
