"""MEMANTO's API v2 over HTTP, the way its document shows: agents, sessions with tokens,
remember, recall (as-of, changed-since, current), answer, context, errors and audit."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from .test_packs import pack_event
from .test_redaction import fake_github_token
from .waiting import eventually


@pytest.fixture
def v2(stack):
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["timestamp"]
    return body["error"]


@pytest.fixture
def agent(v2):
    agent_id = "memanto-" + uuid.uuid4().hex[:6]
    made = v2.post("/agents", json={"agent_id": agent_id, "name": "Research assistant"})
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "success"
    assert made.json()["data"]["agent_id"] == agent_id
    return agent_id


def session(v2, agent_id: str) -> dict[str, str]:
    response = v2.post(f"/agents/{agent_id}/activate")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return {"X-Session-Token": response.json()["session_token"]}


def test_quick_start_flow(v2, agent, stack):
    token = session(v2, agent)
    before = datetime.now(UTC)
    stored = v2.post(
        f"/agents/{agent}/remember",
        params={
            "memory_type": "fact",
            "content": "Paris is the capital of France",
            "confidence": 1.0,
        },
        headers=token,
    )
    assert stored.status_code == 201, stored.text
    memory_id = stored.json()["memory_id"]
    batch = v2.post(
        f"/agents/{agent}/batch-remember",
        json={
            "memories": [
                {"content": "I prefer answers with sources.", "memory_type": "preference"},
                {
                    "content": "The deadline for the survey is 14 March.",
                    "memory_type": "commitment",
                    "tags": ["survey"],
                },
            ]
        },
        headers=token,
    )
    assert batch.status_code == 201 and batch.json()["count"] == 2

    def recalled():
        r = v2.get(
            f"/agents/{agent}/recall",
            params={"query": "What's the capital of France?"},
            headers=token,
        )
        return r.json()["memories"]

    memories = eventually(recalled)
    assert memories[0]["memory_id"] == memory_id
    assert memories[0]["memory_type"] == "fact" and memories[0]["confidence"] == 1.0
    typed = eventually(
        lambda: v2.get(
            f"/agents/{agent}/recall",
            params={"query": "survey deadline", "memory_type": "commitment"},
            headers=token,
        ).json()["memories"]
    )
    assert [m["tags"] for m in typed] == [["survey"]]

    early = v2.get(
        f"/agents/{agent}/recall/as-of",
        params={"query": "capital of France", "as_of": "2020-01-01T00:00:00Z"},
        headers=token,
    )
    assert early.status_code == 200 and early.json()["memories"] == []

    changed = eventually(
        lambda: (
            (
                r := v2.get(
                    f"/agents/{agent}/recall/changed-since",
                    params={"since": before.isoformat()},
                    headers=token,
                ).json()
            )["count"]
            == 3
            and r
        )
    )
    assert len({m["memory_id"] for m in changed["memories"]}) == 3
    none_since = v2.get(
        f"/agents/{agent}/recall/changed-since",
        params={"since": datetime.now(UTC).isoformat()},
        headers=token,
    )
    assert none_since.json()["memories"] == []

    current = eventually(
        lambda: v2.get(f"/agents/{agent}/recall/current", headers=token).json()["memories"]
    )
    assert any("answers" in m["content"] and m["kind"] == "static" for m in current)

    answered = v2.post(
        f"/agents/{agent}/answer",
        json={"question": "What is the capital of France?"},
        headers=token,
    )
    body = answered.json()
    assert body["answer"] == "Paris is the capital of France" and body["confidence"] > 0.5
    assert body["sources"][0]["memory_id"] == memory_id

    summary = eventually(
        lambda: (
            (
                r := v2.post(
                    f"/agents/{agent}/context/summarize", json={"max_tokens": 300}, headers=token
                ).json()
            )["memory_count"]
            == 3
            and r
        )
    )
    assert "Paris" in summary["summary"] and summary["token_count"] <= 300
    # The query a summary was asked for is kept with its pack: a key in it is redacted.
    github, correlation = fake_github_token(), "corr-" + uuid.uuid4().hex
    asked = v2.post(
        f"/agents/{agent}/context/summarize",
        json={"max_tokens": 300, "query": f"capital {github}"},
        headers={**token, "x-correlation-id": correlation},
    )
    assert asked.status_code == 200, asked.text
    event = eventually(lambda: pack_event(stack, correlation), timeout=60)
    assert b"capital [REDACTED:github_token]" in event and github.encode() not in event

    exported = v2.get(f"/agents/{agent}/export", headers=token).json()
    assert exported["count"] == 3


def test_compress_keeps_recent_messages_and_facts(v2, agent):
    token = session(v2, agent)
    messages = [{"role": "system", "content": "You are helpful."}]
    for i in range(20):
        messages.append(
            {"role": "user", "content": f"well, um, okay. My order number is {1000 + i}."}
        )
        messages.append({"role": "assistant", "content": "sure thing, noted that for you."})
    response = v2.post(
        f"/agents/{agent}/context/compress",
        json={"messages": messages, "max_tokens": 120},
        headers=token,
    )
    body = response.json()
    assert body["compressed_tokens"] <= 120 < body["original_tokens"]
    kept = body["messages"]
    assert kept[0] == messages[0] and kept[-1] == messages[-1]
    assert "1000" in kept[1]["content"]


def test_sessions_deactivate_extend_and_errors(v2, agent, stack):
    missing = v2.post(f"/agents/{agent}/remember", params={"content": "x"})
    assert error_of(missing, 401)["code"] == "MISSING_SESSION_TOKEN"
    bogus = v2.post(
        f"/agents/{agent}/remember",
        params={"content": "x"},
        headers={"X-Session-Token": "mst_nope"},
    )
    assert error_of(bogus, 401)["code"] == "INVALID_SESSION_TOKEN"
    token = session(v2, agent)
    status = v2.get(f"/agents/{agent}/status", headers=token).json()
    assert status["session_active"] and status["remaining_seconds"] > 0
    longer = v2.post(f"/agents/{agent}/extend", json={"hours": 2}, headers=token).json()
    assert longer["expires_at"] > status["expires_at"]
    assert (
        error_of(
            v2.post(
                f"/agents/{agent}/remember", params={"content": "x", "confidence": 7}, headers=token
            ),
            422,
        )["code"]
        == "VALIDATION_ERROR"
    )
    assert v2.post(f"/agents/{agent}/deactivate", headers=token).json()["deactivated"]
    # An ended session has no time left, wherever its status is read.
    ended_status = v2.get(f"/agents/{agent}/status", headers=token).json()
    assert (ended_status["session_active"], ended_status["remaining_seconds"]) == (False, 0)
    current = v2.get("/session/current", headers=token).json()
    assert current["session_status"] == "ended" and not current["session_active"]
    assert current["time_remaining_seconds"] == current["remaining_seconds"] == 0
    ended = v2.post(f"/agents/{agent}/remember", params={"content": "x"}, headers=token)
    assert error_of(ended, 401)["code"] == "SESSION_EXPIRED"
    assert error_of(v2.get("/agents/nobody-here"), 404)["code"] == "INVALID_AGENT_ID"
    with httpx.Client(
        base_url=f"{stack.base_url}/api/v2", headers={"Authorization": "Bearer invalid_key"}
    ) as wrong:
        assert error_of(wrong.get("/agents"), 401)["code"] == "INVALID_API_KEY"
    # Another agent's token does not open this one.
    other = v2.post("/agents", json={"agent_id": agent + "-b"}).json()["agent_id"]
    stolen = v2.post(
        f"/agents/{agent}/remember", params={"content": "x"}, headers=session(v2, other)
    )
    assert error_of(stolen, 401)["code"] == "INVALID_SESSION_TOKEN"


def test_agents_list_get_delete_and_audit(v2, agent, stack):
    listed = v2.get("/agents", params={"limit": 100}).json()
    assert agent in [a["agent_id"] for a in listed["agents"]]
    assert v2.get(f"/agents/{agent}").json()["name"] == "Research assistant"
    token = session(v2, agent)
    correlation = "memanto-" + uuid.uuid4().hex
    sent = v2.post(
        f"/agents/{agent}/remember",
        params={"content": "audited"},
        headers={**token, "x-correlation-id": correlation},
    )
    assert sent.status_code == 201
    with stack.client() as api:
        chain = eventually(
            lambda: (
                (
                    e := api.get("/v1/audit/events", params={"correlation_id": correlation}).json()[
                        "events"
                    ]
                )
                and {"request", "command", "event"} <= {x["kind"] for x in e}
                and e
            )
        )
    assert any(e["type"] == "memory.recorded" for e in chain)
    assert v2.delete(f"/agents/{agent}").status_code == 204
    assert error_of(v2.get(f"/agents/{agent}"), 404)["code"] == "INVALID_AGENT_ID"
    # A bad agent_id is a 422 naming agent_id, as every other bad input here (it was a 400
    # naming the native agentId).
    bad = v2.post("/agents", json={"agent_id": "has spaces/and slashes"})
    assert bad.status_code == 422 and "agent_id" in bad.text and "agentId" not in bad.text


def test_validate_supersede_and_contradict_current_memories(v2, agent):
    token = session(v2, agent)
    for content in ("I work at Globex.", "I live in Lisbon."):
        assert (
            v2.post(
                f"/agents/{agent}/remember", params={"content": content}, headers=token
            ).status_code
            == 201
        )

    def current() -> dict[str, dict]:
        found = v2.get(f"/agents/{agent}/recall/current", headers=token).json()["memories"]
        return {m["content"]: m for m in found}

    facts = eventually(lambda: (c := current()) and len(c) == 2 and c)
    work = next(m for text, m in facts.items() if "Globex" in text)
    home = next(m for text, m in facts.items() if "Lisbon" in text)

    checked = v2.post(f"/agents/{agent}/memories/{work['memory_id']}/validate", headers=token)
    assert checked.status_code == 200, checked.text
    assert checked.json()["memory"]["validated"] is True

    replaced = v2.post(
        f"/agents/{agent}/supersede",
        json={"memory_id": work["memory_id"], "new_content": "Works at Initech"},
        headers=token,
    ).json()
    assert replaced["memory"]["status"] == "superseded"
    assert replaced["new_memory"]["content"] == "Works at Initech"
    now = current()
    assert "Works at Initech" in now and work["content"] not in now

    flagged = v2.post(
        f"/agents/{agent}/memories/{home['memory_id']}/contradict",
        json={"content": "Lives in Porto", "reason": "moved?"},
        headers=token,
    )
    assert flagged.json()["memory"]["contradicted"] is True
    missing = v2.post(f"/agents/{agent}/memories/nope/validate", headers=token)
    assert error_of(missing, 404)["code"] == "MEMORY_NOT_FOUND"


def test_batch_remember_as_the_seed_writes_it(v2, agent):
    """Seed 004's "Batch Store Memories": items name their kind `type`."""
    token = session(v2, agent)
    memories = [
        {"content": "Alice", "type": "fact"},
        {"content": "Prefers email", "type": "preference"},
    ]
    stored = v2.post(f"/agents/{agent}/batch-remember", json={"memories": memories}, headers=token)
    assert stored.status_code == 201 and stored.json()["count"] == 2
    typed = eventually(
        lambda: v2.get(
            f"/agents/{agent}/recall",
            params={"query": "email", "memory_type": "preference"},
            headers=token,
        ).json()["memories"]
    )
    assert [m["content"] for m in typed] == ["Prefers email"]
    wrong = v2.post(
        f"/agents/{agent}/batch-remember",
        json={"memories": [{"content": "x", "type": "gossip"}]},
        headers=token,
    )
    assert wrong.status_code == 422 and "type" in wrong.text


def test_recall_about_one_speaker_gives_their_own_words_and_facts(v2, agent):
    token = session(v2, agent)
    said = [
        {"content": "I work at Acme and I love sailing.", "metadata": {"author": "Audrey"}},
        {"content": "I work at Globex and I love sailing.", "metadata": {"author": "Andrew"}},
        {"content": "You both love sailing, I hear.", "metadata": {"role": "assistant"}},
    ]
    stored = v2.post(f"/agents/{agent}/batch-remember", json={"memories": said}, headers=token)
    assert stored.status_code == 201, stored.text

    def recall(**params: str) -> set[str]:
        params = {"query": "sailing and work", **params}
        found = v2.get(f"/agents/{agent}/recall", params=params, headers=token)
        assert found.status_code == 200, found.text
        return {m["content"] for m in found.json()["memories"]}

    eventually(lambda: len(recall()) == 3)
    assert recall(about="audrey") == {said[0]["content"]}
    assert recall(about="Andrew") == {said[1]["content"]}
    assert recall(about=agent) == set()  # the assistant's line is nobody's own words

    def current(**params: str) -> set[str]:
        found = v2.get(f"/agents/{agent}/recall/current", params=params, headers=token)
        return {m["content"] for m in found.json()["memories"]}

    eventually(lambda: "Works at Globex" in current())
    assert "Works at Acme" in current(about="Audrey")
    assert "Works at Globex" not in current(about="Audrey")


def test_recall_returns_up_to_the_limit_asked_and_filters_a_deep_read(v2, agent):
    """`limit` goes to 100 (past the native search's 50), and memory_type is applied to
    the best 100 matches, so a kind found lower than 3x the limit is still recalled."""
    token = session(v2, agent)
    facts = [{"content": f"Rose bush {i} grows in the garden", "type": "fact"} for i in range(60)]
    goals = [{"content": f"Run marathon number {i} next spring", "type": "goal"} for i in range(4)]
    stored = v2.post(
        f"/agents/{agent}/batch-remember", json={"memories": facts + goals}, headers=token
    )
    assert stored.status_code == 201, stored.text

    def recalled(**params) -> list[dict]:
        found = v2.get(
            f"/agents/{agent}/recall",
            params={"query": "roses in the garden", **params},
            headers=token,
        )
        assert found.status_code == 200, found.text
        return found.json()["memories"]

    assert len(eventually(lambda: (m := recalled(limit=64)) and len(m) == 64 and m)) == 64
    goals_found = recalled(limit=5, memory_type="goal")
    assert sorted(m["content"] for m in goals_found) == sorted(g["content"] for g in goals)


def test_recall_shows_the_metadata_the_client_wrote(v2, agent):
    """recall and answer show a memory's metadata as changed-since does: the client's own,
    without the keys the search adds (session, agent, source type)."""
    token = session(v2, agent)
    body = {"content": "The office wifi is Meridian", "session_id": "desk-1",
            "metadata": {"source": "handbook"}}  # fmt: skip
    assert v2.post(f"/agents/{agent}/remember", json=body, headers=token).status_code == 201

    def recalled() -> list[dict]:
        found = v2.get(f"/agents/{agent}/recall", params={"query": "wifi"}, headers=token)
        return found.json()["memories"]

    [hit] = eventually(recalled)
    since = v2.get(
        f"/agents/{agent}/recall/changed-since",
        params={"since": "2000-01-01T00:00:00Z"},
        headers=token,
    ).json()["memories"]
    assert hit["metadata"] == since[0]["metadata"] == {"source": "handbook"}
