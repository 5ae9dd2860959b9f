"""The seed documents' requests, as each document writes them (/work/shared/seeds), against
the gateway: the same paths, parameters, bodies and headers, and the answer's shape as
the document shows it. Each test names the document and the passage it follows.

MEMANTO (seed 004), Anansi (seed 001), ElizaOS (seed 002), Elephantasm (seed 000) and
Anima's conventions (seed 003) each have a part."""

import uuid
from datetime import UTC, datetime

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


# --- Anansi (seed 001) ---------------------------------------------------------------


@pytest.fixture
def anansi(stack):
    with httpx.Client(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as client:
        yield client


def test_anansi_ingest_search_and_context_as_documented(anansi):
    """POST /v1/ingest, POST /v1/ingest/batch, GET /v1/search, GET /v1/context, DELETE
    /v1/memory, with the fields and answers the reference lists."""
    user = "user_abc_" + uuid.uuid4().hex[:6]
    before = datetime.now(UTC)
    sent = anansi.post(
        "/v1/ingest",
        json={
            "userId": user,
            "content": "User prefers TypeScript for the webhook retry system.",
            "sourceType": "conversation",
            "sourceId": "chat:1",
            "sessionId": "s1",
            "agentId": "support-bot",
            "metadata": {"title": "stack", "author": "Sam"},
        },
    )
    assert sent.status_code == 202 and set(sent.json()) == {"id", "queued"}
    assert sent.json()["queued"] is True
    batch = anansi.post(
        "/v1/ingest/batch",
        json={
            "items": [
                {
                    "userId": user,
                    "content": "Debugging BullMQ retry logic",
                    "sourceType": "meeting",
                },
                {
                    "userId": user,
                    "content": "Works on the payments team",
                    "sourceType": "onboarding",
                },
            ]
        },
    )
    assert batch.status_code == 202 and batch.json()["queued"] == 2
    assert len(batch.json()["ids"]) == 2

    def search(**params) -> list[dict]:
        found = anansi.get("/v1/search", params={"userId": user, "q": "retry", **params})
        assert found.status_code == 200, found.text
        return found.json()["results"]

    results = eventually(lambda: (r := search(limit=10)) and len(r) == 3 and r)
    for result in results:
        assert {"content", "similarity", "sourceType", "ingestedAt"} <= set(result)
    assert [r["content"] for r in search(sourceType="meeting")] == ["Debugging BullMQ retry logic"]
    # asOf: "Only return chunks ingested on or before this timestamp."
    assert search(asOf=before.isoformat()) == []
    newest = max(r["ingestedAt"] for r in results)
    assert len(search(asOf=newest)) == 3

    context = anansi.get("/v1/context", params={"userId": user, "q": "retry", "limit": 2})
    assert context.status_code == 200 and set(context.json()) == {"static", "dynamic", "relevant"}
    relevant = context.json()["relevant"]
    assert len(relevant) == 2 and {"content", "similarity", "metadata"} <= set(relevant[0])
    early = anansi.get(
        "/v1/context", params={"userId": user, "q": "retry", "asOf": before.isoformat()}
    )
    assert early.json()["relevant"] == []

    assert anansi.get("/v1/context").status_code == 400  # "Missing userId"
    assert anansi.get("/v1/context", params={"userId": "u" * 257}).status_code == 400
    too_many = {"items": [{"userId": user, "content": "x"}] * 51}
    assert anansi.post("/v1/ingest/batch", json=too_many).status_code == 400
    big = anansi.post("/v1/ingest", json={"userId": user, "content": "x" * (100 * 1024 + 1)})
    assert big.status_code == 413
    wrong_type = anansi.post(
        "/v1/ingest", json={"userId": user, "content": "x", "sourceType": "fax"}
    )
    assert wrong_type.status_code == 400

    # DELETE /v1/memory: "Delete all memory for a user ... Idempotent."
    for _ in range(2):
        gone = anansi.delete("/v1/memory", params={"userId": user})
        assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert search() == []


def test_anansi_keys_are_required(stack):
    """ "All requests require a Bearer token": 401 without one, or with a wrong one."""
    for headers in ({}, {"Authorization": "Bearer ans_not_a_key"}):
        answer = httpx.get(
            f"{stack.base_url}/v1/search", params={"userId": "u", "q": "x"}, headers=headers
        )
        assert answer.status_code == 401


# --- Elephantasm (seed 000) ----------------------------------------------------------


@pytest.fixture
def elephantasm(stack):
    with httpx.Client(
        base_url=f"{stack.base_url}/api",
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=15,
    ) as client:
        yield client


def test_elephantasm_endpoints_as_documented(elephantasm, stack):
    """GET /health, GET /animas (the authentication example), POST /animas, GET
    /animas/:id, POST /events (and 409 on a dedupe_key again), the latest memory pack,
    usage, and errors as {"detail"}."""
    health = httpx.get(f"{stack.base_url}/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "healthy" and health.json()["checks"]["database"] == "healthy"
    assert elephantasm.get("/animas").status_code == 200

    made = elephantasm.post(
        "/animas", json={"name": "my-agent", "description": "Customer support bot"}
    )
    assert made.status_code == 201
    anima = made.json()
    assert uuid.UUID(anima["id"]) and anima["name"] == "my-agent"
    assert anima["description"] == "Customer support bot" and anima["is_deleted"] is False
    assert elephantasm.get(f"/animas/{anima['id']}").json() == anima
    assert anima["id"] in [a["id"] for a in elephantasm.get("/animas").json()]

    event = {
        "anima_id": anima["id"],
        "event_type": "message.in",
        "content": "What is the weather in San Francisco?",
        "role": "user",
        "session_id": "conv-123",
        "dedupe_key": "conv-123:1",
    }
    created = elephantasm.post("/events", json=event)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["anima_id"] == anima["id"] and body["event_type"] == "message.in"
    assert body["content"] == event["content"] and body["session_id"] == "conv-123"
    assert body["meta"] == {} and body["is_deleted"] is False
    again = elephantasm.post("/events", json=event)
    assert again.status_code == 409 and set(again.json()) == {"detail"}

    pack = eventually(
        lambda: (
            (
                p := elephantasm.get(
                    f"/animas/{anima['id']}/memory-packs/latest",
                    params={"preset": "conversational"},
                ).json()
            )
            and p["session_memory_count"] >= 1
            and p
        )
    )
    assert pack["anima_id"] == anima["id"] and pack["preset_name"] == "conversational"
    assert "San Francisco" in pack["content"]["context"]

    missing = elephantasm.get(f"/animas/{uuid.uuid4()}")
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}
    invalid = elephantasm.post("/events", json={"anima_id": anima["id"]})
    assert invalid.status_code == 422 and set(invalid.json()) == {"detail"}
    unauthorized = httpx.get(f"{stack.base_url}/api/animas")
    assert unauthorized.status_code == 401 and set(unauthorized.json()) == {"detail"}


def test_elephantasm_usage_counts_the_calls(elephantasm):
    """GET /subscriptions/usage: "current usage metrics" that grow as the API is used."""

    def used() -> dict[str, int]:
        answer = elephantasm.get("/subscriptions/usage")
        assert answer.status_code == 200, answer.text
        return answer.json()["usage"]

    start = used()
    for _ in range(3):
        assert elephantasm.get("/animas").status_code == 200
    # Counted without waiting for the total: it shows once the bus has it.
    grown = eventually(lambda: (u := used()).get("admin", 0) >= start.get("admin", 0) + 4 and u)
    assert all(isinstance(n, int) and n > 0 for n in grown.values())


# --- ElizaOS (seed 002) --------------------------------------------------------------


def test_elizaos_getting_started_and_error_format(stack):
    """ "Test the API": GET /api/server/health (and /ping); an unknown route answers in
    the documented error format {success: false, error: {code, message}}."""
    health = httpx.get(f"{stack.base_url}/api/server/health")
    assert health.status_code == 200 and health.json()["status"] == "OK"
    assert httpx.get(f"{stack.base_url}/api/server/ping").json()["pong"] is True
    unknown = httpx.get(
        f"{stack.base_url}/api/agents/{uuid.uuid4()}/no-such-thing",
        headers={"X-API-KEY": stack.api_key},
    )
    assert unknown.status_code == 404
    assert unknown.json()["success"] is False and unknown.json()["error"]["code"] == "NOT_FOUND"
    bad_id = httpx.get(
        f"{stack.base_url}/api/agents/not a uuid!/memories",
        headers={"X-API-KEY": stack.api_key},
    )
    assert bad_id.status_code == 400 and bad_id.json()["error"]["code"] == "INVALID_ID"


# --- Anima's conventions (seed 003) --------------------------------------------------


RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def test_every_response_carries_rate_limit_and_correlation_headers(stack):
    """ "Rate limits: Every response carries X-RateLimit-Limit, -Remaining, -Reset" and
    "Every action returns x-correlation-id": a success, a 401 with no key or a wrong key,
    and the public health check. (A gateway of its own: the suite's counts no failed
    authentication, MNEMO_AUTH_FAILURE_LIMIT=0, and a 401 then has no limit to report.)"""
    with stack.extra_gateway(stack.api_key, MNEMO_AUTH_FAILURE_LIMIT="30") as gateway:
        _headers_on_every_answer(str(gateway.base_url).rstrip("/"), stack.api_key)


def _headers_on_every_answer(base: str, api_key: str) -> None:
    answers = {
        "ok": httpx.get(
            f"{base}/v1/memories",
            params={"userId": "u"},
            headers={"Authorization": f"Bearer {api_key}"},
        ),
        "no key": httpx.get(f"{base}/v1/memories", params={"userId": "u"}),
        "wrong key": httpx.get(
            f"{base}/v1/memories", params={"userId": "u"}, headers={"Authorization": "Bearer ak_x"}
        ),
        "health": httpx.get(f"{base}/v1/health"),
    }
    for name, answer in answers.items():
        assert answer.status_code in (200, 401), (name, answer.text)
        for header in RATE_HEADERS:
            assert int(answer.headers[header]) >= 0, (name, header, answer.headers)
        assert int(answer.headers["x-ratelimit-remaining"]) <= int(
            answer.headers["x-ratelimit-limit"]
        )
        assert answer.headers["x-correlation-id"] and answer.headers["x-request-id"]
    # A wrong key counts against the address's failed authentications: one fewer left.
    again = httpx.get(
        f"{base}/v1/memories", params={"userId": "u"}, headers={"Authorization": "Bearer ak_y"}
    )
    before = int(answers["wrong key"].headers["x-ratelimit-remaining"])
    assert int(again.headers["x-ratelimit-remaining"]) < before
    assert answers["wrong key"].headers["content-type"].startswith("application/problem+json")


def test_idempotency_key_and_errors_as_anima_describes_them(stack):
    """ "Idempotency-Key": replayed on retry with Idempotent-Replayed: true; reused with a
    different body → 409 IDEMPOTENCY_BODY_MISMATCH; "Errors (RFC 7807)" with code and
    details; "Correlation IDs": the same value threads the audit chain."""
    from .test_accounts import as_key, sign_up

    # A tenant of its own: a forget erases every kept answer of its tenant once it has
    # answered (an earlier test here forgets a user of the development tenant).
    with stack.client() as api:
        master = sign_up(api, "anima-" + uuid.uuid4().hex[:6]).master
    with as_key(stack, master) as anansi:
        _idempotency_key_and_errors(anansi)


def _idempotency_key_and_errors(anansi: httpx.Client) -> None:
    user = "anima-" + uuid.uuid4().hex[:6]
    key = {"Idempotency-Key": "send-1747-" + uuid.uuid4().hex[:6]}
    body = {"userId": user, "content": "From an agent."}
    first = anansi.post("/v1/ingest", json=body, headers=key)
    again = anansi.post("/v1/ingest", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = anansi.post("/v1/ingest", json={**body, "content": "Another."}, headers=key)
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    problem = other.json()
    assert problem["code"] == "IDEMPOTENCY_BODY_MISMATCH" and problem["status"] == 409
    assert {"type", "title", "status", "detail", "instance", "code", "details"} <= set(problem)
    assert problem["instance"] == "/v1/ingest"

    correlation = "corr_" + uuid.uuid4().hex[:8]
    sent = anansi.post("/v1/ingest", json=body, headers={"x-correlation-id": correlation})
    assert sent.headers["x-correlation-id"] == correlation
    chain = eventually(
        lambda: (
            (
                e := anansi.get("/v1/audit/events", params={"correlation_id": correlation}).json()[
                    "events"
                ]
            )
            and {"request", "command", "event"} <= {x["kind"] for x in e}
            and e
        )
    )
    assert any(e["type"] == "memory.recorded" for e in chain)
