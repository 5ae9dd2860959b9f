"""Load shedding and event-stream slots: the replica's bound, a tenant's share of it, and a
key's share of its tenant's; and the deadline of a request body, so a slow one cannot
keep the slot its request took."""

import asyncio
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from mnemo.contracts import KeyGrant, key_digest
from mnemo.gateway.body import BodyTimeout, read_body
from mnemo.gateway.correlation import CorrelationMiddleware
from mnemo.gateway.guard import InputGuard
from mnemo.gateway.problems import Problem
from mnemo.gateway.settings import GatewaySettings
from mnemo.gateway.shedding import LoadShedder, StreamSlots
from mnemo.settings import load_settings

SECRET = "unit-key-secret-0123456789"
BASE = {"MNEMO_NATS_URL": "nats://x:4222", "MNEMO_KEY_SECRET": SECRET}


class Keys:
    """This replica's copy of the keys, as known_principal reads it."""

    def __init__(self, grants: dict[str, KeyGrant]) -> None:
        self.grants = {key_digest(SECRET, key): grant for key, grant in grants.items()}

    def cached(self, digest: str) -> KeyGrant | None:
        return self.grants.get(digest)

    def used(self, key_id: str) -> None:
        pass


AGENT, SIBLING, MASTER, OTHER = "ak_agent_1", "ak_agent_2", "mk_master_1", "mk_other_1"
GRANTS = {
    AGENT: KeyGrant(key_id="k-agent", tenant_id="t1", kind="agent", agent_id="a1"),
    SIBLING: KeyGrant(key_id="k-sibling", tenant_id="t1", kind="agent", agent_id="a2"),
    MASTER: KeyGrant(key_id="k-master", tenant_id="t1", kind="master"),
    OTHER: KeyGrant(key_id="k-other", tenant_id="t2", kind="master"),
}


def state() -> SimpleNamespace:
    settings = load_settings(GatewaySettings, BASE)
    return SimpleNamespace(deps=SimpleNamespace(settings=settings, keys=Keys(GRANTS)))


def scope(key: str | None, path: str = "/v1/search", method: str = "GET") -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": headers,
        "query_string": b"",
        "client": ("10.0.0.1", 4000),
    }


class Answer:
    """What a middleware sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {bytes(k).decode().lower(): bytes(v).decode() for k, v in start["headers"]}

    def json(self) -> Any:
        return msgspec.json.decode(
            b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")
        )


async def nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Held:
    """An app whose requests stay in flight until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def settle(until: Any) -> None:
    for _ in range(100):
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("not reached")


async def test_one_key_holds_at_most_its_share_of_its_tenants_requests():
    # 8 at once, 4 per tenant, 2 per key.
    app = Held()
    shedder = LoadShedder(app, state(), max_in_flight=8, share=0.5)
    assert (shedder.per_owner, shedder.per_key) == (4, 2)
    running = [asyncio.create_task(shedder(scope(AGENT), nothing, Answer())) for _ in range(2)]
    await settle(lambda: shedder.in_flight == 2)

    # The agent key's third request: its share is full, its tenant's is not.
    third = Answer()
    await shedder(scope(AGENT), nothing, third)
    body = third.json()
    assert third.status == 503 and body["code"] == "OVERLOADED"
    assert body["details"]["scope"] == "key" and "this key" in body["detail"]
    assert third.headers["retry-after"] == "1"

    # The tenant's master key and sibling agents still have slots, up to the tenant's share.
    running.append(asyncio.create_task(shedder(scope(MASTER), nothing, Answer())))
    running.append(asyncio.create_task(shedder(scope(SIBLING), nothing, Answer())))
    await settle(lambda: shedder.in_flight == 4)
    full = Answer()
    await shedder(scope(MASTER), nothing, full)
    assert full.status == 503 and full.json()["details"]["scope"] == "tenant"

    # Another tenant has a share of its own.
    running.append(asyncio.create_task(shedder(scope(OTHER), nothing, Answer())))
    await settle(lambda: shedder.in_flight == 5)

    app.release.set()
    await asyncio.gather(*running)
    assert shedder.in_flight == 0 and not shedder.held
    again = Answer()
    await shedder(scope(AGENT), nothing, again)
    assert again.status == 200


async def test_a_keys_share_is_at_least_one_and_calls_without_a_key_share_their_address():
    app = Held()
    shedder = LoadShedder(app, state(), max_in_flight=2, share=0.5)
    assert (shedder.per_owner, shedder.per_key) == (1, 1)
    anonymous = asyncio.create_task(shedder(scope(None), nothing, Answer()))
    await settle(lambda: shedder.in_flight == 1)
    refused = Answer()
    await shedder(scope(None), nothing, refused)
    assert refused.status == 503 and refused.json()["details"]["scope"] == "tenant"
    served = asyncio.create_task(shedder(scope(AGENT), nothing, Answer()))
    await settle(lambda: shedder.in_flight == 2)
    app.release.set()
    await asyncio.gather(anonymous, served)
    assert not shedder.held


def test_one_key_holds_at_most_its_share_of_its_tenants_streams():
    # 8 streams per replica, 4 per tenant, 2 per key.
    slots = StreamSlots(8, 0.5)
    agent = [slots.take("t1", "k-agent") for _ in range(2)]
    with pytest.raises(Problem) as caught:
        slots.take("t1", "k-agent")
    assert caught.value.status == 429 and caught.value.code == "TOO_MANY_STREAMS"
    assert "key" in caught.value.detail and caught.value.headers["Retry-After"]

    # The console's live view (the master key) and a sibling agent are still served.
    slots.take("t1", "k-master")
    slots.take("t1", "k-sibling")
    with pytest.raises(Problem) as caught:
        slots.take("t1", "k-third")
    assert caught.value.status == 429 and "tenant" in caught.value.detail
    slots.take("t2", "k-other")

    # A slot given back (once, however often) is the key's again.
    agent[0]()
    agent[0]()
    assert slots.open["t1"] == 3 and slots.open_by_key["t1", "k-agent"] == 1
    slots.take("t1", "k-agent")
    for give in agent:
        give()
    assert ("t1", "k-agent") in slots.open_by_key  # the one taken again
    assert StreamSlots(2, 0.5).per_key == 1


def test_streams_without_a_bound_are_not_refused():
    slots = StreamSlots(0, 0.5)
    for _ in range(10):
        slots.take("t1", "k-agent")


async def bounded(call: Any) -> Any:
    """The call, failing the test (not hanging it) if it never ends."""
    return await asyncio.wait_for(call, 10)


def trickle(first: bytes) -> Any:
    """A client that sends the start of its body, then nothing more."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": first, "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


async def test_read_body_has_a_deadline():
    with pytest.raises(BodyTimeout):
        await bounded(read_body(trickle(b"{"), timeout=0.05))

    parts = iter([b'{"a"', b": 1}"])

    async def in_time() -> dict[str, Any]:
        chunk = next(parts)
        return {"type": "http.request", "body": chunk, "more_body": chunk != b": 1}"}

    assert await read_body(in_time, timeout=5) == b'{"a": 1}'


async def test_a_slow_body_is_answered_408_and_gives_its_slot_back():
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    shedder = LoadShedder(
        InputGuard(app, 1024, body_timeout=0.05), state(), max_in_flight=2, share=0.5
    )
    answer = Answer()
    await bounded(shedder(scope(AGENT, "/v1/ingest", "POST"), trickle(b"{"), answer))
    body = answer.json()
    assert answer.status == 408 and body["code"] == "REQUEST_TIMEOUT"
    assert body["details"]["field"] == "body"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert not reached and shedder.in_flight == 0 and not shedder.held


async def test_a_slow_body_read_for_its_correlation_id_is_answered_408():
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    middleware = CorrelationMiddleware(app, SimpleNamespace(), 1024, body_timeout=0.05)
    request = scope(AGENT, "/v1/ingest", "POST")
    request["headers"].append((b"content-type", b"application/json"))
    answer = Answer()
    await bounded(middleware(request, trickle(b"{"), answer))
    assert answer.status == 408 and answer.json()["details"]["field"] == "body"
    assert answer.headers["connection"] == "close" and answer.headers["x-correlation-id"]
    assert not reached


@pytest.mark.parametrize("value", ["0", "-1", "inf"])
def test_the_body_timeout_must_be_above_zero(value):
    from mnemo.settings import SettingsError

    with pytest.raises(SettingsError, match="MNEMO_BODY_TIMEOUT"):
        load_settings(GatewaySettings, {**BASE, "MNEMO_BODY_TIMEOUT": value})
    assert load_settings(GatewaySettings, BASE).body_timeout == 30.0
