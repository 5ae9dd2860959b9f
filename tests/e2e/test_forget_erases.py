"""Forgetting leaves no plaintext behind (issue #13, part 4): once DELETE /v1/user has
answered, within a bounded time, no byte of what the user said is left in any file Mnemo
writes: NATS's stream files (commands, events, signals, dead letters, kept answers),
PostgreSQL's tables, indexes and WAL, the vector store's folder, the logs. Nor in any row
of any table: a value longer than about 2 kB is stored compressed, where a byte search of
the files cannot see the words.

What the user said reaches the disk by more ways than the ingest: a pack of the agent
compiled from it (of no one user), commands still on their way to the log when the
forget arrives (they must be dropped, not recorded under a new key).

The stack has its own NATS and PostgreSQL (data directories the test can read, and a
bundled PostgreSQL's settings), like a fresh `mnemo run` has. Another user's words stay.
"""

import asyncio
import base64
import uuid
from pathlib import Path

import asyncpg

from mnemo.eventlog import EventStore
from mnemo.eventlog.sealing import SEALED_TYPES

from ..disk import files_holding
from .stack import Stack, free_port
from .test_memories_api import memories
from .test_thin_path import search
from .waiting import eventually

# Forget answers once the keys are shredded; the erasing and compacting that follow take
# seconds. This is the deadline of the test, generous for a loaded machine.
ERASED_WITHIN = 180.0


def spellings(word: str) -> list[bytes]:
    """The word's bytes, and what of it survives in base64 at each of the three offsets
    (kept answers are stored base64-encoded)."""
    found = [word.encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + word.encode())
        skip = -(-pad * 4 // 3)  # characters touched by the padding bytes
        found.append(encoded[skip + 1 : -4])
    return found


def holding(roots: list[Path], word: str) -> list[str]:
    """The files under `roots` that hold the word in any of its spellings."""
    needles = spellings(word)
    return [f"{root.name}/{f}" for root in roots for f in files_holding(root, needles)]


def holding_bytes(roots: list[Path], needle: bytes) -> list[str]:
    """The files under `roots` that hold `needle` as raw bytes."""
    return [f"{root.name}/{f}" for root in roots for f in files_holding(root, [needle])]


def named(database_url: str, files: list[str]) -> list[str]:
    """The files, each PostgreSQL relation file (`base/<db>/<filenode>[.n|_fork]`) with
    the relation it stores, so that a failure says which table or index kept the words."""

    async def name_all() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            out = []
            for file in files:
                parts = file.split("/")
                node = parts[-1].split("_")[0].split(".")[0]
                if len(parts) >= 3 and parts[-3] == "base" and node.isdigit():
                    relation = await conn.fetchval(
                        "SELECT pg_filenode_relation(0, $1::oid)::regclass::text", int(node)
                    )
                    file = f"{file} ({relation or 'no relation of this database'})"
                out.append(file)
            return out
        finally:
            await conn.close()

    return asyncio.run(name_all())


def rows_holding(database_url: str, word: str) -> list[str]:
    """The tables of every schema with a live row whose text holds the word, with how many
    (a row's text is its values decompressed, whatever the files keep)."""

    async def scan() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            tables = await conn.fetch(
                "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
            found = []
            for table in tables:
                name = table["name"]
                count = await conn.fetchval(
                    f"SELECT count(*) FROM {name} t WHERE t::text LIKE $1", f"%{word}%"
                )
                if count:
                    found.append(f"{name}: {count}")
            return found
        finally:
            await conn.close()

    return asyncio.run(scan())


def sampled_holding(database_url: str, needle: str) -> list[str]:
    """The columns whose planner statistics (pg_statistic, which ANALYZE fills with a
    sample of their values) hold `needle`, read decompressed."""

    async def scan() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT format('%s.%s.%s', schemaname, tablename, attname) AS name"
                " FROM pg_stats WHERE coalesce(most_common_vals::text, '')"
                " || coalesce(histogram_bounds::text, '') LIKE $1",
                f"%{needle}%",
            )
            return [f"statistics of {r['name']}" for r in rows]
        finally:
            await conn.close()

    return asyncio.run(scan())


def analyze_and_key(database_url: str, user_id: str) -> bytes:
    """ANALYZE every table, as autovacuum does on its own; the user's data key."""

    async def run() -> bytes:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("ANALYZE")
            return await conn.fetchval(
                "SELECT key FROM mnemo.subject_keys WHERE user_id = $1", user_id
            )
        finally:
            await conn.close()

    return asyncio.run(run())


def readable_of(database_url: str, user_id: str) -> list[str]:
    """The types of the log's events about the user that carry what was said (sealed
    types) and can still be read, opened with the keys the log holds."""

    async def read() -> list[str]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            store, after, found = EventStore(pool), 0, []
            while True:
                events, last = await store.read_all(after)
                if last == after:
                    return found
                after = last
                found += [
                    e.event_type
                    for e in events
                    if getattr(e.data, "user_id", None) == user_id and e.event_type in SEALED_TYPES
                ]
        finally:
            await pool.close()

    return asyncio.run(read())


def test_forgotten_words_leave_every_file(own_nats, own_postgres, tmp_path):
    nats, postgres = own_nats, own_postgres
    root = "erase" + uuid.uuid4().hex[:8]
    database_url = postgres.create_database("erase")
    stack = Stack(
        nats_url=nats.url, database_url=database_url,
        home=tmp_path / "stack", bus_root=root, port=free_port(),
    )  # fmt: skip
    token = uuid.uuid4().hex[:10]
    gone, kept = f"Quillonfen{token}", f"Brandlewick{token}"
    user, other = "forgetme-" + token[:6], "keepme-" + token[:6]
    stack.start()
    try:
        stack.wait_healthy()
        with stack.client() as api:
            said = [
                {"userId": user, "content": f"I work at {gone} and I love kayaking"},
                {"userId": user, "content": f"my locker code is {gone}7"},
                {"userId": user, "content": "a note", "metadata": {"topic": f"{gone}meta"}},
                {"userId": user, "agentId": "concierge", "content": f"book me {gone} again"},
                # A speaker's name: the facts drawn from it say whom they are about.
                {"userId": user, "content": "I work at Initech", "metadata": {"author": gone}},
                {"userId": other, "content": f"I work at {kept} and I love sailing"},
            ]
            assert api.post("/v1/ingest/batch", json={"items": said}).status_code == 202
            # The client's names for its conversation and source are words too: sealed in
            # the log, erased from the bus, never kept by the audit.
            one = {
                "userId": user, "content": f"single ingest naming {gone}",
                "sourceId": f"{gone}-source", "sessionId": f"{gone}-session",
            }  # fmt: skip
            assert api.post("/v1/ingest", json=one).status_code == 202
            eventually(lambda: memories(api, user)["total"] == 6, timeout=120)
            eventually(lambda: memories(api, other)["total"] == 1, timeout=120)
            eventually(lambda: search(api, user, gone), timeout=120)
            eventually(lambda: search(api, other, kept), timeout=120)
            # Synthesis made a fact of it ("I work at ..."): its read model holds the word.
            eventually(
                lambda: api.get("/v1/facts", params={"userId": user}).json().get("facts"),
                timeout=120,
            )
            # A kept answer (Idempotency-Key) that carries the words.
            kept_answer = api.post(
                "/v1/search",
                json={"userId": user, "query": gone},
                headers={"Idempotency-Key": "search-" + token},
            )
            assert kept_answer.status_code == 200 and gone in kept_answer.text

            # The agent's pack, of all its users (none named): it quotes the memory.
            pack = api.get("/v1/agents/concierge/packs/latest")
            assert pack.status_code == 200 and gone in pack.text, pack.text

            roots = [nats.data_dir, postgres.data_dir, stack.home]
            assert holding(roots, gone), "the test's own premise: the words are on disk"
            # The planner's statistics sample the tables' values, the words among them.
            key = analyze_and_key(database_url, user)
            assert key and sampled_holding(database_url, gone), "premise: the words sampled"
            vectors = stack.home / "qdrant"
            assert holding([vectors], user), "the test's own premise: the user's points"

            # Commands accepted (202) but still on their way to the log when the forget
            # comes: a backlog of them, so that some are recorded after it.
            flying = [{"userId": user, "content": f"in flight {gone} {n}"} for n in range(50)]
            for _ in range(4):
                assert api.post("/v1/ingest/batch", json={"items": flying}).status_code == 202

            response = api.delete("/v1/user", params={"userId": user})
            assert response.status_code == 200, response.text
            assert response.json()["removed"]["memories"] >= 6

            left = []

            def erased() -> bool:
                left[:] = holding(roots, gone) + rows_holding(database_url, gone)
                left.extend(sampled_holding(database_url, gone))
                # The shredded key itself, copied anywhere, would open the log again.
                left.extend(sampled_holding(database_url, key.hex()))
                left.extend(f"the data key in {f}" for f in holding_bytes(roots, key))
                left.extend(f"readable in the log: {t}" for t in readable_of(database_url, user))
                # The vector store keeps no words, but its deleted points' embeddings (from
                # which words can be approximated) until it is compacted: their payloads
                # name the user.
                left.extend(f"vector store: {f}" for f in holding([vectors], user))
                return not left

            try:
                eventually(erased, timeout=ERASED_WITHIN, every=2.0)
            except AssertionError:
                left[:] = named(database_url, left)
                raise AssertionError(f"the forgotten words are still in {left}") from None

            # The other user is untouched: still searchable, still on the bus and in the log.
            assert search(api, other, kept)
            assert holding([nats.data_dir], kept)
            assert memories(api, user)["total"] == 0
    finally:
        stack.stop()
