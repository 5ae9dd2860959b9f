"""A request that was answered is audited even when something fails after the answer
(found by the cluster test, issue #19: while a NATS node was down, the Idempotency-Key
middleware's record of a 503 timed out after the 503 was sent; the exception escaped
past the correlation middleware, which then neither logged nor audited the request)."""

import asyncio
from types import SimpleNamespace

import msgspec
import pytest
from nats.js.errors import KeyWrongLastSequenceError

from mnemo.gateway import correlation
from mnemo.gateway.correlation import CorrelationMiddleware
from mnemo.gateway.idempotency import Claim, IdempotencyMiddleware, Kept, fingerprint_of


class Recorder:
    def __init__(self) -> None:
        self.signals: list = []

    async def publish_signal(self, signal) -> None:
        self.signals.append(signal)


def _scope() -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/ingest",
        "headers": [(b"x-correlation-id", b"corr-after-answer")],
        "state": {},
    }


async def _answer_503(scope, receive, send) -> None:
    scope["state"]["tenant_id"] = "acme"  # as authentication sets it
    await send({"type": "http.response.start", "status": 503, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def test_a_failure_after_the_answer_still_audits_the_request():
    async def answer_then_fail(scope, receive, send) -> None:
        await _answer_503(scope, receive, send)
        raise TimeoutError  # e.g. a store away, after the answer went out

    publisher = Recorder()
    middleware = CorrelationMiddleware(answer_then_fail, SimpleNamespace(publisher=publisher))
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    with pytest.raises(TimeoutError):  # still raised: the server closes the exchange
        await middleware(_scope(), receive, send)
    await asyncio.gather(*correlation._pending)
    [signal] = publisher.signals
    assert signal.signal_type == "http.request"
    assert signal.correlation_id == "corr-after-answer"
    assert signal.data["status"] == 503
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [503]


class FailingBucket:
    """A KV bucket whose stream has no leader: every call times out."""

    async def update(self, *_args, **_kw):
        raise TimeoutError

    async def delete(self, *_args, **_kw):
        raise TimeoutError

    async def put(self, *_args, **_kw):
        raise TimeoutError


@pytest.mark.parametrize("status", [202, 503])
async def test_an_answer_whose_record_fails_is_still_delivered_whole(status):
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = IdempotencyMiddleware(app, SimpleNamespace())
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    # No exception escapes: the answer is out, and the claim is left to its lease.
    await middleware._run(_scope(), b"{}", send, FailingBucket(), "k", "fp", Claim(1, "o"))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


class KeptBucket:
    """A bucket that already holds the answer to this key (the request is a retry)."""

    def __init__(self, kept: bytes) -> None:
        self.kept = kept

    async def create(self, *_args, **_kw):
        raise KeyWrongLastSequenceError()

    async def get(self, _key):
        return SimpleNamespace(value=self.kept, revision=3)


async def test_an_answer_the_idempotency_middleware_gives_itself_is_audited():
    """A replay (or a refusal, or a 503 while the bucket is away) never reaches the routes,
    so authentication never named the tenant: the middleware does, once it knows it."""
    scope = {**_scope(), "headers": [(b"idempotency-key", b"k1"), (b"authorization", b"Bearer x")]}
    kept = Kept(fingerprint=fingerprint_of(scope, b"{}"), done=True, status=202, body="e30=")

    async def never(*_args) -> None:
        raise AssertionError("a replay does not run the route")

    idem = IdempotencyMiddleware(
        never, SimpleNamespace(idempotency=KeptBucket(msgspec.json.encode(kept)))
    )

    async def tenant_of(_credential: str) -> str:
        return "acme"

    idem._tenant_of = tenant_of  # type: ignore[method-assign]  (no key store here)
    publisher = Recorder()
    middleware = CorrelationMiddleware(idem, SimpleNamespace(publisher=publisher))
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    await middleware(scope, receive, send)
    await asyncio.gather(*correlation._pending)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [202]
    [signal] = publisher.signals
    assert signal.tenant_id == "acme" and signal.data["status"] == 202


@pytest.mark.parametrize(
    ("path", "in_shape"),
    [
        ("/v1/ingest", lambda b: b["code"] == "INTERNAL" and b["status"] == 500),
        ("/api/v2/agents", lambda b: b["status"] == "error" and "code" in b["error"]),
        ("/api/memory/agents/a/stats", lambda b: b["success"] is False),
    ],
)
async def test_what_escapes_every_handler_is_answered_in_the_surfaces_shape(path, in_shape):
    from mnemo.gateway.app import REFUSALS

    async def broken(scope, receive, send) -> None:
        raise RuntimeError("a bug")

    middleware = CorrelationMiddleware(
        broken, SimpleNamespace(publisher=Recorder()), shapes=REFUSALS
    )
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    await middleware({**_scope(), "path": path}, receive, send)
    await asyncio.gather(*correlation._pending)
    [start, body] = sent
    assert start["status"] == 500
    assert in_shape(msgspec.json.decode(body["body"])), body
    assert b"a bug" not in body["body"]
