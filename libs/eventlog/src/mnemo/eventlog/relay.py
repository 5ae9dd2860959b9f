"""The outbox relay: follows the log and publishes each event exactly in commit-safe order.

Gap safety: an identity value is taken when a row is inserted, not when its transaction
commits, so position 7 can become visible after position 8. Reading only rows whose
transaction id is below the oldest transaction still in flight (pg_snapshot_xmin) and
ordering by (transaction_id, global_position) means a row can never appear behind the
checkpoint. Within a transaction, and so within a stream, the order is position order.
"""

import asyncio
import contextlib
from typing import Protocol

import asyncpg

from mnemo.contracts import Envelope
from mnemo.eventlog.codec import COLUMNS, row_to_envelope
from mnemo.telemetry import get_logger

log = get_logger(__name__)

_BATCH = f"""
SELECT {COLUMNS} FROM mnemo.events
WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $3
"""


class EventPublisher(Protocol):
    async def publish_events(self, events: list[Envelope]) -> None:
        """Publish in order; raise if any was not acknowledged."""


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
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self.published = 0

    async def run(self) -> None:
        """Relay until cancelled. Survives bus and database outages, resuming from the checkpoint."""
        listener = await self._listen()
        backoff = 0.1
        try:
            while True:
                try:
                    moved = await self.pump()
                    backoff = 0.1
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("relay_retry", error=str(exc), backoff=backoff)
                    moved = 0
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                except Exception as exc:  # the bus raises its own errors when NATS is away
                    log.warning("relay_publish_failed", error=repr(exc), backoff=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                if moved == 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await self._pool.release(listener)

    async def pump(self) -> int:
        """Publish everything committed past the checkpoint; return how many were published."""
        total = 0
        while True:
            xid, position = await self._checkpoint()
            rows = await self._pool.fetch(_BATCH, xid, position, self._batch_size)
            if not rows:
                return total
            await self._publisher.publish_events([row_to_envelope(r) for r in rows])
            last = rows[-1]
            await self._save(last["transaction_id"], last["global_position"])
            total += len(rows)
            self.published += len(rows)
            if len(rows) < self._batch_size:
                return total

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
               VALUES ($1, $2::xid8, $3)
               ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
                   global_position = EXCLUDED.global_position, updated_at = now()""",
            self._name,
            xid,
            position,
        )

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await self._pool.acquire()
            await conn.add_listener("mnemo_events", lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            # Without LISTEN the relay still works by polling; it is only slower to react.
            log.warning("relay_listen_failed", error=str(exc))
            return None
