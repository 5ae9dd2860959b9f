"""Append to and read from the Postgres event log.

Appends are optimistic (a unique stream_id + stream_version) and idempotent (a unique
event_id: appending a stored event again returns what is stored and writes nothing).
"""

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import asyncpg
import msgspec

from mnemo.contracts import Envelope, NewEvent
from mnemo.contracts.deadlines import ANSWER_BY, AnswerTooLate, in_time
from mnemo.eventlog.codec import (
    COLUMNS,
    encode_data,
    encode_metadata,
    key_ids,
    rows_to_envelopes,
)
from mnemo.eventlog.errors import IdempotencyConflict, SubjectKeyChanged, WrongExpectedVersion
from mnemo.eventlog.keyring import KeyRing
from mnemo.eventlog.scopes import MemoryScope, session_tag, value_at, values_digest
from mnemo.eventlog.sealing import SEALED_TYPES, seal
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# expected_version values: a number is "the stream is at exactly this version";
NO_STREAM: Final = -1  # the stream must not exist yet
ANY: Final = None  # no expectation: the events go after whatever the stream holds
# An ANY append that loses the race for a version tries again at the next one; each loss
# means another writer's append went in, so this bounds only a pathological pile-up.
_ANY_ATTEMPTS: Final = 64

_INSERT = f"""
INSERT INTO mnemo.events (event_id, stream_id, stream_version, event_type, tenant_id,
                          data, metadata, occurred_at)
SELECT e.event_id, $1, e.stream_version, e.event_type, e.tenant_id,
       e.data::jsonb, e.metadata::jsonb, e.occurred_at
FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::timestamptz[])
     AS e(event_id, stream_version, event_type, tenant_id, data, metadata, occurred_at)
RETURNING {COLUMNS}
"""

_INSERT_FIRST = f"""
INSERT INTO mnemo.events (event_id, stream_id, stream_version, event_type, tenant_id,
                          data, metadata, occurred_at)
SELECT e.event_id, e.stream_id, 0, e.event_type, e.tenant_id,
       e.data::jsonb, e.metadata::jsonb, e.occurred_at
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[])
     AS e(stream_id, event_id, event_type, tenant_id, data, metadata, occurred_at)
ON CONFLICT DO NOTHING
RETURNING {COLUMNS}
"""


class Ended(NamedTuple):
    """What became of memory recordings since (`EventStore.ended`), by event id."""

    forgotten: set[str]  # sealed under a key a forget has shredded: nothing can be read
    deleted: set[str]  # readable, their memory deleted (or revised) after them
    successors: dict[str, str]  # of those revised: the event recording the next version


class EventStore:
    """The event log over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, mark_secret: str | None = None) -> None:
        self._pool = pool
        self.keyring = KeyRing()
        # The key of a scope mark's digest of the metadata it names (scopes.py).
        self._mark_secret = mark_secret or "mnemo"

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None = ANY,
        sealed_with: str | None = None,
        sent_at: Sequence[int] | None = None,
    ) -> list[Envelope]:
        """Append `events` to `stream_id` atomically and return them as stored.

        `sent_at`: for each event, the command stream sequence of the command it records;
        an event of a subject forgotten since (`forgotten_through`) is dropped, not written.

        `sealed_with`: the subject key id the caller decided under; if the events would be
        sealed with any other (the subject was forgotten since), SubjectKeyChanged and
        nothing is written. The key's row stays locked until the commit, so a forget
        cannot shred it between this check and the write.

        If every event id is already stored, nothing is written and the stored events
        are returned: a retried append is a no-op, not a duplicate. Retries are rare, so
        they are recognised when the append fails, not looked for before every append.
        """
        if not events:
            return []
        if expected_version is not ANY:
            return await self._append(stream_id, events, expected_version, sealed_with, sent_at)
        # No expectation: a concurrent writer that took the next version is no conflict
        # (two packs compiled at once, two passes of one subject), so try again after it.
        for _ in range(_ANY_ATTEMPTS - 1):
            try:
                return await self._append(stream_id, events, ANY, sealed_with, sent_at)
            except WrongExpectedVersion:
                continue
        return await self._append(stream_id, events, ANY, sealed_with, sent_at)

    async def append_streams(
        self,
        appends: Sequence[tuple[str, Sequence[NewEvent], int | None]],
        sealed_with: str | None = None,
    ) -> list[list[Envelope]]:
        """Append to several streams in one transaction: each (stream, events, expected
        version) as `append` would, all of them or none. One append, so a consumer that
        takes appends whole sees them together (a revision: the old version's end and the
        new one). A retry of the whole returns what is stored, as `append` does."""
        ids = [e.event_id for _, events, _ in appends for e in events]
        if not ids:
            return [[] for _ in appends]
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    # Every version read before the first write (see `_write`).
                    current = await self._versions(conn, [stream for stream, _, _ in appends])
                    held: dict[tuple[str, str], tuple[str, bytes]] = {}
                    written = [
                        await self._write(
                            conn, stream, events, expected, current[stream], sealed_with, held
                        )
                        for stream, events, expected in appends
                    ]
                    in_time()
            except (WrongExpectedVersion, asyncpg.UniqueViolationError) as exc:
                stored = await self._stored(conn, ids)
                if stored is not None:
                    by_id = {e.event_id: e for e in stored}
                    return [[by_id[e.event_id] for e in events] for _, events, _ in appends]
                if getattr(exc, "constraint_name", None) != "events_stream_version_key":
                    raise
                # Another writer took a version after it was read here: say which stream.
                now = await self._versions(conn, list(current))
                stream, expected = next(
                    ((s, e) for s, _, e in appends if now[s] != current[s]),
                    (appends[0][0], appends[0][2]),
                )
                raise WrongExpectedVersion(stream, expected, now[stream]) from None
        return [rows_to_envelopes(rows, keys) for rows, keys in written]

    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        sealed_with: str | None,
        sent_at: Sequence[int] | None,
    ) -> list[Envelope]:
        ids = [e.event_id for e in events]
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    current = await self._versions(conn, [stream_id])
                    rows, keys = await self._write(
                        conn,
                        stream_id,
                        events,
                        expected_version,
                        current[stream_id],
                        sealed_with,
                        {},
                        sent_at,
                    )
                    in_time()  # the asker still waits: else rolled back, never late
            except WrongExpectedVersion:
                stored = await self._stored(conn, ids)
                if stored is not None:
                    return stored
                raise
            except asyncpg.UniqueViolationError as exc:
                # A concurrent writer won. If it wrote these very events, this was a retry.
                stored = await self._stored(conn, ids)
                if stored is not None:
                    return stored
                if exc.constraint_name == "events_stream_version_key":
                    actual = await conn.fetchval(
                        "SELECT max(stream_version) FROM mnemo.events WHERE stream_id = $1",
                        stream_id,
                    )
                    raise WrongExpectedVersion(stream_id, expected_version, actual) from None
                raise
        return rows_to_envelopes(rows, keys)

    async def _versions(self, conn: Any, stream_ids: list[str]) -> dict[str, int]:
        """Each stream's current version (-1: none yet); one at a time, each the last entry
        of the stream's index (a subject's facts stream can be long)."""
        versions = {}
        for stream_id in stream_ids:
            current = await conn.fetchval(
                "SELECT max(stream_version) FROM mnemo.events WHERE stream_id = $1", stream_id
            )
            versions[stream_id] = -1 if current is None else current
        return versions

    async def _write(
        self,
        conn: Any,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        current: int,
        sealed_with: str | None,
        held: dict[tuple[str, str], tuple[str, bytes]],
        sent_at: Sequence[int] | None = None,
    ) -> tuple[list[Any], dict[str, bytes]]:
        """Write `events` after `current` within the caller's transaction: the rows written
        and the keys that open them. `current` is read before the transaction's first
        write, so its xid (which the relay orders by) comes after the one it follows."""
        if expected_version is not ANY and expected_version != current:
            raise WrongExpectedVersion(stream_id, expected_version, current)
        lineage = None
        if sealed_with is not None:
            lineage = await self._hold_key(conn, events, sealed_with, stream_id, held)
        await self._hold_subjects(conn, events, held)
        kept = await self._not_forgotten(conn, events, sent_at)
        if not kept:
            return [], {}
        data, keys = await self._encode(conn, [events[i] for i in kept], held, lineage)
        # A memory deleted (not revised into another): its key goes in the same transaction,
        # so once the deletion is recorded no version of its words can be opened again.
        # Before the insert: a revision in flight holds the key's row from before its own
        # insert, so both take the row first (the other order deadlocked), and the one that
        # comes second finds the stream moved on (WrongExpectedVersion: looked at again).
        ended = [
            (events[i].tenant_id, getattr(events[i].data, "memory_id", ""))
            for i in kept
            if events[i].event_type == "memory.deleted"
            and not getattr(events[i].data, "replaced_by", None)
        ]
        await self.keyring.shred_memories(conn, ended)
        ids = [e.event_id for e in events]
        rows = await conn.fetch(
            _INSERT,
            stream_id,
            [ids[i] for i in kept],
            [current + 1 + n for n in range(len(kept))],
            [events[i].event_type for i in kept],
            [events[i].tenant_id for i in kept],
            data,
            [encode_metadata(events[i]) for i in kept],
            [events[i].occurred_at for i in kept],
        )
        return rows, keys

    async def append_first_events(
        self, items: Sequence[tuple[str, NewEvent]], sent_at: Sequence[int] | None = None
    ) -> list[Envelope]:
        """Append each event as the first of its own stream, all in one statement; an event
        whose stream exists already (or whose id is stored) is skipped, not an error. Returns
        the events that were written. For many new streams at once (one memory each).
        `sent_at`: as for `append`."""
        if not items:
            return []
        events = [event for _, event in items]
        async with self._pool.acquire() as conn, conn.transaction():
            held: dict[tuple[str, str], tuple[str, bytes]] = {}
            await self._hold_subjects(conn, events, held)
            kept = await self._not_forgotten(conn, events, sent_at)
            if not kept:
                return []
            data, keys = await self._encode(conn, [events[i] for i in kept], held)
            rows = await conn.fetch(
                _INSERT_FIRST,
                [items[i][0] for i in kept],
                [events[i].event_id for i in kept],
                [events[i].event_type for i in kept],
                [events[i].tenant_id for i in kept],
                data,
                [encode_metadata(events[i]) for i in kept],
                [events[i].occurred_at for i in kept],
            )
            in_time()
        return rows_to_envelopes(rows, keys)

    async def _encode(
        self,
        conn: Any,
        events: Sequence[NewEvent],
        held: dict[tuple[str, str], tuple[str, bytes]],
        lineage: tuple[str, bytes] | None = None,
    ) -> tuple[list[str], dict[str, bytes]]:
        """Each event's stored data: sealed when it carries content, a memory's recording
        with the memory's own key (`lineage`: the key of the memory it revises), anything
        else with its subject's key. `held`: the keys this transaction holds, by subject
        (`_hold_subjects`: before the memories' keys are made, in one statement for the
        batch, and only for the events written)."""
        sealed = _sealed(events)
        await self._hold_subjects(conn, events, held)
        own = await self.keyring.memory_keys(
            conn,
            [
                (event.tenant_id, getattr(event.data, "memory_id", ""), user_id)
                for event, user_id in sealed
                if event.event_type == "memory.recorded"
            ],
            lineage,
        )
        data: list[str] = []
        keys: dict[str, bytes] = {}
        for event in events:
            plain = encode_data(event)
            user_id = getattr(event.data, "user_id", None)
            if event.event_type in SEALED_TYPES and user_id:
                memory = (event.tenant_id, getattr(event.data, "memory_id", ""))
                own_key = own.get(memory) if event.event_type == "memory.recorded" else None
                # What a memory says beyond its recording (facts, entities, packs) may be
                # said by others too: under the subject's key.
                key_id, key = own_key or held[(event.tenant_id, user_id)]
                keys[key_id] = key
                session_id = getattr(event.data, "session_id", None)
                clear = None
                if session_id:
                    tag = session_tag(self._mark_secret, event.tenant_id, session_id)
                    clear = {"session_tag": tag}
                data.append(seal(plain, event.event_id, key_id, key, clear))
            else:
                data.append(plain.decode())
        return data, keys

    async def _hold_subjects(
        self,
        conn: Any,
        events: Sequence[NewEvent],
        held: dict[tuple[str, str], tuple[str, bytes]],
    ) -> None:
        """Take (and hold to the commit) the key of each subject whose content these events
        carry, once each: a forget of one waits for this transaction, or came before."""
        for event, user_id in _sealed(events):
            await self._key(conn, held, event.tenant_id, user_id)

    async def _not_forgotten(
        self, conn: Any, events: Sequence[NewEvent], sent_at: Sequence[int] | None
    ) -> list[int]:
        """The indexes of `events` to write: all but those recording a command sent before
        their subject's last forget. After `_hold_subjects`, which took the subjects' keys: a
        forget either waits for this transaction or was committed before this read."""
        if sent_at is None:
            return list(range(len(events)))
        subjects = [(e.tenant_id, getattr(e.data, "user_id", None) or "") for e in events]
        marks = await self.keyring.forgotten_through(conn, (s for s in subjects if s[1]))
        agents = [(e.tenant_id, getattr(e.data, "agent_id", None) or "") for e in events]
        named = {a for a in agents if a[1]}
        # An agent's deletion (`retire_agent`) waits for this transaction, or was committed
        # before the read below: it then finds what this one records in the log.
        if named:
            await conn.execute(
                "SELECT pg_advisory_xact_lock_shared(hashtextextended(k, 0))"
                " FROM unnest($1::text[]) AS k",
                [_agent_lock(*a) for a in sorted(named)],
            )
        retired, cleared = await _agent_marks(conn, named)
        scoped = await self._scope_marks(conn, events, sent_at)
        kept = []
        for index, (subject, agent, sequence) in enumerate(
            zip(subjects, agents, sent_at, strict=True)
        ):
            mark = marks.get(subject)
            if mark is not None and sequence <= mark:
                log.info("forgotten_before_recorded", event_type=events[index].event_type)
                continue
            if sequence <= retired.get(agent, 0):
                # Accepted before its agent was deleted: it went with the agent.
                log.info("agent_deleted_before_recorded", event_type=events[index].event_type)
                continue
            scopes = (cleared.get((*agent, "")), cleared.get((*agent, subject[1])))
            if sequence <= max(m or 0 for m in scopes):
                # Accepted before its agent's memories (of its user) were deleted: with them.
                kind = events[index].event_type
                log.info("agent_memories_deleted_before_recorded", event_type=kind)
                continue
            if self._in_marked_scope(events[index], sequence, scoped):
                # Accepted before the memories of its scope (a run, an app...) were deleted.
                log.info("scope_deleted_before_recorded", event_type=events[index].event_type)
                continue
            kept.append(index)
        return kept

    async def _scope_marks(
        self, conn: Any, events: Sequence[NewEvent], sent_at: Sequence[int]
    ) -> list[Any]:
        """The scope marks (mnemo.scope_marks) that may drop some of these memories: of
        their tenants, made after the oldest of their commands was sent. Read under each
        tenant's scope lock, shared: a scope's deletion (`mark_scope`) waits for this
        transaction, or was committed before the read."""
        tenants = sorted({e.tenant_id for e in events if e.event_type == "memory.recorded"})
        if not tenants:
            return []
        await conn.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended(k, 0))"
            " FROM unnest($1::text[]) AS k",
            [_scope_lock(t) for t in tenants],
        )
        return list(
            await conn.fetch(
                """SELECT tenant_id, user_id, agent_id, session_tag, digest,
                          paths::text AS paths, commands_through
                   FROM mnemo.scope_marks
                   WHERE tenant_id = ANY($1::text[]) AND commands_through >= $2""",
                tenants,
                min(sent_at),
            )
        )

    def _in_marked_scope(self, event: NewEvent, sequence: int, marks: list[Any]) -> bool:
        """Whether a mark covers the memory this event records, sent at `sequence`."""
        if event.event_type != "memory.recorded":
            return False
        data = event.data
        for mark in marks:
            if mark["tenant_id"] != event.tenant_id or sequence > mark["commands_through"]:
                continue
            named = (mark["user_id"], mark["agent_id"], mark["session_tag"])
            session_id = getattr(data, "session_id", None)
            held = (
                getattr(data, "user_id", None),
                getattr(data, "agent_id", None),
                session_id and session_tag(self._mark_secret, event.tenant_id, session_id),
            )
            if any(want and want != have for want, have in zip(named, held, strict=True)):
                continue
            if not mark["digest"]:
                return True
            metadata = getattr(data, "metadata", None) or {}
            paths = [tuple(path) for path in _json_list(mark["paths"])]
            values = [(path, value_at(metadata, path)) for path in paths]
            if values_digest(self._mark_secret, event.tenant_id, values) == mark["digest"]:
                return True
        return False

    async def _key(
        self,
        conn: Any,
        held: dict[tuple[str, str], tuple[str, bytes]],
        tenant_id: str,
        user_id: str,
    ) -> tuple[str, bytes]:
        subject = (tenant_id, user_id)
        if subject not in held:
            held[subject] = await self.keyring.key_for(conn, tenant_id, user_id)
        return held[subject]

    async def _hold_key(
        self,
        conn: Any,
        events: Sequence[NewEvent],
        key_id: str,
        stream_id: str,
        held: dict[tuple[str, str], tuple[str, bytes]],
    ) -> tuple[str, bytes] | None:
        """Hold the key `key_id` the caller read under for this transaction, or
        SubjectKeyChanged if it is gone: a memory's key (shredded by the memory's deletion,
        or by a forget), returned for the revision's new version to be sealed with; or,
        for a memory recorded before memories had keys of their own, its subject's key,
        which must still be the subject's (whether or not the events carry content)."""
        subject = next(
            ((e.tenant_id, u) for e in events if (u := getattr(e.data, "user_id", None))), None
        )
        if subject is None:
            return None
        # The subject's key first, then the memory's: the order a forget deletes them in.
        holding, _ = await self._key(conn, held, *subject)
        lineage = await self.keyring.lineage(conn, key_id)
        if lineage is not None:
            return lineage
        if holding != key_id or any(k != key_id for k, _ in held.values()):
            raise SubjectKeyChanged(stream_id)
        return None

    async def _open(self, conn: Any, rows: list[Any]) -> list[Envelope]:
        return rows_to_envelopes(rows, await self.keyring.keys(conn, key_ids(rows)))

    async def _stored(self, conn: Any, ids: list[str]) -> list[Envelope] | None:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM mnemo.events WHERE event_id = ANY($1::uuid[])"
            " ORDER BY global_position",
            ids,
        )
        if not rows:
            return None
        if len(rows) != len(ids):
            raise IdempotencyConflict(
                f"{len(rows)} of {len(ids)} event ids are already stored; a retry must "
                "resend the same batch"
            )
        # A forgotten subject's events stay stored but unreadable: they come back empty.
        return await self._open(conn, rows)

    async def read_all(self, after: int = 0, limit: int = 1000) -> tuple[list[Envelope], int]:
        """Readable events with global_position > `after`, in position order, and the last
        position read (forgotten events are skipped, so it can lie past the last envelope)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM mnemo.events WHERE global_position > $1"
                " ORDER BY global_position LIMIT $2",
                after,
                limit,
            )
            last = rows[-1]["global_position"] if rows else after
            return await self._open(conn, rows), last

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version (-1: no stream), its unreadable events counted."""
        async with self._pool.acquire() as conn:
            return (await self._versions(conn, [stream_id]))[stream_id]

    async def read_stream(self, stream_id: str, after_version: int = -1) -> list[Envelope]:
        """The stream's readable events in order (those after `after_version`)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM mnemo.events WHERE stream_id = $1"
                " AND stream_version > $2 ORDER BY stream_version",
                stream_id,
                after_version,
            )
            return await self._open(conn, rows)

    async def read_types(self, event_types: Sequence[str]) -> list[Envelope]:
        """Every readable event of these types, in position order (for small projections
        that rebuild from the log when their service starts)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM mnemo.events WHERE event_type = ANY($1::text[])"
                " ORDER BY global_position",
                list(event_types),
            )
            return await self._open(conn, rows)

    async def get(self, event_id: str) -> Envelope | None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM mnemo.events WHERE event_id = $1::uuid", event_id
            )
            found = await self._open(conn, rows)
        return found[0] if found else None

    async def sealed_key(self, event_id: str) -> str | None:
        """The id of the key that sealed the stored event (None: not sealed, or not
        stored), for an append that must be sealed under that same key (`sealed_with`)."""
        found = await self._pool.fetchval(
            "SELECT data->'sealed'->>'key_id' FROM mnemo.events WHERE event_id = $1::uuid",
            event_id,
        )
        return None if found is None else str(found)

    async def unreadable(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` stored sealed under a key a forget has shredded: an event
        that a projection receives late (from the bus, in clear) must not be projected
        after its subject was forgotten. Ids not stored are not among them."""
        if not event_ids:
            return set()
        rows = await self._pool.fetch(
            """SELECT e.event_id::text AS event_id FROM mnemo.events e
               WHERE e.event_id = ANY($1::uuid[]) AND e.data ? 'sealed'
                 AND NOT EXISTS (SELECT 1 FROM mnemo.data_keys k
                                 WHERE k.key_id = (e.data->'sealed'->>'key_id')::uuid)""",
            list(event_ids),
        )
        return {r["event_id"] for r in rows}

    async def recorded_before(self, stream_id: str, version: int) -> datetime | None:
        """When the recording of a memory that an event at `version` of its stream follows
        was recorded (its `memory.recorded` last before it); None without one."""
        return await self._pool.fetchval(  # type: ignore[no-any-return]
            """SELECT recorded_at FROM mnemo.events
               WHERE stream_id = $1 AND stream_version < $2 AND event_type = 'memory.recorded'
               ORDER BY stream_version DESC LIMIT 1""",
            stream_id,
            version,
        )

    async def deleted_since(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` (memory recordings) whose memory was deleted after them in
        its stream: a projection that receives one late must not draw anything from it
        (facts read from a memory deleted meanwhile would appear after its deletion)."""
        if not event_ids:
            return set()
        rows = await self._pool.fetch(
            """SELECT e.event_id::text AS event_id FROM mnemo.events e
               WHERE e.event_id = ANY($1::uuid[])
                 AND EXISTS (SELECT 1 FROM mnemo.events d
                             WHERE d.stream_id = e.stream_id
                               AND d.stream_version > e.stream_version
                               AND d.event_type = 'memory.deleted')""",
            list(event_ids),
        )
        return {r["event_id"] for r in rows}

    async def ended(self, event_ids: Sequence[str]) -> Ended:
        """What has become, in the log, of those of `event_ids` (memory recordings) that a
        projection receiving them late (a backlog) must not project: sealed under a key a
        forget has shredded, or their memory deleted after them in its stream (revised
        too). For one revised, the event recording its next version, when the revision
        appended it with the deletion (in one transaction, as it does). One round trip:
        each id's event by its key, then the rest of its (short) stream by the stream's."""
        if not event_ids:
            return Ended(set(), set(), {})
        rows = await self._pool.fetch(
            """SELECT event_id, forgotten, deleted, successor FROM (
                 SELECT e.event_id::text AS event_id,
                        e.data ? 'sealed'
                          AND NOT EXISTS (SELECT 1 FROM mnemo.data_keys k
                                          WHERE k.key_id = (e.data->'sealed'->>'key_id')::uuid)
                          AS forgotten,
                        d.transaction_id IS NOT NULL AS deleted,
                        s.event_id::text AS successor
                 FROM mnemo.events e
                 LEFT JOIN LATERAL (
                   SELECT d.transaction_id, d.data->>'replaced_by' AS replaced_by
                   FROM mnemo.events d
                   WHERE d.stream_id = e.stream_id AND d.stream_version > e.stream_version
                     AND d.event_type = 'memory.deleted'
                   ORDER BY d.stream_version LIMIT 1) d ON true
                 LEFT JOIN LATERAL (
                   SELECT s.event_id FROM mnemo.events s
                   WHERE s.transaction_id = d.transaction_id AND s.tenant_id = e.tenant_id
                     AND s.event_type = 'memory.recorded'
                     AND s.data->>'memory_id' = d.replaced_by
                   ORDER BY s.global_position LIMIT 1) s ON d.replaced_by IS NOT NULL
                 WHERE e.event_id = ANY($1::uuid[])) found
               WHERE forgotten OR deleted""",
            list(event_ids),
        )
        return Ended(
            forgotten={r["event_id"] for r in rows if r["forgotten"]},
            deleted={r["event_id"] for r in rows if r["deleted"] and not r["forgotten"]},
            successors={
                r["event_id"]: r["successor"]
                for r in rows
                if r["successor"] is not None and not r["forgotten"]
            },
        )

    async def read_events(self, event_ids: Sequence[str]) -> list[Envelope]:
        """The readable events of `event_ids` that are stored, in position order."""
        if not event_ids:
            return []
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM mnemo.events WHERE event_id = ANY($1::uuid[])"
                " ORDER BY global_position",
                list(event_ids),
            )
            return await self._open(conn, rows)

    async def align_command_stream(self, created_at: datetime) -> bool:
        """Say which command stream is live (when JetStream made it); True when it is not
        the one the forget marks count in (made anew): the marks are then cleared, since
        the commands they stood for went with the old stream (0004_command_stream.sql)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO mnemo.command_stream (created_at) VALUES ($1)
                   ON CONFLICT (singleton) DO NOTHING""",
                created_at,
            )
            known = await conn.fetchval("SELECT created_at FROM mnemo.command_stream FOR UPDATE")
            if known == created_at:
                return False
            cleared = await conn.execute(
                "UPDATE mnemo.forgotten_subjects SET commands_through = 0"
                " WHERE commands_through > 0"
            )
            await conn.execute(
                "UPDATE mnemo.retired_agents SET commands_through = 0 WHERE commands_through > 0"
            )
            await conn.execute(
                "UPDATE mnemo.deleted_memories SET commands_through = 0 WHERE commands_through > 0"
            )
            await conn.execute(
                "UPDATE mnemo.cleared_scopes SET commands_through = 0 WHERE commands_through > 0"
            )
            await conn.execute(
                "UPDATE mnemo.scope_marks SET commands_through = 0 WHERE commands_through > 0"
            )
            await conn.execute("UPDATE mnemo.command_stream SET created_at = $1", created_at)
        log.warning("command_stream_made_anew", marks_cleared=cleared.split()[-1])
        return True

    async def retire_agent(
        self,
        tenant_id: str,
        agent_id: str,
        commands_through: int,
        deleted_at: datetime | None = None,
    ) -> None:
        """Mark the agent deleted as of `commands_through` (the command stream's last
        sequence when its deletion was decided): a memory command of it sent until then and
        recorded later is dropped (`_not_forgotten`), even once the id is an agent again.
        Waits for the appends recording its memories that read the marks before this: once
        it returns, each is in the log (for `agent_memories` to find) or will be dropped.
        The agent is left to sweep (`unswept_agents`) until `agent_swept`. `deleted_at`:
        when its deletion was recorded, for a mark made late (`unretired_agents`); else
        now."""
        async with self._pool.acquire() as conn, conn.transaction():
            await _hold_agent(conn, tenant_id, agent_id)
            await conn.execute(
                """INSERT INTO mnemo.retired_agents
                     (tenant_id, agent_id, commands_through, swept, retired_at)
                   VALUES ($1, $2, $3, false, coalesce($4, now()))
                   ON CONFLICT (tenant_id, agent_id) DO UPDATE SET
                     commands_through = GREATEST(mnemo.retired_agents.commands_through,
                                                 excluded.commands_through),
                     retired_at = excluded.retired_at,
                     swept = false""",
                tenant_id,
                agent_id,
                commands_through,
                deleted_at,
            )

    async def retired_at(self, agents: set[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When each of these (tenant, agent) was last deleted, for those deleted."""
        async with self._pool.acquire() as conn:
            rows = await _agent_rows(conn, "mnemo.retired_agents", "retired_at", agents)
        return {(r["tenant_id"], r["agent_id"]): r["retired_at"] for r in rows}

    async def clear_scope(
        self, tenant_id: str, agent_id: str, user_id: str | None, commands_through: int
    ) -> None:
        """Mark every memory of the agent (of `user_id`, or of every user) deleted as of
        `commands_through`: a command of it sent until then and recorded later is dropped
        (`_not_forgotten`). Waits for the appends of the agent's memories that read the
        marks before this (as `retire_agent`), so a sweep of the log after it finds them."""
        async with self._pool.acquire() as conn, conn.transaction():
            await _hold_agent(conn, tenant_id, agent_id)
            await conn.execute(
                """INSERT INTO mnemo.cleared_scopes
                     (tenant_id, agent_id, user_id, commands_through)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (tenant_id, agent_id, user_id) DO UPDATE SET
                     commands_through = GREATEST(mnemo.cleared_scopes.commands_through,
                                                 excluded.commands_through)""",
                tenant_id,
                agent_id,
                user_id or "",
                commands_through,
            )
            in_time()  # a deletion answered 5xx drops no command later

    async def mark_scope(self, scope: MemoryScope, commands_through: int) -> None:
        """Mark every memory of the scope deleted as of `commands_through`: a command of it
        sent until then and recorded later is dropped (`_not_forgotten`). Waits for the
        appends of the tenant's memories that read the marks before this, so that a look
        in the log after it (`scope_memories`) finds them."""
        async with self._pool.acquire() as conn, conn.transaction():
            await _hold_exclusive(conn, _scope_lock(scope.tenant_id))
            await conn.execute(
                """INSERT INTO mnemo.scope_marks
                     (tenant_id, user_id, agent_id, session_tag, digest, paths,
                      commands_through)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
                   ON CONFLICT (tenant_id, user_id, agent_id, session_tag, digest) DO UPDATE
                   SET commands_through = GREATEST(mnemo.scope_marks.commands_through,
                                                   excluded.commands_through)""",
                scope.tenant_id,
                scope.user_id or "",
                scope.agent_id or "",
                self._session_tag(scope),
                scope.digest(self._mark_secret),
                _JSON.encode(scope.paths).decode(),
                commands_through,
            )
            in_time()  # a deletion answered 5xx drops no command later

    def _session_tag(self, scope: MemoryScope) -> str:
        """The scope's session as the log keeps it in clear ('' when it names none)."""
        if scope.session_id is None:
            return ""
        return session_tag(self._mark_secret, scope.tenant_id, scope.session_id)

    async def scope_memories(
        self, scope: MemoryScope, *, after: int = 0, limit: int = 100
    ) -> tuple[list[Envelope], int, bool]:
        """A page of up to `limit` of the `memory.recorded` events of the memories the log
        holds in the user, agent and session the scope names (at least one), after log
        position `after`, first recorded first, that are neither deleted nor unreadable,
        opened (one whose key goes meanwhile is left out); the position the page reached
        and whether more follow, counted on the rows read (not on those opened). Whether
        their metadata is the scope's is for the caller to see (`MemoryScope.holds`). Only
        memories whose agent or session tag is in clear are found by it."""
        named = [
            (column, value)
            for column, value in (
                ("user_id", scope.user_id),
                ("agent_id", scope.agent_id),
                ("session_tag", self._session_tag(scope) or None),
            )
            if value is not None
        ]
        if not named:
            raise ValueError("a scope names a user, an agent or a session")
        # Only the conditions named: each then uses its index.
        where = " AND ".join(
            f"r.data->>'{column}' = ${n}" for n, (column, _) in enumerate(named, start=4)
        )
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {COLUMNS} FROM mnemo.events r
                    WHERE r.tenant_id = $1 AND r.event_type = 'memory.recorded'
                      AND r.global_position > $2 AND {where}
                      AND NOT EXISTS (
                          SELECT 1 FROM mnemo.events d
                          WHERE d.stream_id = r.stream_id
                            AND d.stream_version > r.stream_version
                            AND d.event_type = 'memory.deleted')
                      AND (NOT r.data ? 'sealed' OR EXISTS (
                          SELECT 1 FROM mnemo.data_keys k
                          WHERE k.key_id = (r.data->'sealed'->>'key_id')::uuid))
                    ORDER BY r.global_position
                    LIMIT $3""",
                scope.tenant_id,
                after,
                limit + 1,
                *[value for _, value in named],
            )
            page = list(rows[:limit])
            reached = page[-1]["global_position"] if page else after
            return await self._open(conn, page), reached, len(rows) > limit

    async def agent_swept(self, tenant_id: str, agent_id: str) -> None:
        """The memories the agent had when it was deleted are all deleted."""
        await self._pool.execute(
            "UPDATE mnemo.retired_agents SET swept = true WHERE tenant_id = $1 AND agent_id = $2",
            tenant_id,
            agent_id,
        )

    async def unretired_agents(self, settled: float = 60.0) -> list[tuple[str, str, datetime]]:
        """Agents whose last deletion, recorded over `settled` seconds ago, has no mark
        (`retire_agent`) as late as it: PostgreSQL failed between the deletion's commit
        and its mark, so neither its late commands are dropped nor its memories swept.
        With when each deletion was recorded."""
        rows = await self._pool.fetch(
            """SELECT d.tenant_id, d.agent_id, d.deleted_at FROM (
                   SELECT tenant_id, data->>'agent_id' AS agent_id,
                          max(recorded_at) AS deleted_at
                   FROM mnemo.events
                   WHERE event_type = 'agent.deleted'
                   GROUP BY tenant_id, data->>'agent_id') d
               WHERE d.deleted_at < now() - make_interval(secs => $1)
                 AND NOT EXISTS (
                   SELECT 1 FROM mnemo.retired_agents r
                   WHERE r.tenant_id = d.tenant_id AND r.agent_id = d.agent_id
                     AND r.retired_at >= d.deleted_at)""",
            settled,
        )
        return [(r["tenant_id"], r["agent_id"], r["deleted_at"]) for r in rows]

    async def unswept_agents(self) -> list[tuple[str, str]]:
        """Deleted agents whose memories are not all deleted yet (a deletion cut short)."""
        rows = await self._pool.fetch(
            "SELECT tenant_id, agent_id FROM mnemo.retired_agents WHERE NOT swept"
        )
        return [(r["tenant_id"], r["agent_id"]) for r in rows]

    async def agent_memories(
        self,
        tenant_id: str,
        agent_id: str,
        *,
        user_id: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[str]:
        """The ids of the agent's memories that the log holds and that are neither deleted
        nor unreadable (their subject forgotten), first recorded first; with `user_id`, of
        that user only; with `before`, recorded before that log position. Only memories
        whose agent is in clear (0006_agent_memories.sql) are found."""
        rows = await self._pool.fetch(
            """SELECT r.data->>'memory_id' AS memory_id FROM mnemo.events r
               WHERE r.tenant_id = $1 AND r.event_type = 'memory.recorded'
                 AND r.data->>'agent_id' = $2
                 AND ($3::text IS NULL OR r.data->>'user_id' = $3)
                 AND ($4::bigint IS NULL OR r.global_position < $4)
                 AND NOT EXISTS (
                     SELECT 1 FROM mnemo.events d
                     WHERE d.stream_id = r.stream_id AND d.stream_version > r.stream_version
                       AND d.event_type = 'memory.deleted')
                 AND (NOT r.data ? 'sealed' OR EXISTS (
                     SELECT 1 FROM mnemo.data_keys k
                     WHERE k.key_id = (r.data->'sealed'->>'key_id')::uuid))
               ORDER BY r.global_position
               LIMIT $5""",
            tenant_id,
            agent_id,
            user_id,
            before,
            limit,
        )
        return [r["memory_id"] for r in rows]

    async def mark_deleted(
        self, tenant_id: str, memory_ids: Sequence[str], commands_through: int
    ) -> None:
        """Mark the memories deleted as of `commands_through` (the command stream's last
        sequence when the deletion was decided): a command naming one of them sent until
        then and recorded later does not bring it back (`deleted_through`)."""
        await self._pool.execute(
            """INSERT INTO mnemo.deleted_memories (tenant_id, memory_id, commands_through)
               SELECT $1, m, $3 FROM unnest($2::text[]) AS m
               ON CONFLICT (tenant_id, memory_id) DO UPDATE SET
                 commands_through = GREATEST(mnemo.deleted_memories.commands_through,
                                             excluded.commands_through)""",
            tenant_id,
            list(memory_ids),
            commands_through,
        )

    async def erased_recording(self, stream_id: str) -> tuple[int, datetime, datetime, str] | None:
        """Of a memory stream whose last recording cannot be read (its key shredded): that
        recording's stream version, when it happened and was recorded, and by whom (kept in
        clear beside the sealed words); None when the stream has no recording."""
        row = await self._pool.fetchrow(
            """SELECT stream_version, occurred_at, recorded_at, metadata FROM mnemo.events
               WHERE stream_id = $1 AND event_type = 'memory.recorded'
               ORDER BY stream_version DESC LIMIT 1""",
            stream_id,
        )
        if row is None:
            return None
        actor = msgspec.json.decode(row["metadata"]).get("actor", "")
        return row["stream_version"], row["occurred_at"], row["recorded_at"], actor

    async def forgotten_since(self, tenant_id: str, user_id: str, at: datetime) -> bool:
        """Whether the subject was forgotten at or after `at`."""
        found = await self._pool.fetchval(
            "SELECT 1 FROM mnemo.forgotten_subjects"
            " WHERE tenant_id = $1 AND user_id = $2 AND forgotten_at >= $3",
            tenant_id,
            user_id,
            at,
        )
        return found is not None

    async def earlier_versions(self, tenant_id: str, user_id: str, memory_id: str) -> list[str]:
        """The ids of the versions the memory was revised from (Mem0's update), nearest
        first, as the revisions' deletions in the log name them (`replaced_by`, in clear)."""
        rows = await self._pool.fetch(
            """WITH RECURSIVE chain(memory_id, depth) AS (
                   SELECT $3::text, 0
                   UNION
                   SELECT e.data->>'memory_id', c.depth + 1
                   FROM chain c JOIN mnemo.events e
                     ON e.tenant_id = $1 AND e.data->>'user_id' = $2
                    AND e.event_type = 'memory.deleted' AND e.data->>'replaced_by' = c.memory_id
                   WHERE c.depth < 1000)
               SELECT memory_id FROM chain WHERE depth > 0 ORDER BY depth""",
            tenant_id,
            user_id,
            memory_id,
        )
        return [r["memory_id"] for r in rows]

    async def deleted_through(self, tenant_id: str, memory_id: str) -> int:
        """The memory's deletion mark in the command stream (0: none)."""
        value = await self._pool.fetchval(
            """SELECT commands_through FROM mnemo.deleted_memories
               WHERE tenant_id = $1 AND memory_id = $2""",
            tenant_id,
            memory_id,
        )
        return int(value or 0)

    async def retired_through(self, agents: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Each (tenant, agent)'s deletion mark in the command stream, for those deleted."""
        async with self._pool.acquire() as conn:
            return await _retired_through(conn, agents)

    async def forget_subject(
        self, tenant_id: str, user_id: str, commands_through: int = 0
    ) -> dict[str, int]:
        """Shred the subject's keys; return how many of its sealed events that silenced.
        `commands_through`: the command stream's last sequence when the forget began; what
        a command up to it would record, if it comes later, is dropped (`append`)."""
        async with self._pool.acquire() as conn, conn.transaction():
            return (await self._shred(conn, tenant_id, user_id, commands_through))[0]

    async def forget_and_record(
        self,
        tenant_id: str,
        user_id: str,
        commands_through: int,
        stream_id: str,
        record: Callable[[dict[str, int], int], NewEvent],
    ) -> tuple[dict[str, int], Envelope]:
        """`forget_subject` and, in the same transaction, the event that says so (made by
        `record` from what was silenced and how many keys were shredded, appended to
        `stream_id`): a failure leaves the
        subject as it was, never shredded with no event to tell the read models. A retry
        whose event is stored already answers what it stored."""
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    removed, shredded = await self._shred(
                        conn, tenant_id, user_id, commands_through
                    )
                    event = record(removed, shredded)
                    current = await self._versions(conn, [stream_id])
                    rows, keys = await self._write(
                        conn, stream_id, [event], ANY, current[stream_id], None, {}
                    )
                    in_time()  # a forget its asker gave up on is not done later
            except asyncpg.UniqueViolationError:
                stored = await self._stored(conn, [event.event_id])
                if stored is None:
                    raise
                [done] = stored
                return getattr(done.data, "removed", {}), done
        [done] = rows_to_envelopes(rows, keys)
        return removed, done

    async def _shred(
        self, conn: Any, tenant_id: str, user_id: str, commands_through: int
    ) -> tuple[dict[str, int], int]:
        """`forget_subject` within the caller's transaction: the events silenced, by type,
        and how many keys were shredded. Counted after the keys are deleted (a statement
        of its own, so it sees an append the deletion waited for: one in flight under an
        existing key holds its row, not the subject's lock)."""
        key_ids = await self.keyring.shred(conn, tenant_id, user_id, commands_through)
        if not key_ids:
            return {}, 0
        counts = await conn.fetch(
            """SELECT event_type, count(*) AS n FROM mnemo.events
               WHERE tenant_id = $1 AND data->>'user_id' = $2 AND data ? 'sealed'
                 AND data->'sealed'->>'key_id' = ANY($3::text[])
               GROUP BY event_type""",
            tenant_id,
            user_id,
            key_ids,
        )
        return {r["event_type"]: r["n"] for r in counts}, len(key_ids)

    async def head(self) -> int:
        """The highest global position written so far (0 for an empty log)."""
        value = await self._pool.fetchval(
            "SELECT coalesce(max(global_position), 0) FROM mnemo.events"
        )
        return int(value)


def _sealed(events: Sequence[NewEvent]) -> list[tuple[NewEvent, str]]:
    """The events to seal (they carry what someone said), each with its subject."""
    return [
        (event, user_id)
        for event in events
        if event.event_type in SEALED_TYPES and (user_id := getattr(event.data, "user_id", None))
    ]


async def _agent_marks(
    conn: Any, agents: set[tuple[str, str]]
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str, str], int]]:
    """These agents' deletion marks (mnemo.retired_agents) and their memories' deletion
    marks, of one user or of all ('': mnemo.cleared_scopes), in one round trip."""
    if not agents:
        return {}, {}
    tenants, ids = zip(*sorted(agents), strict=True)
    rows = await conn.fetch(
        """WITH a AS (SELECT * FROM unnest($1::text[], $2::text[]) AS a(tenant_id, agent_id))
           SELECT NULL AS user_id, r.tenant_id, r.agent_id, r.commands_through
             FROM mnemo.retired_agents r JOIN a USING (tenant_id, agent_id)
           UNION ALL
           SELECT c.user_id, c.tenant_id, c.agent_id, c.commands_through
             FROM mnemo.cleared_scopes c JOIN a USING (tenant_id, agent_id)""",
        list(tenants),
        list(ids),
    )
    retired = {
        (r["tenant_id"], r["agent_id"]): r["commands_through"] for r in rows if r["user_id"] is None
    }
    cleared = {
        (r["tenant_id"], r["agent_id"], r["user_id"]): r["commands_through"]
        for r in rows
        if r["user_id"] is not None
    }
    return retired, cleared


async def _agent_rows(conn: Any, table: str, columns: str, agents: set[tuple[str, str]]) -> Any:
    """`table`'s rows (tenant_id, agent_id and `columns`) of these (tenant, agent) pairs."""
    if not agents:
        return []
    tenants, ids = zip(*sorted(agents), strict=True)
    return await conn.fetch(
        f"""SELECT r.tenant_id, r.agent_id, {columns} FROM {table} r
            JOIN unnest($1::text[], $2::text[]) AS a(tenant_id, agent_id)
              ON r.tenant_id = a.tenant_id AND r.agent_id = a.agent_id""",
        list(tenants),
        list(ids),
    )


async def _hold_agent(conn: Any, tenant_id: str, agent_id: str) -> None:
    """Hold the agent's lock until the transaction ends: an append of its memories
    (`_not_forgotten`, which shares it) waits, or has committed."""
    await _hold_exclusive(conn, _agent_lock(tenant_id, agent_id))


async def _hold_exclusive(conn: Any, lock: str) -> None:
    """Take the advisory lock `lock` for the transaction. While it waits, every append
    asking for it shared queues behind it (PostgreSQL's lock queue): within a query, the
    wait ends with the asker's patience (`AnswerTooLate`, nothing done), not whenever the
    append it waits for ends."""
    by = ANSWER_BY.get()
    if by is not None:
        left_ms = max(50, int((by - time.monotonic()) * 1000))
        await conn.execute(f"SET LOCAL lock_timeout = {left_ms}")
    try:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock)
    except asyncpg.exceptions.LockNotAvailableError:
        raise AnswerTooLate from None
    if by is not None:
        await conn.execute("SET LOCAL lock_timeout TO DEFAULT")  # the operator's, if any


_JSON = msgspec.json.Encoder()
_PATHS = msgspec.json.Decoder(list[list[str]])


def _json_list(text: str) -> list[list[str]]:
    return _PATHS.decode(text)


def _scope_lock(tenant_id: str) -> str:
    """The advisory lock a scope's deletion mark and the appends of the tenant's memories
    share."""
    return f"mnemo.scope\x1f{tenant_id}"


def _agent_lock(tenant_id: str, agent_id: str) -> str:
    """The advisory lock an agent's deletion and the appends of its memories share."""
    return f"mnemo.agent\x1f{tenant_id}\x1f{agent_id}"


async def _retired_through(conn: Any, agents: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each deleted agent's mark in the command stream (mnemo.retired_agents)."""
    rows = await _agent_rows(conn, "mnemo.retired_agents", "commands_through", agents)
    return {(r["tenant_id"], r["agent_id"]): r["commands_through"] for r in rows}
