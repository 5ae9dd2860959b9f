"""The two vector stores side by side: qdrant-edge and qdrant-client's local mode.

For each store and each size N: random 384-d unit vectors (seeded), 50 subjects in one
tenant, BM25 sparse vectors of Zipf-distributed words; then upsert throughput, subject-
filtered dense and hybrid query latency through the async `VectorStore` interface, and
the time from reopening the folder to the first answer. Prints figures; never asserts.

Usage: python bench/vector_store.py [--sizes 5000 20000] [--queries 200] [--stores edge ...]
"""

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from qdrant_client import AsyncQdrantClient

from mnemo.retrieval.stores import (
    EdgeVectorStore,
    QdrantClientStore,
    SparseEncoder,
    StoreFilter,
    StorePoint,
    VectorStore,
)

DIM = 384
TENANT = "bench"
VOCABULARY = [f"w{i}" for i in range(20_000)]
STORES: dict[str, Callable[[Path], VectorStore]] = {
    "edge": lambda folder: EdgeVectorStore(folder),
    "client-local": lambda folder: QdrantClientStore(AsyncQdrantClient(path=str(folder)), "m"),
}


def machine() -> str:
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def text(rng: np.random.Generator, n_words: int) -> str:
    """Zipf-distributed words: a few very common, a long tail of rare ones."""
    ranks = np.minimum(rng.zipf(1.3, n_words), len(VOCABULARY)) - 1
    return " ".join(VOCABULARY[r] for r in ranks)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def dataset(n: int, users: int, seed: int) -> list[StorePoint]:
    rng, encoder = np.random.default_rng(seed), SparseEncoder()
    dense = unit(rng, n)
    return [
        StorePoint(
            id=str(uuid.UUID(int=i + 1)),
            dense=dense[i].tolist(),
            sparse=encoder.document(text(rng, int(rng.integers(10, 60)))),
            payload={
                "tenant_id": TENANT,
                "user_id": f"u{i % users}",
                "source_type": "message",
                "occurred_ts": 1.7e9 + i,
                "recorded_ts": 1.7e9 + i,
                "memory_id": f"m{i}",
            },
        )
        for i in range(n)
    ]


async def latencies(queries: int, run: Callable[[int], Awaitable[object]]) -> list[float]:
    await run(0)  # warm-up
    times = []
    for q in range(queries):
        start = time.perf_counter()
        await run(q)
        times.append((time.perf_counter() - start) * 1000)
    return times


def p(times: list[float], pct: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[pct - 1]


async def measure(kind: str, n: int, args: argparse.Namespace) -> dict[str, float]:
    points = dataset(n, args.users, args.seed)
    rng, encoder = np.random.default_rng(args.seed + 1), SparseEncoder()
    query_dense = unit(rng, args.queries + 1).tolist()
    query_sparse = [encoder.query(text(rng, 3)) for _ in range(args.queries + 1)]
    subjects = [f"u{u}" for u in rng.integers(0, args.users, args.queries + 1)]

    def search(store: VectorStore, mode: str) -> Callable[[int], Awaitable[object]]:
        def run(q: int) -> Awaitable[object]:
            where = StoreFilter(tenant_id=TENANT, user_id=subjects[q])
            return store.search(query_dense[q], query_sparse[q], where, 10, mode=mode)  # type: ignore[arg-type]

        return run

    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        folder = Path(tmp) / kind
        store = STORES[kind](folder)
        await store.ensure(DIM)
        start = time.perf_counter()
        for i in range(0, n, args.batch):
            await store.upsert(points[i : i + args.batch])
        upsert_s = time.perf_counter() - start
        dense = await latencies(args.queries, search(store, "vector"))
        hybrid = await latencies(args.queries, search(store, "hybrid"))
        await store.close()
        start = time.perf_counter()
        store = STORES[kind](folder)
        await store.ensure(DIM)
        await search(store, "vector")(0)
        reopen_s = time.perf_counter() - start
        await store.close()
        # Allocated blocks, not apparent sizes: the engines preallocate sparse files.
        disk = sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file())
    return {
        "upsert/s": n / upsert_s,
        "dense p50": p(dense, 50),
        "dense p95": p(dense, 95),
        "hybrid p50": p(hybrid, 50),
        "hybrid p95": p(hybrid, 95),
        "reopen s": reopen_s,
        "disk MiB": disk / 2**20,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", nargs="+", choices=list(STORES), default=list(STORES))
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        f"{DIM}-d cosine + BM25 sparse (IDF), 1 tenant x {args.users} subjects, "
        f"filter tenant+subject, limit 10, {args.queries} queries, upsert batches of {args.batch}"
    )
    columns = ["upsert/s", "dense p50", "dense p95", "hybrid p50", "hybrid p95", "reopen s"]
    columns.append("disk MiB")
    print(f"{'store':<13}{'N':>7}" + "".join(f"{c:>12}" for c in columns) + "   (latency in ms)")
    for n in args.sizes:
        for kind in args.stores:
            row = await measure(kind, n, args)
            cells = "".join(f"{row[c]:>12.{0 if c == 'upsert/s' else 2}f}" for c in columns)
            print(f"{kind:<13}{n:>7}{cells}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
