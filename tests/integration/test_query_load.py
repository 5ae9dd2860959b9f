"""Query endpoints under load, over real NATS: a concurrent endpoint runs several requests
at once; a request that waited in the queue half of its asker's wait is refused
("overloaded", the gateway's 503) rather than run late; a reading request still running
near its asker's wait is stopped and refused, so the asker never times out (504)."""

import asyncio

import pytest

from mnemo.bus import OVERLOADED, QueryFailed, ask, serve
from mnemo.contracts import SearchQuery, SearchResult


def _query(tag: str) -> SearchQuery:
    return SearchQuery(tenant_id="t", user_id="u", query=tag)


async def test_a_concurrent_endpoint_runs_requests_side_by_side(nc, topology):
    inside, release = 0, asyncio.Event()
    most = 0

    async def search(query: SearchQuery) -> SearchResult:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await release.wait()
        inside -= 1
        return SearchResult(results=[])

    svc = await serve(nc, topology, "retrieval", {"search": (SearchQuery, search, 3)})
    subject = topology.svc_subject("retrieval", "search")
    try:
        asks = [
            asyncio.create_task(ask(nc, subject, _query(str(n)), SearchResult, timeout=60))
            for n in range(3)
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while most < 3:  # all three inside the handler at once
            assert loop.time() < deadline, f"only {most} ran at once"
            await asyncio.sleep(0.02)
        release.set()
        assert [r.results for r in await asyncio.gather(*asks)] == [[], [], []]
    finally:
        await svc.stop()


async def test_a_request_queued_too_long_is_refused_not_run(nc, topology):
    ran: list[str] = []
    busy, release = asyncio.Event(), asyncio.Event()

    async def search(query: SearchQuery) -> SearchResult:
        ran.append(query.query)
        if query.query == "slow":
            busy.set()
            await release.wait()  # the fault: this request holds the endpoint
        return SearchResult(results=[])

    svc = await serve(nc, topology, "retrieval", {"search": (SearchQuery, search)})
    subject = topology.svc_subject("retrieval", "search")
    try:
        slow = asyncio.create_task(ask(nc, subject, _query("slow"), SearchResult, timeout=60))
        await asyncio.wait_for(busy.wait(), 30)
        # Waits 12 s; once it has queued past half of that (6 s) the endpoint frees, it is
        # refused, and hears so well before giving up.
        queued = asyncio.create_task(ask(nc, subject, _query("queued"), SearchResult, timeout=12))
        await asyncio.sleep(7.0)  # the fault itself (the endpoint held), not a wait on it
        release.set()
        with pytest.raises(QueryFailed) as refused:
            await queued
        assert refused.value.error.code == OVERLOADED
        await slow
        assert (await ask(nc, subject, _query("after"), SearchResult, timeout=60)).results == []
        assert ran == ["slow", "after"]  # the refused one never ran
    finally:
        await svc.stop()


# (request type, handler, concurrency[, stoppable]): a reading endpoint run two at once, and
# one run alone but said to be stoppable (MNEMO_QUERY_CONCURRENCY=1 must not bring back 504s).
@pytest.mark.parametrize("shape", [(2,), (1, True)], ids=["concurrent", "one-at-a-time"])
async def test_a_reading_request_still_running_near_its_askers_wait_is_stopped_and_refused(
    nc, topology, shape
):
    started, stopped, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def search(query: SearchQuery) -> SearchResult:
        started.set()
        try:
            await release.wait()  # the fault: a search that does not end (a saturated host)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return SearchResult(results=[])

    svc = await serve(nc, topology, "retrieval", {"search": (SearchQuery, search, *shape)})
    subject = topology.svc_subject("retrieval", "search")
    try:
        # It started at once (nothing queued), so only the cut can answer it before the
        # asker's 4 s run out: it hears "overloaded" (503 + Retry-After), not a timeout.
        try:
            await ask(nc, subject, _query("stuck"), SearchResult, timeout=4)
            heard = "an answer"
        except QueryFailed as failed:
            heard = failed.error.code
        assert started.is_set()
        assert heard == OVERLOADED
        assert stopped.is_set()  # the handler was stopped, not left running
    finally:
        release.set()
        await svc.stop()


async def test_a_request_that_came_while_the_process_stood_still_is_not_run_late(
    nc, topology, nats_url
):
    """The process stopped (a SIGSTOP, a long stall) while a write was sent: read once it
    runs again, the request looks just arrived, and a forget answered 504 ran late, after
    what its caller did next. Its arrival counts from when the loop stood still."""
    import threading
    import time

    from mnemo.bus import connect

    ran: list[str] = []

    async def forget(query: SearchQuery) -> SearchResult:
        ran.append(query.query)
        return SearchResult(results=[])

    svc = await serve(nc, topology, "ingest", {"forget": (SearchQuery, forget)})
    subject = topology.svc_subject("ingest", "forget")
    asked: list[BaseException | SearchResult] = []

    def asker() -> None:  # another process's asker, on a loop and connection of its own
        async def one() -> None:
            other = await connect(nats_url, name="asker")
            try:
                asked.append(await ask(other, subject, _query("late"), SearchResult, timeout=2))
            except QueryFailed as exc:
                asked.append(exc)
            finally:
                await other.close()

        asyncio.run(one())

    try:
        await asyncio.sleep(0.3)  # the loop beats
        thread = threading.Thread(target=asker)
        thread.start()
        time.sleep(4.0)  # noqa: ASYNC251 - the fault: this process stands still
        await asyncio.to_thread(thread.join, 30)
        await asyncio.sleep(0.2)  # what piled up during the stall is handled by now
        assert ran == [], "a request that waited past its asker's wait was run"
        assert asked and isinstance(asked[0], QueryFailed)
        # The loop runs again: a request sent now is fresh, and run (not dated back to the
        # stall, which refused fresh traffic for a while after it).
        await ask(nc, subject, _query("now"), SearchResult, timeout=2)
        assert ran == ["now"]
    finally:
        await svc.stop()


async def test_a_write_that_would_commit_after_its_asker_gave_up_is_rolled_back(
    nc, topology, log_pool
):
    """A forget (or any write) answered 504 ran on once PostgreSQL came back, and erased
    memories the caller sent after the 504. A write reaching its commit after its asker's
    wait is rolled back instead (mnemo.contracts.deadlines); one in time commits."""
    from mnemo.eventlog import EventStore

    from .helpers import memory_event

    store = EventStore(log_pool)
    release, finished = asyncio.Event(), asyncio.Event()
    streams: list[str] = []
    committed: list[str] = []

    async def forget(query: SearchQuery) -> SearchResult:
        await release.wait()  # the fault: PostgreSQL stalled, a lock held
        stream = f"deadline-{query.query}"
        streams.append(stream)
        try:
            await store.append(stream, [memory_event()])
            committed.append(stream)
        finally:
            finished.set()
        return SearchResult(results=[])

    svc = await serve(nc, topology, "ingest", {"forget": (SearchQuery, forget)})
    subject = topology.svc_subject("ingest", "forget")
    try:
        with pytest.raises(QueryFailed) as failed:
            await ask(nc, subject, _query("late"), SearchResult, timeout=1)
        assert failed.value.error.code == "timeout"
        release.set()
        await asyncio.wait_for(finished.wait(), 60)
        assert committed == [] and await store.read_stream(streams[0]) == []
        assert (await ask(nc, subject, _query("now"), SearchResult, timeout=60)).results == []
        assert committed == ["deadline-now"]
    finally:
        await svc.stop()
