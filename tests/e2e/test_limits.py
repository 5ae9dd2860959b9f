"""Rate limits and quotas, shared by gateway replicas: 429 with Retry-After, 402 past quota."""

import time

import pytest

from .test_errors import assert_problem


@pytest.fixture
def strict_gateways(stack):
    """Two more gateway replicas with tight limits, on the same bus as the stack, with their
    own key so the stack's other tests do not spend this key's per-minute budget."""
    key = stack.api_key + "-strict"
    limits = {"MNEMO_RATE_LIMITS": "search=4,default=1000", "MNEMO_MONTHLY_QUOTAS": "ingest=2"}
    with stack.extra_gateway(key, **limits) as a, stack.extra_gateway(key, **limits) as b:
        yield [a, b]


def test_rate_limit_is_shared_by_replicas_and_answers_429(strict_gateways, user_id):
    a, b = strict_gateways
    params = {"userId": user_id, "q": "anything"}
    first = a.get("/v1/search", params=params)
    if int(first.headers["X-RateLimit-Reset"]) < 15:
        # Too close to the end of the minute window for four more calls to share it.
        time.sleep(int(first.headers["X-RateLimit-Reset"]) + 1)
        first = a.get("/v1/search", params=params)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "4"
    assert first.headers["X-RateLimit-Remaining"] == "3"
    assert b.get("/v1/search", params=params).headers["X-RateLimit-Remaining"] == "2"
    assert a.get("/v1/search", params=params).status_code == 200
    assert b.get("/v1/search", params=params).headers["X-RateLimit-Remaining"] == "0"
    limited = a.get("/v1/search", params=params)
    body = assert_problem(limited, 429)
    assert body["code"] == "RATE_LIMIT"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert body["details"]["retryAfter"] == int(limited.headers["Retry-After"])


def test_monthly_quota_answers_402(strict_gateways, user_id):
    a, b = strict_gateways
    item = {"userId": user_id, "content": "counted"}
    statuses = [client.post("/v1/ingest", json=item).status_code for client in (a, b, a)]
    assert statuses[:2] == [202, 202]
    assert statuses[2] == 402
    assert_problem(b.post("/v1/ingest", json=item), 402)


def test_every_response_carries_rate_limit_headers(api, user_id):
    response = api.get("/v1/memories", params={"userId": user_id})
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers
    assert response.headers["X-RateLimit-Limit"] == "3000"  # the default for memories


def test_a_tenant_limit_is_shared_by_all_its_keys(stack):
    from .test_accounts import as_key, sign_up

    with stack.client() as api:
        tenant = sign_up(api, "limited-" + str(time.monotonic_ns())[-6:])
    with as_key(stack, tenant.master) as admin:
        second = admin.post("/v1/keys", json={"kind": "master"}).json()["key"]
    overrides = {"MNEMO_TENANT_LIMITS": f"{tenant.tenant_id}:search=3,default=1000"}
    with stack.extra_gateway(stack.api_key + "-tenant", **overrides) as gateway:
        params = {"userId": "nobody", "q": "anything"}

        def search(key: str):
            return gateway.get(
                "/v1/search", params=params, headers={"Authorization": f"Bearer {key}"}
            )

        first = search(tenant.master)
        if int(first.headers["X-RateLimit-Reset"]) < 15:
            time.sleep(int(first.headers["X-RateLimit-Reset"]) + 1)
            first = search(tenant.master)
        assert first.status_code == 200
        assert first.headers["X-RateLimit-Limit"] == "3"
        assert search(second).headers["X-RateLimit-Remaining"] == "1"
        assert search(tenant.agent_key).status_code == 200
        limited = search(second)
        body = assert_problem(limited, 429)
        assert body["details"]["scope"] == "tenant"
        # Another tenant is not held back by it.
        assert gateway.get("/v1/search", params=params).status_code == 200
