"""The OpenAPI document: every route described, and real answers valid against it."""

import re
import uuid

import httpx
import jsonschema
import pytest

from mnemo.gateway.app import create_app
from mnemo.gateway.mcp.tools import TOOLS
from mnemo.gateway.openapi_compat import compat_routes
from mnemo.gateway.settings import GatewaySettings

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


def test_docs_load_only_assets_the_gateway_serves(stack):
    """/docs works offline: every script, stylesheet and icon it loads is a path of the
    gateway's own, and each is served with its type; nothing else under /docs/assets."""
    with stack.client() as api:
        ui = api.get("/docs")
        assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/html")
        loaded = re.findall(r'(?:src|href)="([^"]+)"', ui.text)
        assert len(loaded) == 3, loaded
        for url in loaded:
            assert url.startswith("/docs/assets/"), url  # no CDN, no other host
            asset = api.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] in {
                "text/css",
                "text/javascript",
                "image/png",
            }
        script = api.get("/docs/assets/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in script.text and len(script.content) > 100_000
        for wrong in ("..%2fopenapi.json", "index.html", "swagger-ui.js.map", "%2e%2e%2fapp.py"):
            assert api.get(f"/docs/assets/{wrong}").status_code == 404, wrong


def test_docs_serve_a_ui_and_the_document(stack, document):
    with stack.client() as api:
        ui = api.get("/docs")
    assert ui.status_code == 200 and "openapi.json" in ui.text
    # No other site may frame it (clickjacking), as the console's pages.
    assert "frame-ancestors 'none'" in ui.headers["content-security-policy"]
    assert ui.headers["x-frame-options"] == "DENY"
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


def test_every_compatible_route_is_described_under_its_surface(stack, document):
    """Each /api route of the app is in the document, tagged with its surface, and real
    answers (a success and an error of each surface) match its envelopes."""
    tags = {t["name"] for t in document["tags"]}
    assert tags >= {"compat: MEMANTO", "compat: ElizaOS", "compat: Elephantasm", "compat: Mem0"}
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if path.startswith(("/api/", "/mem0/"))
    }
    app = create_app(GatewaySettings(nats_url="nats://127.0.0.1:4222"))
    served = {(m, p) for m, p, _, _ in compat_routes(app)}
    assert served == described and len(served) > 50
    for path, item in document["paths"].items():
        for operation in item.values():
            prefix = {"/api/v2/": "MEMANTO", "/api/agents/": "ElizaOS", "/api/memory/": "ElizaOS"}
            surface = next((s for p, s in prefix.items() if path.startswith(p)), None)
            if path.startswith("/api/server/"):
                surface = "ElizaOS"
            elif surface is None and path.startswith("/api/"):
                surface = "Elephantasm"
            elif path.startswith("/mem0/"):
                surface = "Mem0"
            if surface is not None:
                assert operation["tags"] == [f"compat: {surface}"], path

    def envelope(method: str, path: str, status: int, answer) -> None:
        media = document["paths"][path][method]["responses"][str(status)]["content"]
        schema = media["application/json"]["schema"]
        jsonschema.Draft202012Validator(schema).validate(answer.json())

    with stack.client() as api:
        agent = "doc-" + uuid.uuid4().hex[:6]
        made = api.post("/api/v2/agents", json={"agent_id": agent})
        envelope("post", "/api/v2/agents", 201, made)
        no_token = api.post(f"/api/v2/agents/{agent}/remember", params={"content": "x"})
        envelope("post", "/api/v2/agents/{agent_id}/remember", 401, no_token)
        listed = api.get(f"/api/agents/{uuid.uuid4()}/memories")
        envelope("get", "/api/agents/{agent_id}/memories", 200, listed)
        bad = api.get("/api/agents/not a valid id!/memories")
        envelope("get", "/api/agents/{agent_id}/memories", 400, bad)
        missing = api.get(f"/api/animas/{uuid.uuid4()}")
        envelope("get", "/api/animas/{anima_id}", 404, missing)


def test_the_mcp_endpoint_is_described_and_answers_as_described(stack, document):
    """POST /mcp is in the document under its tag, naming every tool the server lists, and
    a real JSON-RPC answer (and a refusal without a key) match what it describes."""
    operation = document["paths"]["/mcp"]["post"]
    assert operation["tags"] == ["MCP"]
    assert "MCP" in {t["name"] for t in document["tags"]}
    for tool in TOOLS:
        assert f"`{tool.name}`" in operation["description"]
    headers = {"Accept": "application/json, text/event-stream"}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    with stack.client() as api:
        listed = api.post("/mcp", json=listing, headers=headers)
    with httpx.Client(base_url=stack.base_url, timeout=15) as anonymous:
        refused = anonymous.post("/mcp", json=listing, headers=headers)
    assert listed.status_code == 200, listed.text
    assert {t["name"] for t in listed.json()["result"]["tools"]} == {t.name for t in TOOLS}
    root = {"components": document["components"]}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**root, **ok}).validate(listed.json())
    assert refused.status_code == 401
    problem = operation["responses"]["401"]["content"]["application/problem+json"]["schema"]
    jsonschema.Draft202012Validator({**root, **problem}).validate(refused.json())
