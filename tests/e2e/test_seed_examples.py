"""The seed documents' requests, as each document writes them (/work/shared/seeds), against
the gateway: the same paths, parameters, bodies and headers, and the answer's shape as
the document shows it. Each test names the document and the passage it follows.

MEMANTO (seed 004), Anansi (seed 001), ElizaOS (seed 002), Elephantasm (seed 000) and
Anima's conventions (seed 003) each have a part."""

import uuid

import httpx
import pytest

from .waiting import eventually

# --- MEMANTO (seed 004) --------------------------------------------------------------


@pytest.fixture
def base_url(stack) -> str:
    return f"{stack.base_url}/api/v2"


@pytest.fixture
def api_key(stack) -> str:
    return stack.api_key


def success(response: httpx.Response, status: int = 200) -> dict:
    """MEMANTO's success envelope: status, data, timestamp (data's fields also on top)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "success" and body["timestamp"].endswith("Z")
    return body


def memanto_error(response: httpx.Response, status: int) -> dict:
    """MEMANTO's error envelope: status "error", error {code, message}, timestamp."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error" and body["timestamp"]
    assert set(body["error"]) >= {"code", "message"}
    return body["error"]


def test_memanto_quick_start_activates_an_agent_never_created(base_url, api_key):
    """ "Quick Start Example": activate, remember (query parameters), recall."""
    agent_id = "my-agent-" + uuid.uuid4().hex[:6]
    response = httpx.post(
        f"{base_url}/agents/{agent_id}/activate",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    session_token = success(response)["session_token"]

    response = httpx.post(
        f"{base_url}/agents/{agent_id}/remember",
        params={
            "memory_type": "fact",
            "content": "Paris is the capital of France",
            "confidence": 1.0,
        },
        headers={"Authorization": f"Bearer {api_key}", "X-Session-Token": session_token},
    )
    memory_id = success(response, 201)["memory_id"]

    def recall() -> list[dict]:
        response = httpx.get(
            f"{base_url}/agents/{agent_id}/recall",
            params={"query": "What's the capital of France?"},
            headers={"Authorization": f"Bearer {api_key}", "X-Session-Token": session_token},
        )
        return success(response)["memories"]

    memories = eventually(recall)
    assert len(memories) == 1 and memories[0]["memory_id"] == memory_id
    # The activation registered the agent: it is listed like one created first.
    listed = httpx.get(
        f"{base_url}/agents/{agent_id}", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert success(listed)["agent_id"] == agent_id


def test_memanto_common_patterns(base_url, api_key):
    """ "Create Agent, Activate, Store Memory" and "Batch Store Memories"."""
    agent = "pattern-" + uuid.uuid4().hex[:6]
    created = httpx.post(
        f"{base_url}/agents",
        json={"agent_id": agent},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert success(created, 201)["agent_id"] == agent
    resp = httpx.post(
        f"{base_url}/agents/{agent}/activate", headers={"Authorization": f"Bearer {api_key}"}
    )
    token = resp.json()["session_token"]
    stored = httpx.post(
        f"{base_url}/agents/{agent}/remember",
        params={"content": "Hello", "type": "fact"},
        headers={"Authorization": f"Bearer {api_key}", "X-Session-Token": token},
    )
    assert success(stored, 201)["memory_type"] == "fact"
    memories = [
        {"content": "Alice", "type": "fact"},
        {"content": "Prefers email", "type": "preference"},
    ]
    batch = httpx.post(
        f"{base_url}/agents/{agent}/batch-remember",
        json={"memories": memories},
        headers={"Authorization": f"Bearer {api_key}", "X-Session-Token": token},
    )
    assert success(batch, 201)["count"] == 2


@pytest.fixture
def session(base_url, api_key):
    """An activated agent: (client with the key, agent id, headers with the token)."""
    agent = "seed-" + uuid.uuid4().hex[:6]
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=15
    ) as client:
        token = success(client.post(f"/agents/{agent}/activate"))["session_token"]
        yield client, agent, {"X-Session-Token": token}


def test_memanto_session_current_and_extend(session):
    """Sessions: "GET /session/current - Check current session", "POST /session/extend"."""
    client, agent, token = session
    current = success(client.get("/session/current", headers=token))
    assert current["agent_id"] == agent and current["session_active"] is True
    assert current["session_status"] == "active" and current["time_remaining_seconds"] > 0
    assert current["data"]["expires_at"] == current["expires_at"]
    extended = success(
        client.post("/session/extend", params={"additional_hours": 2}, headers=token)
    )
    assert extended["agent_id"] == agent and extended["expires_at"] > current["expires_at"]
    assert extended["remaining_seconds"] > current["remaining_seconds"]
    # Without a token, in MEMANTO's envelope (seed: "Missing Session Token").
    assert memanto_error(client.get("/session/current"), 401)["code"] == "MISSING_SESSION_TOKEN"
    success(client.post(f"/agents/{agent}/deactivate", headers=token))
    ended = success(client.get("/session/current", headers=token))
    assert ended["session_status"] == "ended" and ended["session_active"] is False
    refused = client.post("/session/extend", headers=token)
    assert memanto_error(refused, 401)["code"] == "SESSION_EXPIRED"


def test_memanto_validate_supersede_contradict_by_path(session):
    """Memory Management: POST /agents/{agent_id}/validate|supersede|contradict/{memory_id}."""
    client, agent, token = session
    for content in ("I work at Globex.", "I live in Lisbon."):
        success(
            client.post(f"/agents/{agent}/remember", params={"content": content}, headers=token),
            201,
        )

    def current() -> dict[str, dict]:
        found = success(client.get(f"/agents/{agent}/recall/current", headers=token))
        return {m["content"]: m for m in found["memories"]}

    facts = eventually(lambda: (c := current()) and len(c) == 2 and c)
    work = next(m for text, m in facts.items() if "Globex" in text)
    home = next(m for text, m in facts.items() if "Lisbon" in text)

    checked = success(client.post(f"/agents/{agent}/validate/{work['memory_id']}", headers=token))
    assert checked["memory"]["memory_id"] == work["memory_id"] and checked["memory"]["validated"]

    # MEMANTO's own form: the newer memory, stored first, named by new_memory_id.
    newer = client.post(
        f"/agents/{agent}/remember",
        params={"content": "Works at Initech", "user_id": "hr-notes"},
        headers=token,
    )
    new_id = success(newer, 201)["memory_id"]

    def superseded() -> dict | None:
        answer = client.post(
            f"/agents/{agent}/supersede/{work['memory_id']}",
            params={"new_memory_id": new_id},
            headers=token,
        )
        # The newer memory is readable once retrieval has recorded it.
        return success(answer) if answer.status_code == 200 else None

    replaced = eventually(superseded)
    assert replaced["memory"]["status"] == "superseded"
    assert replaced["new_memory"]["content"] == "Works at Initech"
    assert "Works at Initech" in current() and work["content"] not in current()

    flagged = success(client.post(f"/agents/{agent}/contradict/{home['memory_id']}", headers=token))
    assert flagged["memory"]["contradicted"] is True
    missing = client.post(f"/agents/{agent}/validate/no-such-memory", headers=token)
    assert memanto_error(missing, 404)["code"] == "MEMORY_NOT_FOUND"


def test_memanto_context_operations(session):
    """Context Operations: /context/summarize, /context/summarize/custom, /context/compress
    (the session's agent, as the token says)."""
    client, agent, token = session
    ids = [
        success(
            client.post(f"/agents/{agent}/remember", params={"content": text}, headers=token), 201
        )["memory_id"]
        for text in ("The launch is set for 14 March.", "Maria owns the pricing page.")
    ]

    def summarized() -> dict | None:
        body = success(client.post("/context/summarize", json={}, headers=token))
        return body if body["memory_count"] == 2 else None

    summary = eventually(summarized)
    assert summary["agent_id"] == agent and "14 March" in summary["summary"]
    assert sorted(summary["original_memory_ids"]) == sorted(ids)
    assert summary["summary_preview"] == summary["summary"][:200]

    custom = success(
        client.post("/context/summarize/custom", json={"memory_ids": ids[1:]}, headers=token)
    )
    assert custom["summary"] == "- Maria owns the pricing page."
    assert custom["original_memory_ids"] == ids[1:] and custom["summarized_count"] == 1
    wrong = client.post("/context/summarize/custom", json={"memory_ids": []}, headers=token)
    assert memanto_error(wrong, 422)["code"] == "VALIDATION_ERROR"

    messages = [{"role": "user", "content": f"My order number is {1000 + i}."} for i in range(40)]
    squeezed = success(
        client.post(
            "/context/compress", json={"messages": messages, "max_tokens": 100}, headers=token
        )
    )
    assert squeezed["compressed"] is True and squeezed["compressed_tokens"] <= 100
    assert squeezed["messages"][-1] == messages[-1]
    # The stored history: nothing is older than a day yet.
    history = success(
        client.post(
            "/context/compress", json={"days_to_compress": 1, "keep_recent_count": 0}, headers=token
        )
    )
    assert history["compressed"] is False and "1 days" in history["reason"]
    other = client.post("/context/summarize", json={"agent_id": "someone-else"}, headers=token)
    assert memanto_error(other, 401)["code"] == "INVALID_SESSION_TOKEN"


def test_memanto_errors_in_its_envelope(base_url, session):
    """ "Error Handling": an invalid key, a missing token; and a path or method the API
    does not have answers in the same envelope."""
    client, agent, _ = session
    invalid = httpx.get(f"{base_url}/agents", headers={"Authorization": "Bearer invalid_key"})
    assert memanto_error(invalid, 401)["code"] == "INVALID_API_KEY"
    missing = httpx.post(
        f"{base_url}/agents/{agent}/remember",
        headers={"Authorization": client.headers["Authorization"]},
    )
    assert memanto_error(missing, 401) == {
        "code": "MISSING_SESSION_TOKEN",
        "message": "X-Session-Token header is required",
    }
    assert memanto_error(client.get("/no/such/route"), 404)["code"] == "NOT_FOUND"
    assert memanto_error(client.put("/session/current"), 405)["code"]
