"""Ingest throughput and 202->searchable lag of a whole local stack, at a stated load.

Two lags: 202 -> keyword-searchable (the `memory.indexed` signal: phase 1 stored the memory
with its words; keyword and hybrid search find it) and 202 -> dense-complete (phase 2 gave
it its dense vector: vector search finds it too), watched in `retrieval.dense_pending`.

Prints figures; never asserts on them. Usage:

    python bench/ingest.py [--items N] [--concurrency C] [--rate R] [--batch B]

Without --rate, C clients send as fast as they can (a closed loop: the throughput). With
--rate R, requests leave on a fixed schedule of R items/s whatever the answers (an open
loop: the lag at that load); --batch B sends B items per POST /v1/ingest/batch.
"""

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from local_stack import describe, local_stack, machine


def cpu_by_process(root_pid: int) -> str:
    """CPU seconds each process of the stack has used so far (where the time goes)."""
    import psutil

    used: dict[str, float] = {}
    client = psutil.Process()
    for proc in [client, *psutil.Process(root_pid).children(recursive=True)]:
        try:
            args = proc.cmdline()
            times = proc.cpu_times()
        except psutil.Error:
            continue
        name = next((a.split(".")[-1] for a in args if a.startswith("mnemo.")), None)
        name = "bench-client" if proc.pid == client.pid else name or Path(args[0]).name
        used[name] = used.get(name, 0.0) + times.user + times.system
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def item(i: int) -> dict[str, str]:
    return {
        "userId": f"bench-user-{i % 50}",
        "content": f"Bench memory {i}: I like hiking near lake {i % 97} with friends.",
        "sessionId": f"s{i % 10}",
    }


async def send(client: httpx.AsyncClient, numbers: list[int]) -> list[str]:
    """Ingest the items numbered `numbers` in one request; their memory ids."""
    if len(numbers) == 1:
        response = await client.post("/v1/ingest", json=item(numbers[0]))
        response.raise_for_status()
        return [response.json()["id"]]
    response = await client.post("/v1/ingest/batch", json={"items": [item(i) for i in numbers]})
    response.raise_for_status()
    return list(response.json()["ids"])


async def load(
    base: str,
    key: str,
    items: int,
    concurrency: int,
    rate: float,
    batch: int,
    accepted: dict[str, datetime],
) -> float:
    """Send the items; fills `accepted` (memory id -> when its 202 came) as they go."""
    requests = [list(range(i, min(i + batch, items))) for i in range(0, items, batch)]
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one(numbers: list[int]) -> None:
            ids = await send(client, numbers)
            now = datetime.now(UTC)
            accepted.update(dict.fromkeys(ids, now))

        start = time.perf_counter()
        if rate > 0:
            tasks = []
            for n, numbers in enumerate(requests):
                due = start + n * batch / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one(numbers)))
            await asyncio.gather(*tasks)
        else:
            queue: asyncio.Queue[list[int]] = asyncio.Queue()
            for numbers in requests:
                queue.put_nowait(numbers)

            async def worker() -> None:
                while not queue.empty():
                    await one(queue.get_nowait())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


async def dense_complete(conn: asyncpg.Connection) -> tuple[set[str], int]:
    """The memories dense-complete now: signalled indexed (`memory.indexed` in the audit
    log) with no chunk of theirs left in `retrieval.dense_pending`; and the chunks left."""
    indexed = {
        r["id"]
        for r in await conn.fetch(
            "SELECT data->>'memory_id' AS id FROM audit.entries WHERE type = 'memory.indexed'"
        )
    }
    pending = await conn.fetch("SELECT memory_id FROM retrieval.dense_pending")
    return indexed - {r["memory_id"] for r in pending}, len(pending)


async def watch_dense(
    dsn: str, accepted: dict[str, datetime], loading: asyncio.Event, timeout: float
) -> dict[str, object]:
    """When each accepted memory became dense-complete (polled 4 times a second)."""
    conn = await asyncpg.connect(dsn)
    dense_at: dict[str, datetime] = {}
    backlog_max, drained = 0, float("nan")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            complete, pending = await dense_complete(conn)
            now = datetime.now(UTC)
            backlog_max = max(backlog_max, pending)
            for i in complete - dense_at.keys():
                if i in accepted:
                    dense_at[i] = now
            if not loading.is_set() and len(dense_at) >= len(accepted):
                drained = (now - max(accepted.values())).total_seconds()
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    lags = [(dense_at[i] - accepted[i]).total_seconds() * 1000 for i in dense_at]
    return {
        "dense": len(dense_at),
        "dense_p50_ms": statistics.median(lags) if lags else float("nan"),
        "dense_p95_ms": pct(lags, 95) if lags else float("nan"),
        "dense_max_ms": max(lags) if lags else float("nan"),
        "backlog_max": backlog_max,
        "drained_s": drained,
    }


async def measure(
    base: str, key: str, dsn: str, args: argparse.Namespace
) -> tuple[float, dict[str, datetime], dict[str, object]]:
    """The load, with phase 2 watched while it runs."""
    accepted: dict[str, datetime] = {}
    loading = asyncio.Event()
    loading.set()
    watcher = asyncio.create_task(watch_dense(dsn, accepted, loading, args.timeout))
    try:
        elapsed = await load(
            base, key, args.items, args.concurrency, args.rate, args.batch, accepted
        )
    finally:
        loading.clear()
    return elapsed, accepted, await watcher


async def observe(dsn: str, accepted: dict[str, datetime], timeout: float) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            indexed = await conn.fetchval(
                "SELECT count(*) FROM audit.entries WHERE type = 'memory.indexed'"
            )
            if indexed >= len(accepted):
                break
            await asyncio.sleep(0.5)
        recorded = await conn.fetch(
            "SELECT data->>'memory_id' AS id, recorded_at FROM mnemo.events"
            " WHERE event_type = 'memory.recorded'"
        )
        indexed_rows = await conn.fetch(
            "SELECT data->>'memory_id' AS id, \"timestamp\" FROM audit.entries"
            " WHERE type = 'memory.indexed'"
        )
    finally:
        await conn.close()
    first = min(accepted.values())
    rec = {r["id"]: r["recorded_at"] for r in recorded if r["id"] in accepted}
    rec_lags = [(rec[i] - accepted[i]).total_seconds() * 1000 for i in rec]
    idx = {r["id"]: r["timestamp"] for r in indexed_rows if r["id"] in accepted}
    lags = [(idx[i] - accepted[i]).total_seconds() * 1000 for i in idx]
    return {
        "recorded": len(rec),
        "recorded_per_s": len(rec) / max((max(rec.values()) - first).total_seconds(), 1e-9),
        "indexed": len(idx),
        "indexed_per_s": len(idx) / max((max(idx.values()) - first).total_seconds(), 1e-9),
        "lag_p50_ms": statistics.median(lags) if lags else float("nan"),
        "lag_p95_ms": pct(lags, 95) if lags else float("nan"),
        "recorded_p50_ms": statistics.median(rec_lags) if rec_lags else float("nan"),
        "recorded_p95_ms": pct(rec_lags, 95) if rec_lags else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--rate", type=float, default=0, help="items/s, open loop (0: max)")
    parser.add_argument("--batch", type=int, default=1, help="items per request (1..50)")
    args = parser.parse_args()

    with local_stack() as local:
        base, key, dsn = local.base_url, local.api_key, local.database_url
        print(f"machine: {describe(machine())}")
        pace = f"at {args.rate:.0f} items/s" if args.rate else f"{args.concurrency} clients"
        print(
            f"load: {args.items} items, {args.batch} per request, {pace}, one stack"
            " (one replica of each service)"
        )
        elapsed, accepted, dense = asyncio.run(measure(base, key, dsn, args))
        rate = len(accepted) / elapsed
        print(f"accepted: {len(accepted)} in {elapsed:.2f}s = {rate:.0f}/s at the gateway")
        figures = asyncio.run(observe(dsn, accepted, args.timeout))
        print(f"recorded: {figures['recorded']} = {figures['recorded_per_s']:.0f}/s in the log")
        print(
            f"indexed:  {figures['indexed']} = {figures['indexed_per_s']:.0f}/s keyword-searchable"
        )
        print(
            f"202 -> recorded in the log: p50 {figures['recorded_p50_ms']:.0f} ms,"
            f" p95 {figures['recorded_p95_ms']:.0f} ms"
        )
        print(
            f"202 -> keyword-searchable (memory.indexed): p50 {figures['lag_p50_ms']:.0f} ms,"
            f" p95 {figures['lag_p95_ms']:.0f} ms"
        )
        print(
            f"202 -> dense-complete: {dense['dense']} memories, p50 {dense['dense_p50_ms']:.0f} ms,"
            f" p95 {dense['dense_p95_ms']:.0f} ms, max {dense['dense_max_ms']:.0f} ms;"
            f" backlog up to {dense['backlog_max']} chunks, all dense"
            f" {dense['drained_s']:.1f} s after the last 202"
        )
        print(f"cpu seconds by process: {cpu_by_process(local.pid)}")


if __name__ == "__main__":
    main()
