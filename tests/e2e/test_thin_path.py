"""One ingest through all five services, from the HTTP request to the audit chain."""

import json
import uuid

from .waiting import eventually


def search(api, user_id: str, q: str) -> list[dict]:
    response = api.get("/v1/search", params={"userId": user_id, "q": q})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def chain(api, correlation_id: str) -> dict:
    response = api.get("/v1/audit/events", params={"correlation_id": correlation_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_ingest_becomes_searchable_and_its_audit_chain_names_all_five_services(api, user_id):
    correlation = "corr-" + uuid.uuid4().hex
    response = api.post(
        "/v1/ingest",
        json={
            "userId": user_id,
            "content": "I work at Stripe and I love TypeScript.",
            "sessionId": "s1",
        },
        headers={"x-correlation-id": correlation},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queued"] is True and body["id"]
    assert response.headers["x-correlation-id"] == correlation
    assert response.headers["x-request-id"]

    hits = eventually(lambda: search(api, user_id, "typescript"))
    assert hits[0]["id"] == body["id"]
    assert hits[0]["content"] == "I work at Stripe and I love TypeScript."
    assert hits[0]["sourceType"] == "api_text"
    assert hits[0]["metadata"]["sessionId"] == "s1"

    def complete_chain():
        found = chain(api, correlation)
        types = [e["type"] for e in found["events"]]
        wanted = {
            "http.request",
            "ingest.memory",
            "memory.recorded",
            "memory.synthesized",
            "memory.indexed",
        }
        return found if wanted <= set(types) else None

    found = eventually(complete_chain)
    events = found["events"]
    types = [e["type"] for e in events]
    # Causal order: request, then command, then the memory, then what it caused.
    assert types[:3] == ["http.request", "ingest.memory", "memory.recorded"]
    assert set(types[3:]) >= {"fact.extracted", "memory.synthesized", "memory.indexed"}
    by_type = {e["type"]: e for e in events}
    assert by_type["http.request"]["service"] == "gateway"
    assert by_type["ingest.memory"]["service"] == "gateway"
    assert by_type["memory.recorded"]["service"] == "ingest"
    assert by_type["memory.synthesized"]["service"] == "synthesis"
    assert by_type["memory.indexed"]["service"] == "retrieval"
    assert {e["recorded_by"] for e in events} == {"audit"}
    assert found["services"] == ["audit", "gateway", "ingest", "retrieval", "synthesis"]
    # Every step names its cause, and the derived events are caused by the memory event.
    recorded = by_type["memory.recorded"]
    assert by_type["ingest.memory"]["causation_id"] == by_type["http.request"]["message_id"]
    assert recorded["causation_id"] == by_type["ingest.memory"]["message_id"]
    for derived in ("memory.synthesized", "fact.extracted", "memory.indexed"):
        assert by_type[derived]["causation_id"] == recorded["message_id"]
    assert all(e["timestamp"] for e in events)
    assert all(e["correlation_id"] == correlation for e in events)
    # The audit says what happened, never what was said.
    assert "TypeScript" not in str(events)


def test_the_same_ingest_sent_twice_is_one_memory(api, user_id):
    item = {"userId": user_id, "content": "Remember the blue notebook.", "sourceId": "note:42"}
    first = api.post("/v1/ingest", json=item)
    second = api.post("/v1/ingest", json=item)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    eventually(lambda: search(api, user_id, "blue notebook"))
    # Let a duplicate (if any) catch up before counting: a later marker memory is indexed.
    api.post("/v1/ingest", json={"userId": user_id, "content": "marker zebra"})
    eventually(lambda: search(api, user_id, "zebra"))
    hits = [h for h in search(api, user_id, "blue notebook") if "notebook" in h["content"]]
    assert len(hits) == 1


def test_one_users_memories_are_not_anothers(api, user_id):
    api.post("/v1/ingest", json={"userId": user_id, "content": "my secret garden is in Kyoto"})
    eventually(lambda: search(api, user_id, "garden Kyoto"))
    assert search(api, user_id + "-other", "garden Kyoto") == []


def test_health_reports_each_dependency(api):
    response = api.get("/v1/health")
    assert response.status_code == 200
    services = response.json()["services"]
    assert set(services) == {"gateway", "ingest", "synthesis", "retrieval", "audit"}
    assert services["gateway"]["checks"] == {"nats": "ok"}
    # relay: the log's events reach the bus (degraded after 10 s of failed publishes)
    assert services["ingest"]["checks"] == {"nats": "ok", "postgres": "ok", "relay": "ok"}
    assert services["retrieval"]["checks"]["vectors"] == "ok"
    assert services["audit"]["checks"]["postgres"] == "ok"


def test_post_search_as_the_anansi_sdk_sends_it(api, user_id):
    api.post(
        "/v1/ingest/batch",
        json={
            "items": [
                {
                    "userId": user_id,
                    "content": "the red kite nests on the cliff",
                    "sessionId": "a",
                    "sourceId": "doc:kite",
                },
                {
                    "userId": user_id,
                    "content": "the red kite flies over the lake",
                    "sessionId": "b",
                },
            ]
        },
    )
    eventually(lambda: len(search(api, user_id, "red kite")) == 2)
    body = {
        "userId": user_id,
        "query": "red kite",
        "searchMode": "hybrid",
        "alpha": 0.5,
        "limit": 5,
        "filters": {"sessionId": "a"},
    }
    response = api.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    [hit] = response.json()["results"]
    assert hit["content"] == "the red kite nests on the cliff"
    assert hit["sourceId"] == "doc:kite" and hit["score"] == hit["similarity"]
    strict = api.post("/v1/search", json={**body, "filters": None, "threshold": 0.9999})
    assert strict.json()["results"] == []


def test_post_search_checks_its_fields(api, user_id):
    from .test_errors import assert_problem

    base = {"userId": user_id, "query": "x"}
    assert_problem(
        api.post("/v1/search", json={**base, "searchMode": "psychic"}), 400, "searchMode"
    )
    assert_problem(api.post("/v1/search", json={**base, "alpha": 2}), 400, "alpha")
    assert_problem(api.post("/v1/search", json={**base, "limit": 51}), 400, "limit")
    assert_problem(api.post("/v1/search", json={"query": "x"}), 400, "userId")
    # What narrows a search is checked as where it is stored: a filter no memory could
    # match is the caller's mistake, said, not an empty answer.
    for bad, field in [
        ({"threshold": 2}, "threshold"),
        ({"threshold": -1e308}, "threshold"),
        ({"sessionId": "s" * 257}, "sessionId"),
        ({"filters": {"sessionId": "s" * 5000}}, "filters.sessionId"),
        ({"filters": {"agentId": "a" * 5000}}, "filters.agentId"),
        ({"filters": {"sourceType": "zz"}}, "filters.sourceType"),
    ]:
        assert_problem(api.post("/v1/search", json={**base, **bad}), 400, field)
    params = {"userId": user_id, "q": "x"}
    for name in ("sourceType",):
        for value in ("zz", ""):
            assert_problem(api.get("/v1/search", params={**params, name: value}), 400, name)
    filters = '{"sourceType": "zz"}'
    assert_problem(
        api.get("/v1/context", params={**params, "filters": filters}), 400, "filters.sourceType"
    )


def test_a_correlation_id_in_the_body_threads_the_chain(api, user_id):
    correlation = "corr-body-" + uuid.uuid4().hex
    body = {"userId": user_id, "content": "body correlated", "correlation_id": correlation}
    response = api.post("/v1/ingest", json=body)
    assert response.status_code == 202
    assert response.headers["x-correlation-id"] == correlation
    found = eventually(
        lambda: (
            (c := chain(api, correlation))
            and {e["kind"] for e in c["events"]} >= {"request", "command", "event"}
            and c
        )
    )
    assert all(e["correlation_id"] == correlation for e in found["events"])


def test_every_log_line_about_a_memory_carries_its_correlation_and_causation(stack, api, user_id):
    """Each service's lines about the memory (handled alone or in a batch with others')
    carry the request's correlation id and a causation id; a batch's own lines carry its
    messages' ids."""
    correlation = "corr-" + uuid.uuid4().hex
    sent = {"userId": user_id, "content": "I work at Initech and I live in Austin."}
    response = api.post("/v1/ingest", json=sent, headers={"x-correlation-id": correlation})
    assert response.status_code == 202, response.text
    memory_id = response.json()["id"]
    eventually(lambda: search(api, user_id, "initech"))
    eventually(lambda: api.get("/v1/facts", params={"userId": user_id}).json().get("facts"))

    def lines() -> list[dict]:
        found = []
        for path in (stack.home / "logs").glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if memory_id in line and line.startswith("{"):
                    found.append(json.loads(line))
        return found

    def by_service() -> set[str]:
        return {line.get("service") for line in lines()}

    # Ingest recorded it, synthesis read it (the lines that name it).
    eventually(lambda: {"ingest", "synthesis"} <= by_service())
    for line in lines():
        correlations = line.get("correlation_ids") or [line.get("correlation_id")]
        assert correlation in correlations, line
        assert line.get("causation_id") or line.get("causation_ids"), line
