"""GET /v1/events/stream: the caller's domain events, live, as Server-Sent Events.

Each event is `id: <opaque id>` (its EVT stream sequence, enciphered per tenant: see
`EventIds`), `event: <event_type>`, `data: <JSON>`; the JSON
says what happened (ids, type, times, who) and never what was said: no content, statement,
value or metadata.

Query parameters (all optional):

- `userId`, `agentId`: only events about that user / agent;
- `type`: only these event types (repeat it, or separate with commas; a name that is no
  event type is refused);
- `lastEventId` (or the `Last-Event-ID` header, which wins): resume after that event (an
  id the stream gave, or `0` for the stream's start), with no gap and no repeat; without it
  the stream starts with the next new event;
- `heartbeat`: seconds between `: ping` comment lines, 1-60 (default 15).

Every client gets its own ephemeral ordered consumer on the EVT stream, filtered on its
tenant, and its own bounded queue; a client that falls `QUEUE_SIZE` events behind is sent
`event: overflow` and disconnected (it resumes with `Last-Event-ID`, losing nothing), so a
slow reader never holds back the others. The consumer is deleted when the client goes.
The first line sent, `: connected`, means the consumer exists: events from then on arrive.

Streams are bounded like requests in flight: `MNEMO_MAX_STREAMS` open on one replica,
`MNEMO_TENANT_SHARE` of them per tenant and of a tenant's per agent key, so one agent key
cannot take every stream of its tenant (429 past the key's or the tenant's share, 503 past
the replica's, each with Retry-After). A stream lasts only as long as its key: once the key is
revoked (or its agent deleted) the client is sent `event: revoked` and the stream ends.
"""

import asyncio
import contextlib
import hashlib
import hmac
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get
from litestar.response import Stream
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from mnemo.contracts import EVENT_TYPES, key_digest
from mnemo.gateway.auth import KeyCache, Principal, agent_scope, authorize, presented_key
from mnemo.gateway.deps import Deps, deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import int_param, query_param
from mnemo.telemetry import get_logger

log = get_logger(__name__)

HEARTBEAT_SECONDS = 15
QUEUE_SIZE = 1000
# The server deletes a consumer nobody listens to after this long, should our delete fail.
INACTIVE_THRESHOLD = 30.0
RETRY_MS = 2000
# Seconds between two checks that the stream's key still stands.
KEY_CHECK_SECONDS = 2.0

_ENVELOPE_FIELDS = (
    "event_id",
    "event_type",
    "tenant_id",
    "stream_id",
    "occurred_at",
    "recorded_at",
    "correlation_id",
    "causation_id",
    "service",
)
_DATA_FIELDS = ("user_id", "agent_id", "memory_id")
_decoder = msgspec.json.Decoder()
_closing: set[asyncio.Task[None]] = set()
_encoder = msgspec.json.Encoder()


class EventIds:
    """The stream's event ids for one tenant: its JetStream sequence, enciphered with a key
    of the tenant's (a 64-bit Feistel permutation keyed by HMAC-SHA256). The sequence counts
    every tenant's events: shown as it is, two ids of one tenant told how many events of
    others came between them. Ids are opaque; `Last-Event-ID` takes one back (or `0`, the
    stream's start)."""

    def __init__(self, secret: str, tenant_id: str) -> None:
        self._key = hmac.new(
            secret.encode(), b"mnemo-event-ids\x1f" + tenant_id.encode(), hashlib.sha256
        ).digest()

    def _mix(self, round_: int, half: int) -> int:
        digest = hmac.new(self._key, bytes([round_]) + half.to_bytes(4, "big"), hashlib.sha256)
        return int.from_bytes(digest.digest()[:4], "big")

    def shown(self, seq: int) -> str:
        left, right = seq >> 32, seq & 0xFFFFFFFF
        for round_ in range(_ROUNDS):
            left, right = right, left ^ self._mix(round_, right)
        return f"{(left << 32) | right:016x}"

    def sequence(self, shown: str) -> int | None:
        """The sequence an id stands for; None for text no id of this tenant's can be."""
        if len(shown) != 16 or not all(c in "0123456789abcdef" for c in shown):
            return None
        value = int(shown, 16)
        left, right = value >> 32, value & 0xFFFFFFFF
        for round_ in reversed(range(_ROUNDS)):
            left, right = right ^ self._mix(round_, left), left
        seq = (left << 32) | right
        return seq if 0 < seq < 2**63 else None


_ROUNDS = 4


def event_ids(deps: Deps, tenant_id: str) -> EventIds:
    """The tenant's event ids, keyed by the gateway's secret (every replica has it)."""
    settings = deps.settings
    return EventIds(settings.key_secret or settings.dev_api_key or "mnemo", tenant_id)


@dataclass(frozen=True)
class EventFilter:
    user_id: str | None = None
    agent_id: str | None = None
    types: frozenset[str] = frozenset()
    # Recorded no earlier (an agent key's: not before its agent was made).
    since: datetime | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        if self.types and event["event_type"] not in self.types:
            return False
        if self.since is not None and not _recorded_since(event, self.since):
            return False
        if self.user_id is not None and event["user_id"] != self.user_id:
            return False
        return self.agent_id is None or event["agent_id"] == self.agent_id


def _recorded_since(event: dict[str, Any], since: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(event["recorded_at"])) >= since
    except ValueError:
        return False


def public_event(envelope: dict[str, Any]) -> dict[str, Any]:
    """What the stream shows of an envelope: identities and times, never content."""
    data = envelope.get("data")
    data = data if isinstance(data, dict) else {}
    event = {name: envelope.get(name) for name in _ENVELOPE_FIELDS}
    for name in _DATA_FIELDS:
        value = data.get(name)
        event[name] = value if isinstance(value, str) else None
    return event


def sse_message(event_id: str, event: dict[str, Any]) -> bytes:
    event_type = str(event["event_type"]).replace("\n", " ").replace("\r", " ")
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        event_id.encode(),
        event_type.encode(),
        _encoder.encode(event),
    )


def _last_event_id(request: Request, ids: EventIds) -> int | None:
    """The sequence to resume after: the one the id the stream gave stands for, or 0
    (`Last-Event-ID: 0`, the stream's start)."""
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None or raw.strip() == "":
        return None
    value = 0 if raw == "0" else ids.sequence(raw)
    if value is None:
        raise Problem(
            400,
            "INVALID_REQUEST",
            "Last-Event-ID must be an id this stream gave (or 0, to start from the first event)",
            field="lastEventId",
        )
    return value


def _types(request: Request) -> frozenset[str]:
    values = request.query_params.getall("type", [])
    types = frozenset(t.strip() for value in values for t in value.split(",") if t.strip())
    # A type no event has would filter out everything, silently: a typo is refused; so is
    # `type=` naming none (it filtered nothing, silently).
    if (values and not types) or types - EVENT_TYPES.keys():
        raise Problem(
            400,
            "INVALID_REQUEST",
            "type names no event type (the OpenAPI document lists them)",
            field="type",
        )
    return types


class KeyStands:
    """Whether the stream's key still stands, on this replica's copy of the keys (no I/O):
    a revoked key, or an agent key whose agent was deleted, no longer does."""

    def __init__(self, keys: KeyCache, digest: str | None) -> None:
        self._keys = keys
        self._digest = digest  # None: the development key, which stands while we run
        self._seen = False

    def __call__(self) -> bool:
        if self._digest is None:
            return True
        grant = self._keys.cached(self._digest)
        if grant is None:
            # A key issued a moment ago may not have reached this replica's copy yet.
            return not self._seen
        self._seen = True
        return not grant.revoked


def _key_stands(request: Request, deps: Deps, principal: Principal) -> KeyStands:
    secret = deps.settings.key_secret
    if principal.actor == "key:dev" or not secret:
        return KeyStands(deps.keys, None)
    key = presented_key(request.headers.get("authorization", ""))
    return KeyStands(deps.keys, key_digest(secret, key))


@get("/v1/events/stream")
async def events_stream(request: Request) -> Stream:
    deps = deps_of(request)
    principal = await authorize(request, "stream")
    wanted = EventFilter(
        user_id=query_param(request, "userId"),
        # An agent key sees only events about its own agent.
        agent_id=agent_scope(principal, query_param(request, "agentId")),
        types=_types(request),
        since=principal.history_since(None),
    )
    ids = event_ids(deps, principal.tenant_id)
    last = _last_event_id(request, ids)
    heartbeat = int_param(request, "heartbeat", default=HEARTBEAT_SECONDS, low=1, high=60)
    subject = deps.topology.evt_subject(principal.tenant_id, ">")
    stream = deps.topology.evt_stream
    stands = _key_stands(request, deps, principal)
    agent_key = None if principal.is_master else principal.key_id
    give = deps.streams.take(principal.tenant_id, agent_key)
    events = _releasing(
        _follow(deps.publisher.js, stream, subject, wanted, last, heartbeat, stands, ids), give
    )
    # The slot is given back when the stream ends, or when its generator is dropped unread.
    weakref.finalize(events, give)
    return Stream(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _releasing(
    chunks: AsyncIterator[bytes], give: Callable[[], None]
) -> AsyncIterator[bytes]:
    """`chunks`, then `give()` however the stream ends (its slot goes back)."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        give()


async def _follow(
    js: JetStreamContext,
    stream: str,
    subject: str,
    wanted: EventFilter,
    last: int | None,
    heartbeat: float,
    stands: Callable[[], bool],
    ids: EventIds,
) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=QUEUE_SIZE)
    overflowed = asyncio.Event()

    async def deliver(msg: Msg) -> None:
        if overflowed.is_set():
            return
        try:
            queue.put_nowait(msg)
        except asyncio.QueueFull:
            overflowed.set()

    if last is None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    else:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1
        )
    config.inactive_threshold = INACTIVE_THRESHOLD
    sub = await js.subscribe(
        subject,
        stream=stream,
        cb=deliver,
        ordered_consumer=True,
        config=config,
        deliver_policy=config.deliver_policy,
    )
    log.info("sse_client_connected", subject=subject, last_event_id=last)
    sent = last or 0
    try:
        yield b": connected\nretry: %d\n\n" % RETRY_MS
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            if not stands():
                log.info("sse_key_revoked", subject=subject)
                yield _revoked()
                return
            if overflowed.is_set():
                while not queue.empty():
                    msg = queue.get_nowait()
                    if message := _message(msg, wanted, ids):
                        yield message
                    sent = msg.metadata.sequence.stream
                yield _overflow(ids.shown(sent) if sent else "0")
                return
            try:
                # Awake at the next heartbeat, and often enough to see the key go.
                until_ping = quiet_since + heartbeat - loop.time()
                wait = max(0.01, min(KEY_CHECK_SECONDS, until_ping))
                msg = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                if loop.time() - quiet_since >= heartbeat:
                    yield b": ping\n\n"
                    quiet_since = loop.time()
                continue
            if not stands():
                continue  # not shown: the key went while the event was on its way
            if message := _message(msg, wanted, ids):
                yield message
                quiet_since = loop.time()
            sent = msg.metadata.sequence.stream
    finally:
        # Not awaited here: a client that went away cancelled this generator's scope (anyio
        # cancels every later await in it), and a generator closed when collected cannot
        # wait either. A task of its own always finishes the clean-up.
        task = asyncio.get_running_loop().create_task(_close(js, stream, sub))
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        log.info("sse_client_gone", subject=subject, last_sent=sent)


def _message(msg: Msg, wanted: EventFilter, ids: EventIds) -> bytes | None:
    seq = msg.metadata.sequence.stream
    try:
        envelope = _decoder.decode(msg.data)
    except msgspec.DecodeError:
        log.warning("sse_undecodable_event", seq=seq)
        return None
    if not isinstance(envelope, dict):
        return None
    event = public_event(envelope)
    return sse_message(ids.shown(seq), event) if wanted.matches(event) else None


def _revoked() -> bytes:
    body = _encoder.encode(
        {"reason": "the key was revoked", "action": "reconnect with a valid key"}
    )
    return b"event: revoked\ndata: %s\n\n" % body


def _overflow(sent: str) -> bytes:
    body = _encoder.encode(
        {
            "reason": "client too slow: its queue of events overflowed",
            "lastEventId": sent,
            "action": "reconnect with Last-Event-ID to resume with no gap",
        }
    )
    # No `id:` line: the client's last id stays the last event it really got.
    return b"event: overflow\ndata: %s\n\n" % body


async def _close(js: JetStreamContext, stream: str, sub: Any) -> None:
    """Unsubscribe and delete the client's consumer (else the server drops it when idle)."""
    consumer = getattr(sub, "_consumer", None)
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
    if isinstance(consumer, str):
        try:
            await asyncio.wait_for(js.delete_consumer(stream, consumer), 2.0)
        except Exception as exc:
            log.info("sse_consumer_not_deleted", consumer=consumer, error=exc)
