"""Data keys: per subject (created on first use, shredded on forget) and per memory
(created with the memory's recording, shredded with its deletion, and with its subject on
forget); looked up in bulk.

A forget also leaves a mark (`mnemo.forgotten_subjects`): how far the command stream had
come. An append that records a command at or below the mark is of something said before
the forget, and is dropped (`forgotten_through`), whenever it arrives. Creating a key and
shredding one take the subject's advisory lock, so that a first key made by an append in
flight is either shredded by the forget or made after it, when the mark is there to see.
"""

import os
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from mnemo.telemetry import get_logger

log = get_logger(__name__)

KEY_BYTES = 32  # AES-256

# FOR KEY SHARE conflicts with the DELETE of a forget, and with nothing an append does.
_CURRENT = """
SELECT key_id::text AS key_id, key FROM mnemo.subject_keys
WHERE tenant_id = $1 AND user_id = $2
FOR KEY SHARE
"""

# The first key of a subject; two appends creating it at once agree on the one that won.
_CREATE = """
INSERT INTO mnemo.subject_keys (key_id, tenant_id, user_id, key)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id
RETURNING key_id::text AS key_id, key
"""

# One lock per subject, held to the end of the transaction.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))"

_MARK = """
INSERT INTO mnemo.forgotten_subjects AS f (tenant_id, user_id, commands_through)
VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
    commands_through = greatest(f.commands_through, EXCLUDED.commands_through),
    forgotten_at = now()
"""


# A memory's own key, made with its recording, or the one it already has (a command sent
# again): one statement for a whole batch. A version of a memory revised into another takes
# its predecessor's key (the key_id and key passed in), so the versions go together.
_MEMORY_KEYS = """
INSERT INTO mnemo.memory_keys AS m (tenant_id, memory_id, key_id, user_id, key)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::bytea[])
ON CONFLICT (tenant_id, memory_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id
RETURNING m.tenant_id, m.memory_id, m.key_id::text AS key_id, m.key
"""

# The key of the memory's versions, found by one of its rows; the DELETE of its row waits for
# the caller's transaction, as a forget's DELETE of a subject key does.
_LINEAGE = """
SELECT key_id::text AS key_id, key FROM mnemo.memory_keys WHERE key_id = $1::uuid
LIMIT 1 FOR KEY SHARE
"""

# Every version's row of the memory's key (they share one key_id).
_SHRED_MEMORIES = """
DELETE FROM mnemo.memory_keys
WHERE key_id IN (
    SELECT key_id FROM mnemo.memory_keys
    WHERE (tenant_id, memory_id) IN (SELECT * FROM unnest($1::text[], $2::text[])))
RETURNING key_id::text AS key_id
"""


class KeyRing:
    """Keys live in `mnemo.subject_keys`; every call takes the connection to use."""

    async def key_for(self, conn: Any, tenant_id: str, user_id: str) -> tuple[str, bytes]:
        """The subject's current (key_id, key), creating one if it has none. The key's row
        stays locked until the caller's transaction ends, so a forget cannot shred it
        meanwhile: a shared lock, which other appends of the subject also take without
        waiting and without writing a new version of the row (it was an update of the row
        to itself: one per sealed event, 0.6 ms each as its versions piled up in a batch)."""
        row = await conn.fetchrow(_CURRENT, tenant_id, user_id)
        if row is None:
            await self.lock(conn, tenant_id, user_id)
            row = await conn.fetchrow(
                _CREATE, uuid.uuid4(), tenant_id, user_id, os.urandom(KEY_BYTES)
            )
        return row["key_id"], bytes(row["key"])

    async def memory_keys(
        self,
        conn: Any,
        memories: Sequence[tuple[str, str, str]],
        lineage: tuple[str, bytes] | None = None,
    ) -> dict[tuple[str, str], tuple[str, bytes]]:
        """Each (tenant, memory, user)'s own (key_id, key) by (tenant, memory): the one it
        has (a command sent again), else a new one, or `lineage` (the key of the memory this
        one revises); one statement for them all. Called after the subjects' keys are held
        (`key_for`): a forget, which shreds both, takes them in that order too."""
        wanted = sorted({(t, m): u for t, m, u in memories}.items())
        if not wanted:
            return {}
        made = [lineage or (str(uuid.uuid4()), os.urandom(KEY_BYTES)) for _ in range(len(wanted))]
        rows = await conn.fetch(
            _MEMORY_KEYS,
            [t for (t, _), _ in wanted],
            [m for (_, m), _ in wanted],
            [k for k, _ in made],
            [u for _, u in wanted],
            [key for _, key in made],
        )
        return {(r["tenant_id"], r["memory_id"]): (r["key_id"], bytes(r["key"])) for r in rows}

    async def lineage(self, conn: Any, key_id: str) -> tuple[str, bytes] | None:
        """The memory key `key_id` (held to the end of the caller's transaction, so that the
        memory's deletion waits), or None: not a memory's key, or shredded."""
        try:
            row = await conn.fetchrow(_LINEAGE, key_id)
        except asyncpg.DataError:
            return None  # not a uuid: no key of ours
        return None if row is None else (row["key_id"], bytes(row["key"]))

    async def shred_memories(self, conn: Any, memories: Sequence[tuple[str, str]]) -> list[str]:
        """Delete the keys of these (tenant, memory) and of every version of them: what
        they sealed can never be read again; the key ids (none for a memory recorded
        before memories had keys of their own: sealed under its subject's key)."""
        if not memories:
            return []
        rows = await conn.fetch(_SHRED_MEMORIES, [t for t, _ in memories], [m for _, m in memories])
        shredded = sorted({r["key_id"] for r in rows})
        log.info("memory_keys_shredded", memories=len(memories), keys=len(shredded))
        return shredded

    async def keys(self, conn: Any, key_ids: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(key_ids))
        if not wanted:
            return {}
        rows = await conn.fetch(
            "SELECT key_id::text AS key_id, key FROM mnemo.data_keys"
            " WHERE key_id = ANY($1::uuid[])",
            wanted,
        )
        return {r["key_id"]: bytes(r["key"]) for r in rows}

    async def lock(self, conn: Any, tenant_id: str, user_id: str) -> None:
        """The subject's advisory lock, to the end of the caller's transaction."""
        await conn.execute(_LOCK, tenant_id, user_id)

    async def forgotten_through(
        self, conn: Any, subjects: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Of these (tenant, user) subjects, those forgotten: the command stream sequence
        each one's last forget reached. Read after `key_for`, in the same transaction, so
        that a forget cannot slip between (one query for them all)."""
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        rows = await conn.fetch(
            """SELECT f.tenant_id, f.user_id, f.commands_through
               FROM unnest($1::text[], $2::text[]) AS q(tenant_id, user_id)
               JOIN mnemo.forgotten_subjects f USING (tenant_id, user_id)""",
            [t for t, _ in wanted],
            [u for _, u in wanted],
        )
        return {(r["tenant_id"], r["user_id"]): int(r["commands_through"]) for r in rows}

    async def shred(
        self, conn: Any, tenant_id: str, user_id: str, commands_through: int = 0
    ) -> list[str]:
        """Delete the subject's keys and its memories' keys: whatever they sealed can never
        be read again; their ids. Marks the subject forgotten through `commands_through`
        (the command stream's last sequence when the forget began). Waits for an append in
        flight under one of the keys (it holds the key's row), so what it sealed is sealed
        under a key shredded."""
        await self.lock(conn, tenant_id, user_id)
        await conn.execute(_MARK, tenant_id, user_id, commands_through)
        rows = await conn.fetch(
            "DELETE FROM mnemo.subject_keys WHERE tenant_id = $1 AND user_id = $2"
            " RETURNING key_id::text AS key_id",
            tenant_id,
            user_id,
        )
        # After the subject's keys, in a statement of its own: it sees the memory keys of an
        # append that the DELETE above waited for (it held the subject's key).
        memory_rows = await conn.fetch(
            "DELETE FROM mnemo.memory_keys WHERE tenant_id = $1 AND user_id = $2"
            " RETURNING key_id::text AS key_id",
            tenant_id,
            user_id,
        )
        memory_keys = sorted({r["key_id"] for r in memory_rows})
        log.info(
            "subject_keys_shredded",
            tenant_id=tenant_id,
            keys=len(rows),
            memory_keys=len(memory_keys),
        )
        return [r["key_id"] for r in rows] + memory_keys
