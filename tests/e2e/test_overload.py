"""Load shedding: a gateway works on a bounded number of requests at once, one tenant holds
at most a share of them and one key a share of its tenant's, and what does not fit is
refused at once with 503 + Retry-After; a body that does not arrive in time is answered
408 and gives back the slot its request took."""

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from .test_accounts import sign_up
from .test_errors import assert_problem
from .test_sse import SseReader
from .waiting import eventually

# Four requests at once per gateway, two per tenant (or per client address), one per key.
# Held calls trickle their body: the body deadline must outlast the test.
BOUND = {"MNEMO_MAX_IN_FLIGHT": "4", "MNEMO_TENANT_SHARE": "0.5", "MNEMO_BODY_TIMEOUT": "600"}


@pytest.fixture(scope="module")
def quiet(stack):
    """Another tenant, calling politely."""
    with stack.client() as api:
        return sign_up(api, "quiet-" + uuid.uuid4().hex[:6])


@pytest.fixture(scope="module")
def noisy(stack):
    """A tenant with two keys (its master key and an agent's), made before any gateway of
    these tests starts, so that each knows its keys from the start."""
    with stack.client() as api:
        return sign_up(api, "noisy-" + uuid.uuid4().hex[:6])


@pytest.fixture
def bounded(stack):
    with stack.extra_gateway(stack.api_key + "-bounded", **BOUND) as gateway:
        yield gateway


class Held:
    """`n` calls kept in flight: their body (2 bytes) comes one byte at first, the second
    on close. With a key, ingest calls of its tenant; without, sign-ups (which read their
    body before any key is asked for)."""

    def __init__(self, gateway: httpx.Client, n: int, key: str | None) -> None:
        self.port = httpx.URL(str(gateway.base_url)).port
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        path = "/v1/ingest" if key else "/v1/agent/sign-up"
        self.request = (
            f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            f"Content-Length: 2\r\nX-Correlation-Id: held\r\n{auth}\r\n{{"
        ).encode()
        self.socks = [self._open() for _ in range(n)]

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.sendall(self.request)
        return sock

    def renew(self) -> None:
        """Send again any call that was answered (shed, when it raced another call)."""
        for i, sock in enumerate(self.socks):
            sock.setblocking(False)
            try:
                answered = bool(sock.recv(4096, socket.MSG_PEEK))
            except BlockingIOError:
                answered = False
            sock.setblocking(True)
            if answered:
                sock.close()
                self.socks[i] = self._open()

    def close(self) -> None:
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.sendall(b"}")
                sock.recv(4096)  # the answer (a 4xx for the empty item): the slot is free
            sock.close()


@contextlib.contextmanager
def held(gateway: httpx.Client, n: int, key: str | None) -> Iterator[Held]:
    calls = Held(gateway, n, key)
    try:
        yield calls
    finally:
        calls.close()


def refused(calls: list[Held], probe: Callable[[], httpx.Response]) -> httpx.Response | None:
    """The probe's answer if it is a 503 while every held call is in flight, else None."""
    for call in calls:
        call.renew()
    response = probe()
    return response if response.status_code == 503 else None


def search(gateway: httpx.Client, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return gateway.get("/v1/search", params={"userId": "u", "q": "x"}, headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


COMPAT_SHAPES: list[tuple[str, Callable[[dict], bool]]] = [
    ("/api/v2/agents", lambda b: b["status"] == "error" and "message" in b["error"]),
    ("/api/animas", lambda b: set(b) == {"detail"}),
    (f"/api/memory/agents/{uuid.uuid4()}/stats", lambda b: b["success"] is False),
    ("/mem0/v1/ping/", lambda b: "detail" in b and "type" not in b),
]


def test_a_tenant_over_its_share_gets_a_fast_503_and_others_are_still_served(bounded, quiet, noisy):
    # The tenant's share (two) taken by two of its keys, one each (a key's share).
    with (
        held(bounded, 1, key=noisy.agent_key) as agent_calls,
        held(bounded, 1, key=noisy.master) as master_calls,
    ):
        tenant_calls = [agent_calls, master_calls]
        shed = eventually(lambda: refused(tenant_calls, lambda: search(bounded, noisy.master)))
        body = assert_problem(shed, 503)
        assert body["code"] == "OVERLOADED" and body["details"]["scope"] == "tenant"
        assert int(shed.headers["Retry-After"]) >= 1
        # Each compatible surface is shed in its own error shape (as it refuses anything).
        for path, in_shape in COMPAT_SHAPES:
            other = eventually(
                lambda p=path: refused(
                    tenant_calls, lambda: bounded.get(p, headers=bearer(noisy.master))
                )
            )
            assert in_shape(other.json()), (path, other.text)
            assert int(other.headers["Retry-After"]) >= 1
        # Another tenant has slots of its own.
        assert search(bounded, quiet.master).status_code == 200
        # Calls without a known key hold the share of their client address: two of them
        # fill the gateway, and then everyone waits.
        with held(bounded, 2, key=None) as anonymous_calls:
            full = eventually(
                lambda: refused(
                    [*tenant_calls, anonymous_calls], lambda: search(bounded, quiet.master)
                )
            )
            assert assert_problem(full, 503)["details"]["scope"] == "server"
            assert int(full.headers["Retry-After"]) >= 1
    # Health answers whatever the load, and the slots come back once the calls end.
    assert bounded.get("/v1/health").status_code == 200
    eventually(lambda: search(bounded, noisy.master).status_code == 200)


def test_one_key_over_its_share_gets_a_503_and_its_tenants_other_keys_are_served(bounded, noisy):
    """An agent key busy with all it may hold (its share of its tenant's) does not starve
    the tenant's master key (the console) or its other agents."""
    with held(bounded, 1, key=noisy.agent_key) as agent_calls:
        shed = eventually(lambda: refused([agent_calls], lambda: search(bounded, noisy.agent_key)))
        body = assert_problem(shed, 503)
        assert body["code"] == "OVERLOADED" and body["details"]["scope"] == "key"
        assert "this key" in body["detail"] and int(shed.headers["Retry-After"]) >= 1
        agent_calls.renew()
        assert search(bounded, noisy.master).status_code == 200
    eventually(lambda: search(bounded, noisy.agent_key).status_code == 200)


def test_a_noisy_burst_is_shed_with_503_while_another_tenant_is_served(bounded, quiet):
    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with (
            httpx.AsyncClient(
                base_url=str(bounded.base_url),
                headers=dict(bounded.headers),
                timeout=60,
                limits=httpx.Limits(max_connections=300),
            ) as noisy,
            httpx.AsyncClient(
                base_url=str(bounded.base_url),
                headers={"Authorization": f"Bearer {quiet.master}"},
                timeout=60,
            ) as polite,
        ):
            params = {"userId": "u", "q": "burst"}
            burst = asyncio.gather(*(noisy.get("/v1/search", params=params) for _ in range(300)))

            async def one_at_a_time() -> list[httpx.Response]:
                return [await polite.get("/v1/search", params=params) for _ in range(10)]

            return await asyncio.gather(burst, one_at_a_time())  # type: ignore[return-value]

    burst, served = asyncio.run(scenario())
    assert {r.status_code for r in burst} <= {200, 503}
    shed = [r for r in burst if r.status_code == 503]
    assert shed, "300 calls at once against a bound of 4 must shed some"
    for response in shed:
        assert assert_problem(response, 503)["code"] == "OVERLOADED"
        assert int(response.headers["Retry-After"]) >= 1
    assert [r.status_code for r in served] == [200] * 10


def test_event_streams_are_bounded_per_key_per_tenant_and_per_replica(stack, quiet, noisy):
    """Each stream holds a JetStream consumer as long as its client stays, and streams are
    not requests in flight: they have bounds of their own (MNEMO_MAX_STREAMS, the tenant's
    share of it, a key's share of its tenant's), so one key cannot pile up consumers for
    ever, nor take every stream of its tenant (the console's live view)."""
    key = stack.api_key + "-streams"
    # Four streams per replica, two per tenant, one per key.
    bounds = {"MNEMO_MAX_STREAMS": "4", "MNEMO_TENANT_SHARE": "0.5"}
    with stack.extra_gateway(key, **bounds) as gateway:
        url = str(gateway.base_url).rstrip("/")

        def opened(with_key: str) -> httpx.Response:
            with gateway.stream("GET", "/v1/events/stream", headers=bearer(with_key)) as response:
                response.read() if response.status_code != 200 else None
                return response

        readers = [SseReader(url, noisy.agent_key)]
        try:
            refused = opened(noisy.agent_key)
            body = assert_problem(refused, 429)
            assert body["code"] == "TOO_MANY_STREAMS" and int(refused.headers["Retry-After"]) >= 1
            assert "this key" in body["detail"]
            # The tenant's master key (the console's live view) still has a stream, up to
            # the tenant's share.
            readers.append(SseReader(url, noisy.master))
            refused = opened(noisy.master)
            body = assert_problem(refused, 429)
            assert body["code"] == "TOO_MANY_STREAMS" and "tenant" in body["detail"]
            # Another tenant has a share of its own, until the replica is full.
            readers += [SseReader(url, quiet.master), SseReader(url, quiet.agent_key)]
            with stack.client() as api:
                third = sign_up(api, "streams-" + uuid.uuid4().hex[:6])
            full = opened(third.master)  # none of its own open, but the replica is full
            assert assert_problem(full, 503)["code"] == "OVERLOADED"
            # A stream that ends gives its slot back.
            readers.pop(0).stop()
            eventually(lambda: opened(noisy.agent_key).status_code == 200, timeout=30)
        finally:
            for reader in readers:
                reader.stop()


def slow_call(gateway: httpx.Client, path: str, key: str, headers: str) -> tuple[int, dict, dict]:
    """A POST that announces a 100000-byte body and sends one byte of it: its status,
    headers and JSON body, read until the gateway closes the connection."""
    port = httpx.URL(str(gateway.base_url)).port
    request = (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 100000\r\n{headers}\r\n{{"
    ).encode()
    # Generous: the deadline under test is a second; a gateway without one never answers.
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # to the end: the connection is closed
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    answer_headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    return int(status_line.split()[1]), answer_headers, json.loads(body)


def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_gives_its_slot_back(stack):
    """A client announcing a body and sending only part of it must not hold the slot its
    request took (nor its connection) for as long as it likes: past MNEMO_BODY_TIMEOUT it
    is answered 408 naming `body`, in the surface's error shape, the connection is closed
    and the tenant's next request is served."""
    key = stack.api_key + "-slow"
    # One request of the tenant at a time: the slow one holds its tenant's only slot.
    bounds = {"MNEMO_BODY_TIMEOUT": "1", "MNEMO_MAX_IN_FLIGHT": "2", "MNEMO_TENANT_SHARE": "0.5"}
    with stack.extra_gateway(key, **bounds) as gateway:
        cases = [
            # Read inside load shedding (the correlation id is in a header).
            ("/v1/ingest", "X-Correlation-Id: slow-1\r\n", None),
            # Read first for a correlation id in the body (none in a header).
            ("/v1/ingest", "", None),
            # A compatible surface answers in its own error shape.
            (
                "/api/v2/agents",
                "X-Correlation-Id: slow-2\r\n",
                lambda b: b["status"] == "error" and "body" in b["error"]["message"],
            ),
        ]
        for path, headers, in_shape in cases:
            status, answer_headers, body = slow_call(gateway, path, key, headers)
            assert status == 408, (path, body)
            assert answer_headers["connection"] == "close"
            if in_shape is None:
                assert answer_headers["content-type"] == "application/problem+json"
                assert body["code"] == "REQUEST_TIMEOUT" and body["details"]["field"] == "body"
            else:
                assert in_shape(body), (path, body)
            # The slot is back: the tenant's next request is served.
            eventually(lambda: search(gateway).status_code == 200, timeout=60)
