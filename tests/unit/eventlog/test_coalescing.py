"""Compactions after deletions are coalesced: a burst of deletions makes one rewrite."""

import asyncio

from mnemo.eventlog import CoalescedCompaction
from tests.e2e.waiting import eventually_async


async def test_a_burst_of_deletions_makes_one_compaction_and_a_later_one_another():
    """Deletions that come while a compaction runs make one more, not one each."""
    runs: list[int] = []
    release = asyncio.Event()

    async def compact() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            await release.wait()  # the first is still running while the burst comes

    compaction = CoalescedCompaction(compact, interval=0.05)
    task = asyncio.create_task(compaction.run())
    try:
        compaction.due()
        await eventually_async(lambda: _started(runs, 1))
        for _ in range(1000):  # a burst, while the first runs
            compaction.due()
        release.set()
        await eventually_async(lambda: _done(compaction, 2))
        for _ in range(20):  # given every chance to run once more for nothing
            await asyncio.sleep(0.01)
        assert runs == [0, 1]
        compaction.due()  # a later deletion: one more
        await eventually_async(lambda: _done(compaction, 3))
        assert runs == [0, 1, 2]
    finally:
        task.cancel()


async def _started(runs: list[int], count: int) -> bool:
    return len(runs) >= count


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


async def test_the_next_compaction_waits_nine_times_as_long_as_the_last_took():
    """However large the store, steady deletions keep compactions to a tenth of the time:
    after a rewrite of 2 s, the next one starts 18 s after the last began (16 s after it
    ended), never at the interval. A clock of the test's own, no time asserted."""
    now = [100.0]
    slept: list[float] = []

    async def compact() -> None:
        now[0] += 2.0  # the rewrite takes 2 s

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    compaction = CoalescedCompaction(compact, interval=3.0)
    compaction._clock = lambda: now[0]
    compaction._sleep = sleep
    compaction.due()
    task = asyncio.create_task(compaction.run())
    try:
        await eventually_async(lambda: _done(compaction, 1))
        assert slept == []  # the first deletion in a while: at once
        compaction.due()
        await eventually_async(lambda: _done(compaction, 2))
        assert slept == [16.0]  # 9 x 2 s after the last began, not the 3 s interval
    finally:
        task.cancel()
