"""The outbox relay: follows the log and publishes each event exactly in commit-safe order.

Gap safety: an identity value is taken when a row is inserted, not when its transaction
commits, so position 7 can become visible after position 8. Reading only rows whose
transaction id is below the oldest transaction still in flight (pg_snapshot_xmin) and
ordering by (transaction_id, global_position) means a row can never appear behind the
checkpoint. Within a transaction, and so within a stream, the order is position order.

The price: any transaction in this database that holds a transaction id (it wrote, or
locked rows) holds the relay back until it ends, whatever tables it touches. Keep every
transaction here short, and never hold one open across slow work (a model, the network):
retrieval's phase 2 once held row locks while it embedded, and nothing was published for
the seconds each batch took (see `mnemo.retrieval.pending`).
"""

import asyncio
import contextlib
import time
from typing import Protocol

import asyncpg

from mnemo.contracts import Envelope
from mnemo.eventlog.codec import COLUMNS, key_ids, row_to_envelope
from mnemo.eventlog.keyring import KeyRing
from mnemo.eventlog.pool import keep_session_state
from mnemo.telemetry import get_logger
from mnemo.telemetry.metrics import RELAY_PUBLISHED

# What a database that went away raises: the relay waits and leads again, never crashes
# (one InternalClientError from a dead connection's cleanup stopped ingest's relay once).
_GONE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

log = get_logger(__name__)

# ORDER BY names the table's column: a bare `transaction_id` would be COLUMNS' text alias
# (PostgreSQL prefers an output column's name there), and '100' sorts before '99', so a
# batch cut short would checkpoint past the lower transactions it left out.
_BATCH = f"""
SELECT {COLUMNS} FROM mnemo.events
WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY mnemo.events.transaction_id, mnemo.events.global_position
LIMIT $3
"""

# The rest of a transaction that a batch cut short: an append goes out whole (each event
# saying what follows it there, mnemo.bus.appends), so a consumer can apply it as one.
_REST = f"""
SELECT {COLUMNS} FROM mnemo.events
WHERE transaction_id = $1::text::xid8 AND global_position > $2::bigint
ORDER BY mnemo.events.global_position
"""


class Counted(Protocol):
    def inc(self, amount: float = 1) -> None:
        """Count `amount` more (a prometheus Counter)."""


class EventPublisher(Protocol):
    async def publish_events(self, events: list[Envelope], appends: list[str]) -> None:
        """Publish in order, `appends[i]` the transaction that stored `events[i]`; raise if
        any was not acknowledged."""


class Relay:
    """Publishes the log to the bus, remembering where it got to under `name`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: EventPublisher,
        *,
        name: str = "relay",
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 5.0,
        counted: Counted = RELAY_PUBLISHED,
        linger: float = 0.0,
    ) -> None:
        self._pool = pool
        # What counts the events handed on: the bus's relay, or another follower's own.
        self._counted = counted
        # How long to wait, once woken, before reading: a follower nobody waits on (the
        # audit) reads the appends of that while in one batch instead of one by one.
        self._linger = linger
        self._publisher = publisher
        self._name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._keyring = KeyRing()
        # The checkpoint as this relay last read or wrote it; only the leader moves it, so
        # it is read once per leadership rather than once per batch.
        self._position: tuple[str, int] | None = None
        self.published = 0
        # Since when (monotonic) every publish has failed, and the last failure's name.
        self._failing_since: float | None = None
        self._published_then = 0
        self._failure = ""

    def stalled(self, after: float) -> str | None:
        """Why the log's events have not reached the bus for `after` seconds or more
        (every publish failing: NATS away, or the event stream full and refusing), else
        None. Everything downstream waits meanwhile, a forget's erasing too (its event
        does not arrive): health says so rather than "ok"."""
        if self._failing_since is None:
            return None
        waited = time.monotonic() - self._failing_since
        if waited < after:
            return None
        return f"the log's events unpublished for {waited:.0f} s: {self._failure}"

    async def run(self) -> None:
        """Relay until cancelled. Survives bus and database outages, resuming from the checkpoint.

        Replicas may all run a relay: a session advisory lock lets one publish at a time,
        and another takes over when its connection goes.
        """
        backoff = 0.1
        while True:
            try:
                async with self._pool.acquire() as leader:
                    # A session lock and LISTEN: the pool resets them if the finally fails.
                    keep_session_state(leader)
                    await self._lead(leader)
                    await leader.add_listener("mnemo_events", self._on_notify)
                    try:
                        await self._follow(leader)
                    finally:
                        # On a connection that is gone these fail as well (asyncpg raises
                        # InternalClientError there): what ended leadership is what counts,
                        # and the pool resets or drops the connection either way.
                        with contextlib.suppress(*_GONE):
                            await leader.remove_listener("mnemo_events", self._on_notify)
                            await leader.execute("SELECT pg_advisory_unlock_all()")
            except _GONE as exc:
                log.warning("relay_database_unavailable", error=exc, backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        self._failing_since = None  # not leading (or not yet): nothing of ours is stalled
        self._position = None  # another replica may have led, and moved it, meanwhile
        key = int.from_bytes(self._name.encode()[:8].ljust(8, b"\0"), "big", signed=True)
        # Not the leader: wait for the lock, polling (another replica may hold it for long).
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):  # noqa: ASYNC110
            await asyncio.sleep(self._poll_interval)
        log.info("relay_leading", name=self._name)

    async def _follow(self, leader: asyncpg.Connection) -> None:
        backoff = 0.1
        while True:
            # Cleared before reading, so a notification that lands mid-pump is not lost.
            self._wake.clear()
            try:
                moved = await self.pump()
                backoff = 0.1
                self._failing_since = None
            except _GONE:
                raise
            except Exception as exc:  # the bus raises its own errors while NATS is away
                if self._failing_since is None or self.published != self._published_then:
                    # Failing from now (a batch published in part is a relay still moving).
                    self._failing_since = time.monotonic()
                    self._published_then = self.published
                self._failure = type(exc).__name__
                log.warning("relay_publish_failed", error=exc, backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if moved == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                except TimeoutError:
                    # A dead leader connection must end leadership, not go unnoticed (a
                    # notification just came through it: no need to ask then).
                    await leader.fetchval("SELECT 1")
                    continue
                if self._linger:
                    await asyncio.sleep(self._linger)

    async def pump(self) -> int:
        """Publish everything committed past the checkpoint; return how many were published."""
        total = 0
        while True:
            if self._position is None:
                self._position = await self._checkpoint()
            xid, position = self._position
            rows = await self._pool.fetch(_BATCH, xid, position, self._batch_size)
            if not rows:
                return total
            full = len(rows) == self._batch_size
            if full:
                last = rows[-1]
                rows += await self._pool.fetch(
                    _REST, last["transaction_id"], last["global_position"]
                )
            keys = await self._keyring.keys(self._pool, key_ids(rows))
            opened = [(r, row_to_envelope(r, keys)) for r in rows]
            # Events whose key was shredded meanwhile (a subject forgotten, a memory
            # deleted) are unreadable: they are not published. A follower that records
            # what happened (the audit) takes their rows, to keep what the log says in clear.
            readable = [(e, r["transaction_id"]) for r, e in opened if e is not None]
            if readable:
                events, appends = zip(*readable, strict=True)
                await self._publisher.publish_events(list(events), list(appends))
                self._counted.inc(len(readable))
            shredded = [r for r, e in opened if e is None]
            take_shredded = getattr(self._publisher, "publish_shredded", None)
            if shredded and take_shredded is not None:
                await take_shredded(shredded)
            last = rows[-1]
            await self._save(last["transaction_id"], last["global_position"])
            self._position = (last["transaction_id"], last["global_position"])
            total += len(rows)
            self.published += len(rows)
            if not full:
                return total

    async def lag(self) -> tuple[int, int]:
        """(the log's head position, the position published up to), as stored: any
        replica, leading or not, reads the same."""
        row = await self._pool.fetchrow(
            "SELECT (SELECT coalesce(max(global_position), 0) FROM mnemo.events) AS head,"
            " (SELECT global_position FROM mnemo.checkpoints WHERE name = $1) AS published",
            self._name,
        )
        assert row is not None
        return int(row["head"]), int(row["published"] or 0)

    async def _checkpoint(self) -> tuple[str, int]:
        row = await self._pool.fetchrow(
            "SELECT transaction_id::text AS xid, global_position FROM mnemo.checkpoints"
            " WHERE name = $1",
            self._name,
        )
        return ("0", 0) if row is None else (row["xid"], row["global_position"])

    async def _save(self, xid: str, position: int) -> None:
        await self._pool.execute(
            """INSERT INTO mnemo.checkpoints (name, transaction_id, global_position)
               VALUES ($1, $2::text::xid8, $3)
               ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
                   global_position = EXCLUDED.global_position, updated_at = now()""",
            self._name,
            xid,
            position,
        )
