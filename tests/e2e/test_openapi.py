"""The OpenAPI document: every route described, and real answers valid against it."""

import uuid

import jsonschema
import pytest

from .test_accounts import as_key, sign_up
from .waiting import eventually


@pytest.fixture(scope="module")
def document(stack):
    with stack.client() as api:
        response = api.get("/docs/openapi.json")
    assert response.status_code == 200
    return response.json()


def check(document: dict, name: str, value: object) -> None:
    root = {"components": document["components"], "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(root).validate(value)


def answer_schema(document: dict, method: str, path: str, status: int) -> str:
    response = document["paths"][path][method]["responses"][str(status)]
    media = next(iter(response["content"].values()))
    return media["schema"]["$ref"].rsplit("/", 1)[-1]


def test_docs_serve_a_ui_and_the_document(stack, document):
    with stack.client() as api:
        ui = api.get("/docs")
    assert ui.status_code == 200 and "openapi.json" in ui.text
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ingest = document["paths"]["/v1/ingest"]["post"]
    body = ingest["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert {"userId", "content"} <= set(schema["required"])
    assert "sourceType" in schema["properties"]
    assert {"202", "400", "401", "429"} <= set(ingest["responses"])
    assert ingest["security"] == [{"bearer": []}]
    assert any(p["name"] == "Idempotency-Key" for p in ingest["parameters"])
    expected = {
        "/v1/ingest",
        "/v1/ingest/batch",
        "/v1/memories",
        "/v1/memories/{memory_id}",
        "/v1/search",
        "/v1/context",
        "/v1/audit/events",
        "/v1/events/stream",
        "/v1/health",
        "/v1/agents",
        "/v1/agents/{agent_id}",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/agent/sign-up",
        "/v1/user",
        "/v1/memory",
        "/v1/entities",
    }
    assert expected <= set(document["paths"])


def test_real_answers_match_the_document(stack, document):
    user = "doc-" + uuid.uuid4().hex[:8]
    with stack.client() as api:
        signed = api.post("/v1/agent/sign-up", json={"username": "docs-" + user})
        check(document, answer_schema(document, "post", "/v1/agent/sign-up", 201), signed.json())
        tenant = sign_up(api, "docs2-" + user)
    with as_key(stack, tenant.master) as admin:
        calls = []
        sent = admin.post(
            "/v1/ingest", json={"userId": user, "content": "I like green tea", "sessionId": "s"}
        )
        calls.append(("post", "/v1/ingest", sent))
        batch = admin.post("/v1/ingest/batch", json={"items": [{"userId": user, "content": "x"}]})
        calls.append(("post", "/v1/ingest/batch", batch))
        eventually(lambda: admin.get("/v1/memories", params={"userId": user}).json()["total"] == 2)
        memory_id = sent.json()["id"]
        calls += [
            ("get", "/v1/memories", admin.get("/v1/memories", params={"userId": user})),
            ("get", "/v1/memories/{memory_id}", admin.get(f"/v1/memories/{memory_id}")),
            ("get", "/v1/search", admin.get("/v1/search", params={"userId": user, "q": "tea"})),
            ("post", "/v1/search", admin.post("/v1/search", json={"userId": user, "query": "tea"})),
            ("get", "/v1/context", admin.get("/v1/context", params={"userId": user, "q": "tea"})),
            (
                "get",
                "/v1/audit/events",
                admin.get(
                    "/v1/audit/events", params={"correlation_id": sent.headers["x-correlation-id"]}
                ),
            ),
            ("get", "/v1/agents", admin.get("/v1/agents")),
            ("get", "/v1/agents/{agent_id}", admin.get(f"/v1/agents/{tenant.agent_id}")),
            ("post", "/v1/keys", admin.post("/v1/keys", json={"kind": "master"})),
            ("get", "/v1/keys", admin.get("/v1/keys")),
            ("post", "/v1/agents", admin.post("/v1/agents", json={"name": "doc agent"})),
            ("get", "/v1/health", admin.get("/v1/health")),
            ("delete", "/v1/user", admin.delete("/v1/user", params={"userId": user})),
        ]
        for method, path, response in calls:
            operation = document["paths"][path][method]
            status = response.status_code
            assert str(status) in operation["responses"], (method, path, status)
            check(document, answer_schema(document, method, path, status), response.json())
        missing = admin.get("/v1/memories/nope")
        check(document, "Problem", missing.json())
