"""Compactions after deletions are coalesced: a burst of deletions makes one rewrite."""

import asyncio

from mnemo.eventlog import CoalescedCompaction
from tests.e2e.waiting import eventually_async


async def test_a_burst_of_deletions_makes_one_compaction_and_a_later_one_another():
    runs: list[int] = []

    async def compact() -> None:
        runs.append(len(runs))

    compaction = CoalescedCompaction(compact, interval=0.2)
    for _ in range(1000):  # a burst: every deletion of it before the compaction starts
        compaction.due()
    task = asyncio.create_task(compaction.run())
    try:
        await eventually_async(lambda: _done(compaction, 1))
        assert runs == [0]
        compaction.due()  # a later deletion: one more, not one per deletion before
        await eventually_async(lambda: _done(compaction, 2))
        assert runs == [0, 1]
    finally:
        task.cancel()


async def test_a_failed_compaction_is_tried_again(monkeypatch):
    monkeypatch.setattr("mnemo.eventlog.coalescing.RETRY_S", 0.05)
    runs: list[str] = []

    async def compact() -> None:
        runs.append("tried")
        if len(runs) == 1:
            raise ConnectionResetError("the database went away")

    compaction = CoalescedCompaction(compact, interval=0.05)
    compaction.due()
    task = asyncio.create_task(compaction.run())
    try:
        await eventually_async(lambda: _done(compaction, 1))
        assert runs == ["tried", "tried"]
    finally:
        task.cancel()


async def _done(compaction: CoalescedCompaction, count: int) -> bool:
    return compaction.done >= count
