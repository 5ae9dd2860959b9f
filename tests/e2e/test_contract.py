"""What schemathesis found (issue #12, class 6), each pinned by a test of its own: problems
from middleware have the document's shape, authentication comes before the
Idempotency-Key, 405 and OPTIONS tell the methods, empty typed parameters are refused,
an unregistered agentId is registered, and the last master key stays."""

import uuid

from .test_accounts import as_key, sign_up
from .test_errors import assert_problem
from .test_openapi import check


def test_an_idempotency_problem_has_every_field_of_the_document(api, user_id):
    document = api.get("/docs/openapi.json").json()
    bad = api.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "x"},
        headers={"Idempotency-Key": "é".encode("latin-1")},
    )
    check(document, "Problem", assert_problem(bad, 400, "Idempotency-Key"))
    # A tenant of its own: a forget in the tenant (another test's) erases its kept answers,
    # and with them what makes the second request a mismatch.
    with stack_tenant(api) as own:
        key = {"Idempotency-Key": "contract-" + uuid.uuid4().hex}
        first = own.post("/v1/ingest", json={"userId": user_id, "content": "a"}, headers=key)
        assert first.is_success, first.text
        other = own.post("/v1/ingest", json={"userId": user_id, "content": "b"}, headers=key)
        check(document, "Problem", assert_problem(other, 409, "Idempotency-Key"))


def stack_tenant(api):  # type: ignore[no-untyped-def]
    """A client of a tenant signed up for the test (its master key)."""
    import httpx

    tenant = sign_up(api, "contract-" + uuid.uuid4().hex[:6])
    return httpx.Client(
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {tenant.master}"},
        timeout=15,
    )


def test_a_missing_key_is_401_whatever_the_idempotency_key(stack):
    with stack.client(Authorization="") as anonymous:
        answer = anonymous.delete(
            "/v1/memory", params={"userId": "u"}, headers={"Idempotency-Key": "é".encode("latin-1")}
        )
    assert_problem(answer, 401)


def test_every_mutating_operation_documents_the_idempotency_statuses(api):
    document = api.get("/docs/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in {"post", "patch", "delete"}:
                assert {"400", "409"} <= set(operation["responses"]), (method, path)


def test_limits_are_in_the_document(api):
    document = api.get("/docs/openapi.json").json()
    params = {p["name"]: p["schema"] for p in document["paths"]["/v1/agents"]["get"]["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 200
    sign_up_body = document["components"]["schemas"]["SignUpRequest"]["properties"]["username"]
    assert sign_up_body["maxLength"] == 200 and "pattern" in sign_up_body
    assert_problem(api.get("/v1/agents", params={"limit": 0}), 400, "limit")


def test_405_says_allow_and_options_lists_every_method(api):
    refused = api.request("TRACE", "/v1/keys")
    assert_problem(refused, 405)
    assert set(refused.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    options = api.options("/v1/agents/some-agent")
    assert options.status_code == 204
    assert set(options.headers["allow"].replace(" ", "").split(",")) == {
        "GET",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    # Not routed for PUT: the router answers, not the Idempotency-Key middleware.
    key = {"Idempotency-Key": "put-" + uuid.uuid4().hex}
    assert api.delete("/v1/keys/nope", headers=key).status_code == 404
    assert_problem(api.put("/v1/keys/nope", headers=key), 405)


def test_an_empty_typed_parameter_is_refused(api, user_id):
    assert_problem(api.get("/v1/audit/events", params={"until": ""}), 400, "until")
    assert_problem(api.get("/v1/memories", params={"userId": user_id, "limit": ""}), 400, "limit")
    assert_problem(
        api.get("/v1/memories", params={"userId": user_id, "sourceType": ""}), 400, "sourceType"
    )
    # The shorthands reach the last day of the storable range (mnemo.contracts.limits).
    ok = api.get("/v1/facts", params={"userId": user_id, "asOf": "9998-12"})
    assert ok.status_code == 200, ok.text


def test_an_integral_float_is_an_integer(api, user_id):
    found = api.post("/v1/search", json={"userId": user_id, "query": "tea", "limit": 3.0})
    assert found.status_code == 200, found.text
    assert_problem(
        api.post("/v1/search", json={"userId": user_id, "query": "tea", "limit": 3.5}), 400, "limit"
    )


def test_ingest_registers_an_agent_nobody_registered(stack, user_id):
    with stack.client() as api:
        tenant = sign_up(api, "contract-" + uuid.uuid4().hex[:6])
    agent_id = "helper-" + uuid.uuid4().hex[:8]
    with as_key(stack, tenant.master) as admin:
        sent = admin.post(
            "/v1/ingest", json={"userId": user_id, "content": "hi", "agentId": agent_id}
        )
        assert sent.status_code == 202, sent.text
        agent = admin.get(f"/v1/agents/{agent_id}")
        assert agent.status_code == 200 and agent.json()["name"] == agent_id
        batch = admin.post(
            "/v1/ingest/batch",
            json={"items": [{"userId": user_id, "content": "x", "agentId": "not an id"}]},
        )
        assert_problem(batch, 400, "items[0].agentId")


def test_the_last_master_key_cannot_be_revoked(stack):
    with stack.client() as api:
        tenant = sign_up(api, "lastkey-" + uuid.uuid4().hex[:6])
    with as_key(stack, tenant.master) as admin:
        keys = admin.get("/v1/keys").json()["keys"]
        (master,) = [k for k in keys if k["kind"] == "master"]
        assert_problem(admin.delete(f"/v1/keys/{master['id']}"), 409, "keyId")
        second = admin.post("/v1/keys", json={"kind": "master"}).json()
    with as_key(stack, second["key"]) as other:
        assert other.delete(f"/v1/keys/{master['id']}").status_code == 200
        assert_problem(other.delete(f"/v1/keys/{second['id']}"), 409, "keyId")
        assert other.get("/v1/keys").status_code == 200


def test_no_such_route_or_method_is_answered_in_the_surfaces_own_shape(api):
    """A client of a surface parses every error of it: unknown paths and methods under a
    surface's prefix answer in its envelope, not in /v1's problem+json."""
    eliza = api.get("/api/agents/00000000-0000-0000-0000-000000000001/no-such-thing")
    assert eliza.status_code == 404
    assert eliza.json()["success"] is False and eliza.json()["error"]["code"] == "NOT_FOUND"
    eliza_method = api.put("/api/server/ping")
    assert eliza_method.status_code == 405 and eliza_method.json()["success"] is False
    assert "GET" in eliza_method.headers["allow"]
    memanto = api.get("/api/v2/no-such-thing")
    assert memanto.status_code == 404 and "problem" not in memanto.headers["content-type"]
    elephantasm = api.get("/api/no-such-thing")
    assert elephantasm.status_code == 404 and "detail" in elephantasm.json()
    native = api.get("/v1/no-such-thing")
    assert_problem(native, 404)


def test_an_idempotency_problem_is_in_the_shape_of_the_surface_it_refuses(api):
    """The Idempotency-Key is checked before any route, on every surface: its refusals are
    in the envelope that surface's clients parse (as the document says), not problem+json."""
    bad = {"Idempotency-Key": "é".encode("latin-1")}
    memanto = api.post("/api/v2/agents", json={"agent_id": "idem-x"}, headers=bad)
    assert memanto.status_code == 400
    assert memanto.json()["status"] == "error"
    assert "Idempotency-Key" in memanto.json()["error"]["message"]
    eliza = api.post(
        f"/api/agents/{uuid.uuid4()}/memories", json={"content": {"text": "x"}}, headers=bad
    )
    assert eliza.status_code == 400
    assert eliza.json()["success"] is False
    elephantasm = api.post("/api/animas", json={"name": "x"}, headers=bad)
    assert elephantasm.status_code == 400 and "detail" in elephantasm.json()
    mem0 = api.post("/mem0/v3/memories/add/", json={"messages": "x", "user_id": "u"}, headers=bad)
    assert mem0.status_code == 400 and mem0.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    for answer in (memanto, eliza, elephantasm, mem0):
        assert answer.headers["content-type"].startswith("application/json")

    # A tenant of its own: a forget in the tenant (another test's) erases its kept answers.
    with stack_tenant(api) as own:
        key = {"Idempotency-Key": "contract-" + uuid.uuid4().hex}
        agent = "idem-" + uuid.uuid4().hex[:6]
        assert own.post("/api/v2/agents", json={"agent_id": agent}, headers=key).is_success
        other = own.post("/api/v2/agents", json={"agent_id": agent + "b"}, headers=key)
    assert other.status_code == 409
    assert other.json()["status"] == "error"  # MEMANTO's own code for it: CONFLICT
    assert "Idempotency-Key" in other.json()["error"]["message"]
