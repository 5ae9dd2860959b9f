"""Idempotency-Key claims over a real NATS KV bucket: a claim nobody holds (its gateway
died mid-request, or its request failed while NATS was away) is taken over by the next
request with that key; a claim whose handler is still running is not."""

import asyncio
import base64
import contextlib
import uuid

import msgspec
from nats.js.api import KeyValueConfig
from nats.js.errors import NoKeysError

from mnemo.bus import connect, erasable_key_value, erase_subject, kv_stream
from mnemo.gateway import idempotency
from mnemo.gateway.body import replay
from mnemo.gateway.idempotency import IdempotencyMiddleware, Kept, fingerprint_of, kept_key

CREDENTIAL = "Bearer mk_test"
TENANT = "acme"


class Handler:
    """An ASGI app that counts its runs and answers 201 after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.runs = 0
        self.started = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        self.runs += 1
        self.started.set()
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})


class Gated:
    """An ASGI app whose n-th run (from 0) answers `statuses[n]` (201 by default) with
    `{"run":n}` once `release[n]` is set; `entered[n]` is set when that run begins."""

    def __init__(self, runs: int, statuses: tuple[int, ...] = ()) -> None:
        self.runs = 0
        self.statuses = list(statuses) + [201] * (runs - len(statuses))
        self.entered = [asyncio.Event() for _ in range(runs)]
        self.release = [asyncio.Event() for _ in range(runs)]

    async def __call__(self, scope, receive, send) -> None:
        run = self.runs
        self.runs += 1
        self.entered[run].set()
        await self.release[run].wait()
        await send({"type": "http.response.start", "status": self.statuses[run], "headers": []})
        await send({"type": "http.response.body", "body": b'{"run":%d}' % run})


class State:
    def __init__(self, kv) -> None:
        self.idempotency = kv


async def _call(
    middleware: IdempotencyMiddleware, key: str, body: bytes, method: str = "POST"
) -> tuple[int, dict]:
    status, headers, _ = await _answer(middleware, key, body, method)
    return status, headers


async def _answer(
    middleware: IdempotencyMiddleware, key: str, body: bytes, method: str = "POST"
) -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await middleware(_scope(key, method), replay(body), send)
    start = sent[0]
    answered = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, answered


def _scope(key: str, method: str = "POST") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": "/v1/ingest",
        "query_string": b"",
        "headers": [(b"authorization", CREDENTIAL.encode()), (b"idempotency-key", key.encode())],
    }


async def _middleware(nats_url: str, app: Handler):
    nc = await connect(nats_url, name="idem-claims")
    js = nc.jetstream()
    bucket = "idemclaims" + uuid.uuid4().hex[:8]
    kv = await js.create_key_value(KeyValueConfig(bucket=bucket, ttl=600))
    middleware = IdempotencyMiddleware(app, State(kv))

    async def tenant_of(credential: str) -> str:
        return TENANT

    middleware._tenant_of = tenant_of  # type: ignore[method-assign]  (no key store here)
    return nc, kv, middleware


async def test_a_claim_nobody_holds_is_taken_over(nats_url, monkeypatch):
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 3.0)
    app = Handler()
    nc, kv, middleware = await _middleware(nats_url, app)
    try:
        key, body = "k-" + uuid.uuid4().hex, b'{"content":"x"}'
        # What a gateway that died while running the handler leaves: a claim, not done.
        orphan = Kept(fingerprint=fingerprint_of(_scope(key), body))
        await kv.create(kept_key(TENANT, CREDENTIAL, key), msgspec.json.encode(orphan))

        status, _ = await asyncio.wait_for(_call(middleware, key, body), 30)
        assert status == 201 and app.runs == 1
        status, headers = await _call(middleware, key, body)
        assert status == 201 and headers.get("idempotent-replayed") == "true"
        assert app.runs == 1
    finally:
        await nc.close()


async def test_a_claim_whose_handler_still_runs_is_waited_for(nats_url, monkeypatch):
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 1.5)
    monkeypatch.setattr(idempotency, "RENEW_SECONDS", 0.3)
    app = Handler(delay=5.0)  # well past the lease: only renewals keep the claim
    nc, _, middleware = await _middleware(nats_url, app)
    try:
        key, body = "k-" + uuid.uuid4().hex, b'{"content":"y"}'
        first = asyncio.create_task(_call(middleware, key, body))
        await asyncio.wait_for(app.started.wait(), 30)
        second = await asyncio.wait_for(_call(middleware, key, body), 60)
        assert (await first)[0] == 201
        assert second[0] == 201 and second[1].get("idempotent-replayed") == "true"
        assert app.runs == 1
    finally:
        await nc.close()


async def test_an_answer_whose_claim_a_forget_erased_is_not_kept(nats_url, topology):
    """A request with an Idempotency-Key that read a user's words before the user was
    forgotten, and answers after the forget erased the tenant's kept answers (its claim
    among them), must not keep that answer: kept, it would hold the forgotten words for a
    day, after the erasure that was to remove them. A retry runs again."""
    app = Gated(runs=2)
    app.release[1].set()  # the retry answers at once
    nc, _, middleware = await _middleware(nats_url, app)
    js = nc.jetstream()
    kv = await erasable_key_value(js, topology.idempotency_bucket, ttl=600)
    middleware.state = State(kv)
    try:
        key, body = "k-" + uuid.uuid4().hex, b'{"content":"z"}'
        first = asyncio.create_task(_call(middleware, key, body))
        await asyncio.wait_for(app.entered[0].wait(), 30)
        # The forget's eraser sweeps the tenant's kept answers while the handler runs; the
        # handler answers only once the sweep is done.
        erased = await erase_subject(js, topology, TENANT, "forgotten-user")
        assert erased.get(kv_stream(topology.idempotency_bucket)) == 1  # the claim
        app.release[0].set()
        assert (await asyncio.wait_for(first, 30))[0] == 201

        assert [k async for k in _kept_keys(kv)] == []
        status, headers = await _call(middleware, key, body)
        assert status == 201 and "idempotent-replayed" not in headers
        assert app.runs == 2
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(kv_stream(topology.idempotency_bucket))
        await nc.close()


async def test_an_answer_whose_claim_a_forget_erased_is_not_kept_over_a_retrys_claim(
    nats_url, topology
):
    """After a forget erased a running request's claim, the client's retry (same key, same
    body) claims the key anew and runs. The first request, answering then, must not keep
    its answer (read before the forget) over the retry's claim: the retry's answer would
    then find it kept and stop, and the forgotten words would stay a day. The answer kept
    is the retry's."""
    app = Gated(runs=2)
    nc, _, middleware = await _middleware(nats_url, app)
    js = nc.jetstream()
    kv = await erasable_key_value(js, topology.idempotency_bucket, ttl=600)
    middleware.state = State(kv)
    try:
        key, body = "k-" + uuid.uuid4().hex, b'{"content":"w"}'
        entry_key = kept_key(TENANT, CREDENTIAL, key)
        first = asyncio.create_task(_answer(middleware, key, body))
        await asyncio.wait_for(app.entered[0].wait(), 30)
        erased = await erase_subject(js, topology, TENANT, "forgotten-user")
        assert erased.get(kv_stream(topology.idempotency_bucket)) == 1  # the first's claim

        retry = asyncio.create_task(_answer(middleware, key, body))
        await asyncio.wait_for(app.entered[1].wait(), 30)  # the retry claimed the key anew
        app.release[0].set()
        assert await asyncio.wait_for(first, 30) == (201, {}, b'{"run":0}')
        # The first's answer is not kept: the retry's claim is still there, pending.
        claim = msgspec.json.decode((await kv.get(entry_key)).value, type=Kept)
        assert not claim.done

        app.release[1].set()
        assert await asyncio.wait_for(retry, 30) == (201, {}, b'{"run":1}')
        kept = msgspec.json.decode((await kv.get(entry_key)).value, type=Kept)
        assert kept.done and base64.b64decode(kept.body) == b'{"run":1}'
        status, headers, answered = await _answer(middleware, key, body)
        assert status == 201 and headers.get("idempotent-replayed") == "true"
        assert answered == b'{"run":1}' and app.runs == 2
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(kv_stream(topology.idempotency_bucket))
        await nc.close()


async def test_a_failed_request_lets_go_of_its_own_claim_only(nats_url, topology):
    """A request answering 5xx lets go of the key so that a retry runs again: its own claim
    only. Once a forget erased its claim and a retry claimed the key anew, deleting the
    retry's claim would let a third request run the handler beside the retry."""
    app = Gated(runs=3, statuses=(503,))
    nc, _, middleware = await _middleware(nats_url, app)
    js = nc.jetstream()
    kv = await erasable_key_value(js, topology.idempotency_bucket, ttl=600)
    middleware.state = State(kv)
    try:
        key, body = "k-" + uuid.uuid4().hex, b'{"content":"v"}'
        entry_key = kept_key(TENANT, CREDENTIAL, key)
        first = asyncio.create_task(_answer(middleware, key, body))
        await asyncio.wait_for(app.entered[0].wait(), 30)
        await erase_subject(js, topology, TENANT, "forgotten-user")
        retry = asyncio.create_task(_answer(middleware, key, body))
        await asyncio.wait_for(app.entered[1].wait(), 30)
        app.release[0].set()
        assert (await asyncio.wait_for(first, 30))[0] == 503
        claim = msgspec.json.decode((await kv.get(entry_key)).value, type=Kept)
        assert not claim.done  # the retry's, still there

        app.release[1].set()
        assert (await asyncio.wait_for(retry, 30))[2] == b'{"run":1}'
        status, headers, answered = await _answer(middleware, key, body)
        assert status == 201 and headers.get("idempotent-replayed") == "true"
        assert answered == b'{"run":1}' and app.runs == 2
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(kv_stream(topology.idempotency_bucket))
        await nc.close()


async def _kept_keys(kv):
    """The bucket's keys (none: an empty list, where nats-py raises)."""
    try:
        keys = await kv.keys()
    except NoKeysError:
        return
    for key in keys:
        yield key


async def test_a_deletions_answer_kept_in_the_old_layout_is_replayed_and_a_key_reused_is_409(
    nats_url,
):
    """Deletions' answers are kept apart (`….d`, out of a forget's reach). One kept
    before that (within 24 hours of the upgrade) is still its request's: replayed, not a
    409 for "another method". The same key with another method is a 409 either way."""
    app = Handler()
    nc, kv, middleware = await _middleware(nats_url, app)
    try:
        key = "k-" + uuid.uuid4().hex
        kept = Kept(
            fingerprint=fingerprint_of(_scope(key, "DELETE"), b""),
            done=True,
            status=200,
            headers=[],
            body=base64.b64encode(b'{"deleted":true}').decode(),
        )
        await kv.create(kept_key(TENANT, CREDENTIAL, key), msgspec.json.encode(kept))
        status, headers = await _call(middleware, key, b"", "DELETE")
        assert status == 200 and headers.get("idempotent-replayed") == "true"
        assert app.runs == 0
        status, _ = await _call(middleware, key, b"{}", "POST")
        assert status == 409 and app.runs == 0
        other = "k-" + uuid.uuid4().hex
        assert (await _call(middleware, other, b"", "DELETE"))[0] == 201
        assert (await _call(middleware, other, b"{}", "POST"))[0] == 409
        assert app.runs == 1
    finally:
        await nc.close()
