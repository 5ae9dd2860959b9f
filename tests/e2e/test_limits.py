"""Rate limits and quotas, shared by gateway replicas: 429 with Retry-After, 402 past quota."""

import asyncio
import time
import uuid
from collections import Counter

import httpx
import nats
import pytest

from .test_errors import assert_problem


@pytest.fixture
def strict_gateways(stack):
    """Two more gateway replicas with tight limits, on the same bus as the stack, with their
    own key so the stack's other tests do not spend this key's per-minute budget, and their
    own tenant: every call counts toward its tenant's month, the other tests' too."""
    key = stack.api_key + "-strict"
    limits = {
        "MNEMO_RATE_LIMITS": "search=4,default=1000",
        "MNEMO_MONTHLY_QUOTAS": "ingest=2",
        "MNEMO_DEV_TENANT": "strict-" + uuid.uuid4().hex[:8],
    }
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
        as_agent = search(tenant.agent_key)
        assert as_agent.status_code == 200
        # An agent key's answers show its own key's limit: the tenant's counter would tell
        # it how busy the tenant's other keys and agents are.
        assert as_agent.headers["X-RateLimit-Limit"] != "3", as_agent.headers
        limited = search(second)
        body = assert_problem(limited, 429)
        assert body["details"]["scope"] == "tenant"
        # Another tenant is not held back by it.
        assert gateway.get("/v1/search", params=params).status_code == 200


def _fresh_window(seconds_needed: int = 25) -> None:
    """Wait for the next minute window when this one has less than `seconds_needed` left,
    so a burst is counted in one window (the gateways run on this host's clock)."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.5)


async def _burst(clients, n: int, path: str, params: dict) -> list[httpx.Response]:
    """`n` requests at once, spread over `clients` (base URLs with their headers)."""
    pools = [
        httpx.AsyncClient(
            base_url=str(c.base_url),
            headers=dict(c.headers),
            timeout=60,
            limits=httpx.Limits(max_connections=n),
        )
        for c in clients
    ]
    try:
        return await asyncio.gather(
            *(pools[i % len(pools)].get(path, params=params) for i in range(n))
        )
    finally:
        for pool in pools:
            await pool.aclose()


def test_a_limit_holds_exactly_under_any_concurrency_across_replicas(stack, user_id):
    key = stack.api_key + "-exact"
    # No load shedding here: this is about counting, every call must reach the limiter.
    limits = {"MNEMO_RATE_LIMITS": "search=20,default=100000", "MNEMO_MAX_IN_FLIGHT": "0"}
    with stack.extra_gateway(key, **limits) as a, stack.extra_gateway(key, **limits) as b:
        _fresh_window()
        params = {"userId": user_id, "q": "anything"}
        responses = asyncio.run(_burst([a, b], 300, "/v1/search", params))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 20, 429: 280}, statuses
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses)
    assert remaining[:281] == [0] * 281 and remaining[281:] == list(range(1, 20))
    for limited in (r for r in responses if r.status_code == 429):
        assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_failed_authentication_is_limited_per_client_address(stack):
    key = stack.api_key + "-authflood"
    with stack.extra_gateway(key, MNEMO_AUTH_FAILURE_LIMIT="5") as gateway:
        _fresh_window()
        statuses = []
        for n in range(12):
            bad = {"Authorization": f"Bearer mk_{n:04d}" + "x" * 40}
            response = gateway.get("/v1/memories", params={"userId": "u"}, headers=bad)
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429] * 7, statuses
        body = assert_problem(response, 429)
        assert body["code"] == "RATE_LIMIT" and body["details"]["scope"] == "address"
        assert 0 < int(response.headers["Retry-After"]) <= 60
        # A key the gateway knows still works from the same address...
        assert gateway.get("/v1/memories", params={"userId": "u"}).status_code == 200
        # ...and a missing key is still told how to authenticate (it guesses nothing).
        assert_problem(gateway.get("/v1/memories", headers={"Authorization": ""}), 401)


def test_when_the_limit_store_is_gone_calls_are_refused_not_let_through(stack, user_id):
    key = stack.api_key + "-nostore"
    stream = f"{stack.env['MNEMO_BUS_ROOT'].upper()}_RATE_COUNTERS"
    params = {"userId": user_id, "q": "x"}
    with stack.extra_gateway(key) as gateway:
        asyncio.run(_delete_stream(stack.env["MNEMO_NATS_URL"], stream))
        try:
            response = gateway.get("/v1/search", params=params)
        finally:
            # A gateway starting creates the counters again (for the other tests, too).
            with stack.extra_gateway(key + "-restore"):
                pass
        body = assert_problem(response, 503)
        assert body["code"] == "LIMITS_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) > 0
        assert gateway.get("/v1/search", params=params).status_code == 200


async def _delete_stream(nats_url: str, stream: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
