"""Idempotency-Key on POST/PUT/PATCH/DELETE: the first response is kept 24 h in a NATS KV
bucket shared by every gateway replica and replayed to retries (`Idempotent-Replayed:
true`). The same key with another method, path or body is a 409; 5xx answers are never
kept, so a retry after one runs the handler again; nor are answers marked
`Cache-Control: no-store` (they carry a new API key, which is kept nowhere). Concurrent
requests with one key run the handler once: the first to create the key's entry runs it,
the others wait for it. The holder renews its claim while the handler runs; a claim not
renewed for LEASE_SECONDS belongs to a gateway that died (or to a request that failed
without letting go) and the next request with the key takes it over, so a retry is never
held back by a claim nobody holds. Each claim carries its request's own random owner token
(a takeover writes a new one): a request renews, keeps its answer over, or lets go of only
a claim that holds its token, compare-and-set by the entry's revision.
"""

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar.exceptions import HTTPException
from litestar.utils import normalize_path
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from mnemo.contracts import tenant_tag
from mnemo.gateway.auth import presented_key, principal_of
from mnemo.gateway.body import DEFAULT_TIMEOUT, read_body, replay
from mnemo.gateway.guard import Shape, shape_for
from mnemo.gateway.problems import PROBLEM_JSON, Problem, problem_body
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# Plain ASGI: the messages built here are ordinary dicts.
ASGIApp = Any
Message = dict[str, Any]
Receive = Any
Send = Any
Scope = Any

METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# What an Idempotency-Key may be: 1-255 printable ASCII characters, not starting or ending
# with a space (HTTP drops those). The OpenAPI document says the same, from this.
IDEMPOTENCY_KEY_PATTERN = "^[!-~]([ -~]{0,253}[!-~])?$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
TTL_SECONDS = 24 * 3600
WAIT_SECONDS = 30.0
# A running handler's claim is renewed every RENEW_SECONDS; one left alone for LEASE_SECONDS
# (as a waiter counts, on its own clock) has no holder.
RENEW_SECONDS = 2.0
LEASE_SECONDS = 10.0
# The server's error codes when a write's expected last revision is not the key's (10164:
# a clustered stream with another such write to the key in flight), as nats-py reads them.
_WRONG_LAST_SEQUENCE = (10071, 10164)


class Kept(msgspec.Struct):
    fingerprint: str
    done: bool = False
    status: int = 0
    headers: list[tuple[str, str]] = []
    body: str = ""  # base64
    # The random token of the request whose claim this is (a takeover writes its own): a
    # request touches only a claim with its token. A forget may erase a claim and a retry
    # claim the key anew, with the same fingerprint: only the token tells them apart.
    owner: str = ""


class Claim(msgspec.Struct):
    """Ours to run the handler under: the claim's revision and our owner token."""

    revision: int
    owner: str


def _problem(
    status: int, code: str, detail: str, path: str, shapes: Sequence[tuple[str, Shape]] = ()
) -> Kept:
    """A problem answered here, before the app: the same body as every other problem, in
    the shape of the surface the path belongs to (a MEMANTO client parses MEMANTO's
    envelope, whatever refused its call)."""
    problem = Problem(status, code, detail, field="Idempotency-Key")
    shape = shape_for(path, shapes)
    if shape is None:
        body, headers = problem_body(problem, path), [("content-type", PROBLEM_JSON)]
    else:
        shaped = shape(problem)
        body = shaped.content if isinstance(shaped.content, bytes) else b""
        headers = [("content-type", shaped.media_type or "application/json")]
        headers += [(k, v) for k, v in shaped.headers.items() if k.lower() != "content-type"]
    return Kept(
        fingerprint="",
        done=True,
        status=status,
        headers=headers,
        body=base64.b64encode(body).decode(),
    )


def kept_key(tenant: str, credential: str, key: str, method: str = "POST") -> str:
    """Where the answer to `key` sent with `credential` is kept. Under the tenant:
    forgetting a user erases the tenant's kept answers (mnemo.bus.erasure), which may hold
    what the user said; but not a deletion's (`DELETE`: ids and counts, no words), kept
    one token deeper (`….d`), past the erasure's reach: a retried deletion whose answer a
    forget had erased ran again, and deleted what was accepted after the first run (a
    user's new life, a memory recorded anew under its sourceId, an agent made again)."""
    principal = hashlib.sha256(credential.encode()).hexdigest()[:24]
    kept = f"{tenant_tag(tenant)}.{principal}.{hashlib.sha256(key.encode()).hexdigest()[:40]}"
    return f"{kept}.d" if method == "DELETE" else kept


async def _held(kv: KeyValue, key: str) -> Kept | None:
    """The claim or kept answer `key` holds, if any."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(entry.value or b"{}", type=Kept)


def fingerprint_of(scope: Scope, body: bytes) -> str:
    """What a retry must repeat: method, path, query and body."""
    target = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}"
    return hashlib.sha256(target.encode() + b"\n" + body).hexdigest()


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        shapes: Sequence[tuple[str, Shape]] = (),
        body_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.state = state
        self.shapes = list(shapes)
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get("idempotency-key")
        kv: KeyValue | None = getattr(self.state, "idempotency", None)
        if (
            scope["type"] != "http"
            or scope["method"] not in METHODS
            or key is None
            or kv is None
            or not self._routed(scope)
        ):
            await self.app(scope, receive, send)
            return
        # Kept per credential, in whichever header it came (ElizaOS clients send X-API-KEY).
        authorization = headers.get("authorization")
        credential = authorization or headers.get("x-api-key", "")
        presented = presented_key(authorization) if authorization else credential.strip()
        tenant = await self._tenant_of(presented)
        if tenant is None:
            # Authentication comes first: a missing, unknown or revoked key gets neither a
            # replay nor a check of its Idempotency-Key; the app answers it (401, or
            # sign-up's open door, whose answers are never kept anyway).
            await self.app(scope, receive, send)
            return
        # The request is the tenant's from here: what this middleware answers by itself (a
        # replay, a refusal, a 503 while the bucket is away) is audited like the rest.
        scope.setdefault("state", {})["tenant_id"] = tenant
        if not IDEMPOTENCY_KEY.fullmatch(key):
            detail = "Idempotency-Key must be 1-255 printable ASCII characters"
            await _send(
                send,
                _problem(400, "INVALID_IDEMPOTENCY_KEY", detail, scope["path"], self.shapes),
                False,
            )
            return
        # Read by the input guard already (a replay); a BodyTimeout is answered 408 by
        # the correlation middleware, as every reader's.
        body = await read_body(receive, timeout=self.body_timeout)
        method = scope["method"]
        entry_key = kept_key(tenant, credential, key, method)
        fingerprint = fingerprint_of(scope, body)
        claim = await self._claim_or_wait(kv, entry_key, fingerprint)
        if isinstance(claim, Claim):
            # A deletion's answer and any other's are kept apart: the key used with the
            # other kind of method is a mismatch all the same.
            other = kept_key(tenant, credential, key, "POST" if method == "DELETE" else "DELETE")
            held = await _held(kv, other)
            if held is not None:
                await kv.delete(entry_key, last=claim.revision)
                if held.done and held.fingerprint == fingerprint:
                    # The same request, its answer kept before deletions' answers were
                    # kept apart (within 24 hours of that upgrade): replayed.
                    await _send(send, held, True)
                    return
                await self._mismatch(scope, send)
                return
            await self._run(scope, body, send, kv, entry_key, fingerprint, claim)
            return
        if claim is None:
            detail = "a request with this Idempotency-Key is still running"
            await _send(
                send,
                _problem(409, "IDEMPOTENCY_IN_PROGRESS", detail, scope["path"], self.shapes),
                False,
            )
            return
        kept = claim
        if kept.fingerprint != fingerprint:
            await self._mismatch(scope, send)
        else:
            await _send(send, kept, True)

    async def _mismatch(self, scope: Scope, send: Send) -> None:
        detail = "this Idempotency-Key was used with another method, path or body"
        problem = _problem(409, "IDEMPOTENCY_BODY_MISMATCH", detail, scope["path"], self.shapes)
        await _send(send, problem, False)

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes this method on this path: else the app answers (404, or
        405 with Allow), whatever the Idempotency-Key says."""
        router = getattr(self.app, "asgi_router", None)
        if router is None:
            return True
        try:
            router.handle_routing(path=normalize_path(scope["path"]), method=scope["method"])
        except HTTPException:
            return False
        return True

    async def _tenant_of(self, key: str) -> str | None:
        """The tenant of the presented key if it is a live key now."""
        deps = getattr(self.state, "deps", None)
        if deps is None or not key:
            return None
        principal = await principal_of(key, deps.settings, deps.keys)
        return principal.tenant_id if principal is not None else None

    async def _claim_or_wait(self, kv: KeyValue, key: str, fingerprint: str) -> Kept | Claim | None:
        """Our claim (we must run the handler), the answer to replay, or None: another
        request still holds the key after WAIT_SECONDS."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        owner = secrets.token_hex(16)
        claim = msgspec.json.encode(Kept(fingerprint=fingerprint, owner=owner))
        watched: tuple[int, float] | None = None  # a pending claim's revision, first seen at
        while True:
            try:
                return Claim(await kv.create(key, claim), owner)
            except KeyWrongLastSequenceError:
                pass
            except KeyNotFoundError:
                # The entry went between create's two steps (its holder let go, or a forget
                # erased the tenant's kept answers): try to take it again, in a moment.
                if loop.time() > deadline:
                    return None
                await asyncio.sleep(0.05)
                continue
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue  # the holder answered 5xx and let go: try to take it
            kept = msgspec.json.decode(entry.value or b"{}", type=Kept)
            if kept.done or kept.fingerprint != fingerprint:
                return kept
            revision = entry.revision or 0
            if watched is None or watched[0] != revision:
                watched = (revision, loop.time())  # renewed since: its holder is alive
            elif loop.time() - watched[1] > LEASE_SECONDS:
                try:  # nobody renewed it: take it over (with our token: the old holder's
                    # renewal or answer no longer fits it), unless someone else just did
                    return Claim(await kv.update(key, claim, last=revision), owner)
                except KeyWrongLastSequenceError:
                    watched = None
                    continue
            if loop.time() > deadline:
                return None
            await asyncio.sleep(0.05)

    @staticmethod
    async def _ours(kv: KeyValue, key: str, owner: str) -> int | None:
        """The revision of the key's entry if it is still our pending claim (a write of ours
        got through though its answer was lost), else None: erased by a forget, taken over
        (then perhaps answered), or claimed anew by a retry after an erasure."""
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return None
        current = msgspec.json.decode(entry.value or b"{}", type=Kept)
        if current.done or current.owner != owner:
            return None
        return entry.revision or 0

    @classmethod
    async def _renew(cls, kv: KeyValue, key: str, fingerprint: str, held: Claim) -> None:
        """Keep our claim alive while the handler runs (see LEASE_SECONDS); `held.revision`
        is its revision, the one the answer is then kept over."""
        claim = msgspec.json.encode(Kept(fingerprint=fingerprint, owner=held.owner))
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                held.revision = await kv.update(key, claim, last=held.revision)
            except KeyWrongLastSequenceError:
                try:
                    revision = await cls._ours(kv, key, held.owner)
                except Exception as exc:  # NATS away: look again at the next renewal
                    log.warning("idempotency_renew_failed", error=type(exc).__name__)
                    continue
                if revision is None:
                    return  # taken over (we were presumed gone) or erased by a forget
                held.revision = revision  # our last renewal got through, its answer did not
            except Exception as exc:  # NATS away: the next renewal may get through
                log.warning("idempotency_renew_failed", error=type(exc).__name__)

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        send: Send,
        kv: KeyValue,
        key: str,
        fingerprint: str,
        claim: Claim,
    ) -> None:
        sent: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                sent["headers"] = [
                    (k.decode(), v.decode("latin-1")) for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                sent["body"] += message.get("body", b"")
            await send(message)

        held = Claim(claim.revision, claim.owner)
        renewing = asyncio.create_task(self._renew(kv, key, fingerprint, held))
        try:
            await self.app(scope, replay(body), capture)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            try:
                await self._settle(kv, key, fingerprint, sent, held)
            except Exception as exc:
                # The answer is sent; only its record failed (NATS away, or the bucket's
                # stream electing a leader after a node died). The claim is left unrenewed,
                # so a retry takes it over after LEASE_SECONDS and runs again: every command
                # carries ids derived from the key, so it is stored once.
                log.warning("idempotency_record_failed", error=type(exc).__name__)

    @classmethod
    async def _settle(
        cls, kv: KeyValue, key: str, fingerprint: str, sent: dict[str, Any], held: Claim
    ) -> None:
        """Keep the answer for replays, or let go of the key (a 5xx, a secret). Either only
        over our own claim (our token, compare-and-set by revision). One that is gone was
        erased by a forget while the handler ran (a forget erases the tenant's kept
        answers), and this answer, read before the forget, may hold what the forgotten user
        said: kept now, it would stay a day. Nor is it kept over another request's claim: a
        retry's that claimed the key anew after the erasure (same fingerprint, not done),
        whose own answer would then find ours and stop, or the claim of a takeover."""
        no_store = any(
            k.lower() == "cache-control" and "no-store" in v.lower() for k, v in sent["headers"]
        )
        if sent["status"] >= 500 or no_store:
            # 5xx: a retry should run again. no-store: the answer holds a secret (a new
            # API key) that must not sit in the bucket; a retry makes a new one.
            await cls._let_go(kv, key, held)
            return
        kept = Kept(
            fingerprint=fingerprint,
            done=True,
            status=sent["status"],
            headers=[h for h in sent["headers"] if h[0].lower() not in _PER_CALL],
            body=base64.b64encode(sent["body"]).decode(),
            owner=held.owner,
        )
        encoded = msgspec.json.encode(kept)
        revision: int | None = held.revision
        while revision is not None:
            try:
                await kv.update(key, encoded, last=revision)
                return
            except KeyWrongLastSequenceError:
                # Not at that revision: a renewal answered too late to count (still ours),
                # or the claim is not ours any more.
                revision = await cls._ours(kv, key, held.owner)
        log.info("idempotency_claim_lost")  # erased by a forget or taken over: not kept

    @classmethod
    async def _let_go(cls, kv: KeyValue, key: str, held: Claim) -> None:
        """Delete our claim, and only ours: a retry's claim after an erasure, or a
        takeover's, is left to its request."""
        revision: int | None = held.revision
        while revision is not None:
            try:
                await kv.delete(key, last=revision)
                return
            except APIError as exc:
                if exc.err_code not in _WRONG_LAST_SEQUENCE:
                    raise
                revision = await cls._ours(kv, key, held.owner)


# Headers that describe one call, not the answer: a replay gets fresh ones.
_PER_CALL = {"x-request-id", "date", "server", "content-length"}


async def _send(send: Send, kept: Kept, replayed: bool) -> None:
    body = base64.b64decode(kept.body)
    headers = [(k.encode(), v.encode()) for k, v in kept.headers]
    headers.append((b"content-length", str(len(body)).encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": kept.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
