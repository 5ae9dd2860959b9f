"""What a forget's compaction of the embedded vector store costs (`EdgeVectorStore.compact`).

For each size N: the points of `bench/vector_store.py` (384-d, BM25 sparse, 50 subjects),
one subject deleted (a forget), then `compact()` while searches keep coming, one after the
other, as a client would send them. Prints the compaction's time, the event loop's longest
stall meanwhile (a ticker task every millisecond: how long the service could answer
nothing), searches answered during it and their p50/p95 against the same searches before,
and the CPU the process used. Prints figures; never asserts.

Usage: python bench/edge_compaction.py [--sizes 5000 20000 50000] [--users 50]
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from vector_store import DIM, TENANT, dataset, machine, p, text, unit

from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder, StoreFilter


async def measure(n: int, args: argparse.Namespace) -> dict[str, float]:
    points = dataset(n, args.users, args.seed)
    rng, encoder = np.random.default_rng(args.seed + 1), SparseEncoder()
    queries = [
        (q, encoder.query(text(rng, 3)), f"u{1 + int(rng.integers(0, args.users - 1))}")
        for q in unit(rng, 200).tolist()
    ]
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        store = EdgeVectorStore(Path(tmp) / "edge")
        await store.ensure(DIM)
        for i in range(0, n, 256):
            await store.upsert(points[i : i + 256])

        async def search(i: int) -> float:
            dense, sparse, user = queries[i % len(queries)]
            where = StoreFilter(tenant_id=TENANT, user_id=user)
            start = time.perf_counter()
            await store.search(dense, sparse, where, 10, mode="hybrid")
            return (time.perf_counter() - start) * 1000

        before = [await search(i) for i in range(200)]
        await store.delete_subject(TENANT, "u0")  # the forgotten subject: 1/users of N

        stalls: list[float] = []

        async def ticker() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                stalls.append((now - last) * 1000)
                last = now

        during: list[float] = []

        async def searching(done: asyncio.Event) -> None:
            i = 0
            while not done.is_set():
                during.append(await search(i))
                i += 1

        done = asyncio.Event()
        ticking = asyncio.create_task(ticker())
        searches = asyncio.create_task(searching(done))
        cpu, start = time.process_time(), time.perf_counter()
        await store.compact()
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        done.set()
        await searches
        ticking.cancel()
        count = await store.count()
        await store.close()
    return {
        "points kept": count,
        "compact s": took,
        "cpu s": cpu,
        "max stall ms": max(stalls),
        "searches": len(during),
        "p50 before": p(before, 50),
        "p95 before": p(before, 95),
        "p50 during": p(during, 50) if len(during) > 1 else float("nan"),
        "p95 during": p(during, 95) if len(during) > 1 else float("nan"),
        "max during": max(during, default=float("nan")),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{DIM}-d + sparse, {args.users} subjects, one deleted, hybrid searches (ms)")
    columns = ["points kept", "compact s", "cpu s", "max stall ms", "searches"]
    columns += ["p50 before", "p95 before", "p50 during", "p95 during", "max during"]
    print(f"{'N':>7}" + "".join(f"{c:>14}" for c in columns))
    for n in args.sizes:
        row = await measure(n, args)
        print(f"{n:>7}" + "".join(f"{row[c]:>14.2f}" for c in columns), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
