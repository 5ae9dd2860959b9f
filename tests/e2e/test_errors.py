"""Bad input gets a problem+json naming the field, with the right status."""

import httpx


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance", "code", "details"} <= set(body)
    assert response.headers["x-request-id"]
    if field:
        assert body["details"]["field"] == field, body
    return body


def test_missing_or_bad_key_is_401(stack):
    with httpx.Client(base_url=stack.base_url) as anonymous:
        assert_problem(anonymous.post("/v1/ingest", json={"userId": "u", "content": "x"}), 401)
        wrong = anonymous.get(
            "/v1/search", params={"userId": "u", "q": "x"}, headers={"Authorization": "Bearer nope"}
        )
        assert_problem(wrong, 401)


def test_missing_user_id_is_400_naming_it(api):
    assert_problem(api.post("/v1/ingest", json={"content": "x"}), 400, "userId")


def test_wrong_type_is_400_naming_the_field(api):
    assert_problem(api.post("/v1/ingest", json={"userId": "u", "content": 5}), 400, "content")


def test_invalid_source_type_is_400(api):
    body = {"userId": "u", "content": "x", "sourceType": "telepathy"}
    assert_problem(api.post("/v1/ingest", json=body), 400, "sourceType")


def test_content_over_100kb_is_413(api):
    body = {"userId": "u", "content": "a" * (100 * 1024 + 1)}
    assert_problem(api.post("/v1/ingest", json=body), 413, "content")


def test_malformed_json_is_400(api):
    response = api.post(
        "/v1/ingest", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert assert_problem(response, 400, "body")["code"] == "MALFORMED_JSON"


def test_a_body_that_is_no_json_object_is_refused_naming_the_body(api):
    json_type = {"content-type": "application/json"}
    for path in ("/v1/ingest", "/v1/search", "/v1/agents", "/v1/keys"):
        for raw in (b"", b"NaN", b'{"userId": ', b"null", b"[]", b'"s"', b"1"):
            response = api.post(path, content=raw, headers=json_type)
            assert response.status_code in (400, 422), (path, raw, response.text)
            assert_problem(response, response.status_code, "body")


def test_unknown_route_is_404_in_the_same_shape(api):
    assert_problem(api.get("/v1/nowhere"), 404)


def test_search_needs_user_id_and_q(api):
    assert_problem(api.get("/v1/search", params={"q": "x"}), 400, "userId")
    assert_problem(api.get("/v1/search", params={"userId": "u"}), 400, "q")
    assert_problem(
        api.get("/v1/search", params={"userId": "u", "q": "x", "limit": 500}), 400, "limit"
    )


def test_a_bad_correlation_id_is_replaced_and_request_ids_are_unique(api):
    first = api.get("/v1/health", headers={"x-correlation-id": "has space"})
    second = api.get("/v1/health")
    assert first.headers["x-correlation-id"] != "has space"
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_the_root_of_each_surface_answers_in_that_surfaces_shape(api):
    """A surface's own root (its prefix without the trailing slash) is that surface's."""
    memanto = api.get("/api/v2")
    assert memanto.status_code == 404 and memanto.json()["status"] == "error"
    eliza = api.get("/api/memory")
    assert eliza.status_code == 404 and eliza.json()["success"] is False
    mem0 = api.get("/mem0")
    assert mem0.status_code == 404 and "detail" in mem0.json() and "type" not in mem0.json()
