"""Phase 2's work list against a real PostgreSQL: claims are leases taken in one short
statement, so embedding a batch never holds a transaction open (which would stall the
event relay), and a claim that fails, dies or races a renewal loses nothing."""

import asyncpg
import pytest

from mnemo.retrieval.pending import DensePending, PendingChunk
from tests.e2e.waiting import eventually_async


def chunks(count: int, text: str = "words") -> list[PendingChunk]:
    return [PendingChunk(f"p{i}", "t1", "u1", f"m{i}", f"{text} {i}") for i in range(count)]


async def test_a_claim_holds_no_transaction_open_while_its_chunks_are_embedded(
    pool: asyncpg.Pool,
) -> None:
    pending = DensePending(pool, "c1")
    await pending.add(chunks(3))
    async with pending.claim(10) as claimed:
        assert len(claimed) == 3
        # Meanwhile another transaction writes and commits (as ingest appending events).
        async with pool.acquire() as conn:
            async with conn.transaction():
                later = await conn.fetchval("SELECT pg_current_xact_id()::text")
            # The relay publishes events of transactions older than every one in flight:
            # this one must count as past, though the claim is not over.
            xmin = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        assert int(xmin) > int(later)
    assert (await pending.backlog())[0] == 0


async def test_claims_at_once_take_disjoint_chunks_oldest_first(pool: asyncpg.Pool) -> None:
    pending = DensePending(pool, "c1")
    for chunk in chunks(5):
        await pending.add([chunk])  # one by one: an order by enqueued_at
    async with pending.claim(2) as first, pending.claim(2) as second, pending.claim(2) as third:
        assert [c.point_id for c in first] == ["p0", "p1"]
        assert [c.point_id for c in second] == ["p2", "p3"]
        assert [c.point_id for c in third] == ["p4"]
        async with pending.claim(2) as none_left:
            assert none_left == []
    assert (await pending.backlog())[0] == 0


async def test_a_failed_claim_gives_its_chunks_back_at_once(pool: asyncpg.Pool) -> None:
    pending = DensePending(pool, "c1")
    await pending.add(chunks(2))
    with pytest.raises(RuntimeError):
        async with pending.claim(10) as claimed:
            assert len(claimed) == 2
            raise RuntimeError("the embedder is away")
    async with pending.claim(10) as again:
        assert {c.point_id for c in again} == {"p0", "p1"}
    assert (await pending.backlog())[0] == 0


async def test_chunks_of_a_claim_whose_holder_died_are_taken_when_its_lease_ends(
    pool: asyncpg.Pool,
) -> None:
    pending = DensePending(pool, "c1")
    await pending.add(chunks(2))
    dead = pending.claim(10, lease_s=0.5)
    assert len(await dead.__aenter__()) == 2  # and never exits: its process died
    async with pending.claim(10) as while_leased:
        assert while_leased == []

    async def taken() -> set[str]:
        async with pending.claim(10) as after:
            return {c.point_id for c in after}

    # Once the lease ends (by the database's clock), the next claim takes them.
    assert await eventually_async(taken) == {"p0", "p1"}
    assert (await pending.backlog())[0] == 0


async def test_a_chunk_renewed_while_claimed_stays_for_the_next_claim(
    pool: asyncpg.Pool,
) -> None:
    pending = DensePending(pool, "c1")
    await pending.add(chunks(2, "old"))
    async with pending.claim(10) as claimed:
        assert {c.text for c in claimed} == {"old 0", "old 1"}
        # Re-indexed meanwhile (its preceding turn was deleted): new text to embed.
        await pending.add([PendingChunk("p1", "t1", "u1", "m1", "new 1")])
        async with pending.claim(10) as meanwhile:
            assert meanwhile == []  # still leased to the first claim
    async with pending.claim(10) as next_claim:
        assert [(c.point_id, c.text) for c in next_claim] == [("p1", "new 1")]
    assert (await pending.backlog())[0] == 0


async def test_collections_do_not_share_work(pool: asyncpg.Pool) -> None:
    one, two = DensePending(pool, "c1"), DensePending(pool, "c2")
    await one.add(chunks(1))
    async with two.claim(10) as claimed:
        assert claimed == []
    async with one.claim(10) as claimed:
        assert [c.point_id for c in claimed] == ["p0"]
