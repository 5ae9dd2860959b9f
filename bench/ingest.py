"""Ingest throughput and 202->searchable lag of a whole local stack, at a stated load.

Two lags: 202 -> keyword-searchable (its `memory.indexed` step in the audit, from the
`memories.indexed` signal of its batch: phase 1 stored the memory
with its words; keyword and hybrid search find it) and 202 -> dense-complete (phase 2 gave
it its dense vector: vector search finds it too), watched in `retrieval.dense_pending`.

Prints figures; never asserts on them. Usage:

    python bench/ingest.py [--items N] [--concurrency C] [--rate R] [--batch B]
                           [--search-rate S [--prefill P] [--baseline-s T]]

Without --rate, C clients send as fast as they can (a closed loop: the throughput). With
--rate R, requests leave on a fixed schedule of R items/s whatever the answers (an open
loop: the lag at that load); --batch B sends B items per POST /v1/ingest/batch.

With --search-rate S, searches leave on a fixed schedule of S a second (open loop) through
`GET /v1/search`, each for one of the bench's users, alternately a LoCoMo dev question and
words of the ingested texts: first, once P items were ingested and are dense-complete, for
T seconds with nothing else running (the baseline), then during the ingest load. For each
period it prints search p50/p95/max (every answer, and the 200s alone) and the answers by
HTTP status: 200, 503 (shed), 504, other, and client errors.
"""

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


USERS = 50
# Items numbered from here are the prefill of --search-rate, apart from the measured load.
PREFILL_FROM = 10_000_000
LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"


def item(i: int) -> dict[str, str]:
    return {
        "userId": f"bench-user-{i % USERS}",
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


def search_queries(count: int = 400, seed: int = 7) -> list[str]:
    """Alternately a LoCoMo dev question (when the data is there) and words of the texts
    `item` ingests, shuffled."""
    rng = random.Random(seed)
    questions = []
    if LOCOMO.exists():
        questions = [qa["question"] for s in json.loads(LOCOMO.read_text()) for qa in s["qa"]]
    words = [
        rng.choice(
            [
                f"Where do I like hiking near lake {rng.randrange(97)}?",
                f"lake {rng.randrange(97)} friends",
                "Who do I go hiking with?",
                f"Bench memory {rng.randrange(5000)}",
            ]
        )
        for _ in range(count)
    ]
    picked = rng.sample(questions, min(count, len(questions))) if questions else words
    return [q for pair in zip(picked, words, strict=False) for q in pair][:count] or words


async def searching(
    base: str, key: str, rate: float, period: str, stop: Any, ready: Any, seconds: float
) -> list[tuple[str, float]]:
    """Searches at `rate` a second (open loop) until `stop` is set, or for `seconds` when
    given: each answer's status and latency."""
    answers: list[tuple[str, float]] = []
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(period)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:

        async def one(query: str) -> None:
            params: dict[str, str | int] = {
                "userId": f"bench-user-{rng.randrange(USERS)}",
                "q": query,
                "limit": 10,
            }
            began = time.perf_counter()
            try:
                response = await client.get("/v1/search", params=params)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            answers.append((status, (time.perf_counter() - began) * 1000))

        ready.set()
        start = time.perf_counter()
        tasks = []
        for n, query in enumerate(itertools.cycle(search_queries())):
            due = start + n / rate
            if stop.is_set() or (seconds and due - start >= seconds):
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(query)))
        await asyncio.gather(*tasks)
    return answers


def search_process(
    base: str, key: str, rate: float, period: str, stop: Any, ready: Any, seconds: float, out: str
) -> None:
    answers = asyncio.run(searching(base, key, rate, period, stop, ready, seconds))
    Path(out).write_text(json.dumps(answers))


class Searches:
    """Open-loop searches at `rate` a second, by period; each answer's status and latency.
    They run in a process of their own, so that the load's client (its sending, its
    polling of the database) does not delay them: the latency is the stack's."""

    def __init__(self, base: str, key: str, rate: float) -> None:
        self.base, self.key, self.rate = base, key, rate
        self.answers: dict[str, list[tuple[str, float]]] = {}
        self._mp = multiprocessing.get_context("spawn")

    def start(self, period: str, seconds: float = 0.0) -> "Callable[[], Awaitable[None]]":
        """Start searching; the function returned stops (unless `seconds` ends it first)
        and waits for the answers."""
        stop, ready = self._mp.Event(), self._mp.Event()
        out = Path(tempfile.mkdtemp(prefix="mnemo-bench-search-")) / "answers.json"
        args = (self.base, self.key, self.rate, period, stop, ready, seconds, str(out))
        process = self._mp.Process(target=search_process, args=args, daemon=True)
        process.start()
        if not ready.wait(120):
            raise SystemExit("the search process did not start")

        async def finish() -> None:
            if not seconds:
                stop.set()
            await asyncio.to_thread(process.join)
            answers = json.loads(await asyncio.to_thread(out.read_text))
            self.answers[period] = [tuple(a) for a in answers]

        return finish

    def report(self) -> None:
        for period, answers in self.answers.items():
            if not answers:
                print(f"search {period}: no searches")
                continue
            statuses = Counter(s for s, _ in answers)
            ok = [ms for s, ms in answers if s == "200"]
            every = [ms for _, ms in answers]
            other = sum(n for s, n in statuses.items() if s not in ("200", "503", "504"))
            print(
                f"search {period}: {len(answers)} at {self.rate:g}/s;"
                f" p50 {statistics.median(every):.1f} ms, p95 {pct(every, 95):.1f} ms,"
                f" max {max(every):.0f} ms"
                + (
                    f" (200s alone: p50 {statistics.median(ok):.1f}, p95 {pct(ok, 95):.1f})"
                    if ok and len(ok) < len(answers)
                    else ""
                )
                + f"; 200: {statuses['200']}, 503 shed: {statuses['503']},"
                f" 504: {statuses['504']}, other: {other}"
                + (f" ({dict(statuses)})" if other else "")
            )


async def prefill(base: str, key: str, dsn: str, items: int, timeout: float) -> float:
    """Ingest `items` items (numbered apart from the load's) and wait until every one is
    dense-complete; the seconds it took."""
    began = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"}
    numbers = list(range(PREFILL_FROM, PREFILL_FROM + items))
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for start in range(0, len(numbers), 50):
            ids += await send(client, numbers[start : start + 50])
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            complete, _ = await dense_complete(conn)
            if complete.issuperset(ids):
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return time.perf_counter() - began


async def load(
    base: str,
    key: str,
    items: int,
    concurrency: int,
    rate: float,
    batch: int,
    accepted: dict[str, datetime],
    refused: Counter[str],
) -> float:
    """Send the items; fills `accepted` (memory id -> when its 202 came) as they go, and
    `refused` (items by status and problem code) with those not accepted."""
    requests = [list(range(i, min(i + batch, items))) for i in range(0, items, batch)]
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one(numbers: list[int]) -> None:
            try:
                ids = await send(client, numbers)
            except httpx.HTTPStatusError as exc:
                # Counted, not retried: an open loop goes on whatever the answers.
                code = exc.response.json().get("code", "") if exc.response.content else ""
                refused[f"{exc.response.status_code} {code}".strip()] += len(numbers)
                return
            except httpx.TransportError as exc:  # no answer at all (the client's side)
                refused[type(exc).__name__] += len(numbers)
                return
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
    base: str,
    key: str,
    dsn: str,
    args: argparse.Namespace,
    searches: Searches | None,
    refused: Counter[str],
) -> tuple[float, dict[str, datetime], dict[str, object]]:
    """The load, with phase 2 watched while it runs (and searches, when asked)."""
    if searches is not None:
        took = await prefill(base, key, dsn, args.prefill, args.timeout)
        print(f"prefill: {args.prefill} items dense-complete in {took:.1f} s")
        await searches.start("baseline (no ingest)", args.baseline_s)()
    accepted: dict[str, datetime] = {}
    loading = asyncio.Event()
    loading.set()
    watcher = asyncio.create_task(watch_dense(dsn, accepted, loading, args.timeout))
    finish = searches.start("during the ingest load") if searches is not None else None
    try:
        elapsed = await load(
            base, key, args.items, args.concurrency, args.rate, args.batch, accepted, refused
        )
    finally:
        loading.clear()
        if finish is not None:
            await finish()
    return elapsed, accepted, await watcher


async def observe(dsn: str, accepted: dict[str, datetime], timeout: float) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            indexed = await conn.fetchval(
                "SELECT count(*) FROM audit.entries WHERE type = 'memory.indexed'"
                " AND data->>'memory_id' = ANY($1::text[])",
                list(accepted),
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
    parser.add_argument(
        "--search-rate", type=float, default=0, help="searches/s during the load (open loop)"
    )
    parser.add_argument("--prefill", type=int, default=1000, help="items searched before")
    parser.add_argument("--baseline-s", type=float, default=20, help="searches with no load")
    args = parser.parse_args()

    with local_stack() as local:
        base, key, dsn = local.base_url, local.api_key, local.database_url
        print(f"machine: {describe(machine())}, load average {os.getloadavg()[0]:.2f}")
        pace = f"at {args.rate:.0f} items/s" if args.rate else f"{args.concurrency} clients"
        print(
            f"load: {args.items} items, {args.batch} per request, {pace}, one stack"
            " (one replica of each service)"
        )
        searches = Searches(base, key, args.search_rate) if args.search_rate > 0 else None
        refused: Counter[str] = Counter()
        elapsed, accepted, dense = asyncio.run(measure(base, key, dsn, args, searches, refused))
        rate = len(accepted) / elapsed
        print(
            f"accepted: {len(accepted)} in {elapsed:.2f}s = {rate:.0f}/s at the gateway"
            + (f"; not accepted (items): {dict(refused)}" if refused else "")
        )
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
        if searches is not None:
            searches.report()
        print(f"cpu seconds by process: {cpu_by_process(local.pid)}")
        print(f"load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
