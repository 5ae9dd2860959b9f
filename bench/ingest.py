"""Ingest throughput and 202->searchable lag of a whole local stack, at a stated load.

Prints figures; never asserts on them. Usage: python bench/ingest.py [--items N] [--concurrency C]
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


async def load(
    base: str, key: str, items: int, concurrency: int
) -> tuple[float, dict[str, datetime]]:
    accepted: dict[str, datetime] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(items):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {
                    "userId": f"bench-user-{i % 50}",
                    "content": f"Bench memory {i}: I like hiking near lake {i % 97} with friends.",
                    "sessionId": f"s{i % 10}",
                }
                response = await client.post("/v1/ingest", json=body)
                response.raise_for_status()
                accepted[response.json()["id"]] = datetime.now(UTC)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, accepted


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
    rec_times = [r["recorded_at"] for r in recorded if r["id"] in accepted]
    idx = {r["id"]: r["timestamp"] for r in indexed_rows if r["id"] in accepted}
    lags = [(idx[i] - accepted[i]).total_seconds() * 1000 for i in idx]
    return {
        "recorded": len(rec_times),
        "recorded_per_s": len(rec_times) / max((max(rec_times) - first).total_seconds(), 1e-9),
        "indexed": len(idx),
        "indexed_per_s": len(idx) / max((max(idx.values()) - first).total_seconds(), 1e-9),
        "lag_p50_ms": statistics.median(lags) if lags else float("nan"),
        "lag_p95_ms": pct(lags, 95) if lags else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    with local_stack() as local:
        base, key, dsn = local.base_url, local.api_key, local.database_url
        print(f"machine: {describe(machine())}")
        print(
            f"load: {args.items} ingests, {args.concurrency} concurrent clients, one stack"
            " (one replica of each service)"
        )
        elapsed, accepted = asyncio.run(load(base, key, args.items, args.concurrency))
        rate = len(accepted) / elapsed
        print(f"accepted: {len(accepted)} in {elapsed:.2f}s = {rate:.0f}/s at the gateway")
        figures = asyncio.run(observe(dsn, accepted, args.timeout))
        print(f"recorded: {figures['recorded']} = {figures['recorded_per_s']:.0f}/s in the log")
        print(f"indexed:  {figures['indexed']} = {figures['indexed_per_s']:.0f}/s searchable")
        print(
            f"202 -> searchable lag: p50 {figures['lag_p50_ms']:.0f} ms,"
            f" p95 {figures['lag_p95_ms']:.0f} ms"
        )
        print(f"cpu seconds by process: {cpu_by_process(local.pid)}")


if __name__ == "__main__":
    main()
