"""Where a subject's timeline comes from: folded from its stream in the log, or, when this
process decided on that subject last and nothing changed since, kept from then.

"Nothing changed" is checked, not assumed: the stream's head version (another replica may
have appended) and the subject's data key (a forgotten subject gets a new key when it
starts over, and what the old key sealed must not come back from memory).
"""

from collections import OrderedDict

import asyncpg

from mnemo.eventlog import EventStore
from mnemo.synthesis.timeline import Timeline

_STATE = """
    SELECT (SELECT max(stream_version) FROM mnemo.events WHERE stream_id = $1) AS head,
           (SELECT key_id::text FROM mnemo.subject_keys
            WHERE tenant_id = $2 AND user_id = $3) AS key_id
"""


class Timelines:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, size: int = 2000) -> None:
        self._pool = pool
        self._store = store
        self._size = size
        self._kept: OrderedDict[str, tuple[Timeline, int, str | None]] = OrderedDict()

    async def load(
        self, stream: str, subject: str, tenant_id: str, user_id: str
    ) -> tuple[Timeline, int, str | None]:
        """The subject's timeline, the stream version it is folded up to (-1: no stream
        yet) and the data key it was read under. Taken out of the cache: `keep` it again
        once what was decided on it is stored."""
        row = await self._pool.fetchrow(_STATE, stream, tenant_id, user_id)
        head = -1 if row["head"] is None else int(row["head"])
        kept = self._kept.pop(stream, None)
        if kept is not None and kept[1] == head and kept[2] == row["key_id"]:
            return kept
        timeline = Timeline.folded(subject, await self._store.read_stream(stream))
        return timeline, head, row["key_id"]

    def keep(self, stream: str, timeline: Timeline, version: int, key_id: str | None) -> None:
        self._kept[stream] = (timeline, version, key_id)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
