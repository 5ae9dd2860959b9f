"""Compactions after deletions, coalesced: at most one per interval.

A deleted memory's rows (its read-model rows, its shredded key) leave their bytes in the
table's pages until the table is rewritten (`compaction.compact`), as a forgotten user's
do. Deletions come in bursts (an agent's memories, a run's, a client's clean-up), and a
rewrite locks its tables and copies them whole: so a deletion only says a compaction is
due, and one runs for all the deletions of the last few seconds, never one per deletion.
A rewrite's time grows with the tables (and a vector store's copy with its points): the
next one waits at least `DUTY` times as long as the last took, so that steady deletions
keep compactions to a tenth of the time however large the store (a forget's compaction
does not wait: it is not coalesced here).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from mnemo.telemetry import get_logger

log = get_logger(__name__)

# At most one compaction per this many seconds after deletions.
INTERVAL_S = 3.0
# After a compaction that took t seconds, the next starts no sooner than DUTY * t later.
DUTY = 9.0
# A compaction that failed (a lock not taken in time, the database away) is tried again.
RETRY_S = 5.0


class CoalescedCompaction:
    """Runs `compact` once deletions made it due, at most once per `interval` seconds."""

    def __init__(
        self, compact: Callable[[], Awaitable[None]], interval: float = INTERVAL_S
    ) -> None:
        self._compact = compact
        self._interval = interval
        self._gap = interval  # before the next: the interval, or DUTY times the last's time
        self._due = asyncio.Event()
        self.done = 0  # compactions run so far
        self._clock = time.monotonic  # a test's own clock
        self._sleep = asyncio.sleep

    def due(self) -> None:
        """Something was deleted: a compaction will follow within the interval."""
        self._due.set()

    async def run(self) -> None:
        """For ever (a service's background task): wait until due, gather what else comes
        within the interval since the last one, then compact once for all of it."""
        last = -self._interval
        while True:
            await self._due.wait()
            rest = last + self._gap - self._clock()
            if rest > 0:
                await self._sleep(rest)  # the burst's other deletions join this one
            self._due.clear()
            last = self._clock()
            try:
                await self._compact()
            except Exception as e:
                log.warning("compaction_after_deletions_failed", error=e)
                await self._sleep(RETRY_S)
                self._due.set()
                continue
            self.done += 1
            took = self._clock() - last
            self._gap = max(self._interval, DUTY * took)
            log.info("compacted_after_deletions", seconds=round(took, 3))
