"""LoCoMo evidence-recall benchmark of Mnemo's search, through the public API only.

Each turn of each conversation is ingested as one memory (POST /v1/ingest/batch), then every
QA question is searched (GET /v1/search, limit 20) and the hits are mapped back to dialogue
turns by metadata.dia_id. Prints the machine, the settings, ingest items/s, search latency
(p50/p95) and evidence recall all@k / frac@k (k = 5, 10, 20) per category and overall, and
writes the same as JSON to bench/results/locomo-<timestamp>.json. Prints figures; asserts
nothing about them.

Data: /work/shared/data/locomo/locomo_dev.json, five of the ten LoCoMo conversations
(Maharana et al., "Evaluating Very Long-Term Conversational Memory of LLM Agents", ACL 2024;
snap-research/LoCoMo). Licence: CC BY-NC 4.0, research and non-commercial use only.

Usage: python bench/locomo.py [--conversations conv-26,conv-30] [--base-url URL --api-key KEY]
Without --base-url it starts its own stack like bench/ingest.py: embedded NATS and PostgreSQL
(unless MNEMO_NATS_URL / MNEMO_DATABASE_URL are set), then `mnemo run` with a temporary
MNEMO_HOME, a free port and a generated development key.
"""

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from local_stack import local_stack, machine
from locomo_data import CATEGORIES, Conversation, load
from locomo_metrics import (
    KS,
    Recall,
    format_intervals,
    format_table,
    percentile,
    ranked_dia_ids,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
RESULTS = ROOT / "bench" / "results"
BASELINES = (
    "BM25 with speaker + date: all@5 0.520, all@10 0.579, frac@10 0.617; "
    "MiniLM dense alone ≈ 0.42 all@10"
)
MAX_BATCH = 50
MAX_SEARCH_LIMIT = 50


async def call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One API call, waiting out 429 (Retry-After) and retrying a 503 a few times."""
    for attempt in range(20):
        response = await client.request(method, url, **kwargs)
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code == 503 and attempt < 5:
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        if response.is_error:
            raise SystemExit(f"{method} {url} -> {response.status_code}: {response.text[:500]}")
        return response
    raise SystemExit(f"{method} {url}: still rate-limited after 20 attempts")


@dataclass
class Figures:
    ingest_seconds: float = 0.0
    accepted: int = 0
    indexed_seconds: float = 0.0
    indexed: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


async def ingest(
    client: httpx.AsyncClient,
    conversations: list[Conversation],
    users: dict[str, str],
    batch_size: int,
    concurrency: int,
    figures: Figures,
) -> None:
    batches: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for conv in conversations:
        items = [turn.ingest_item(users[conv.sample_id]) for turn in conv.turns]
        for start in range(0, len(items), batch_size):
            batches.put_nowait(items[start : start + batch_size])

    async def worker() -> None:
        while not batches.empty():
            batch = batches.get_nowait()
            response = await call(client, "POST", "/v1/ingest/batch", json={"items": batch})
            figures.accepted += int(response.json()["queued"])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    figures.ingest_seconds = time.perf_counter() - start


async def wait_indexed(
    client: httpx.AsyncClient,
    conversations: list[Conversation],
    users: dict[str, str],
    timeout: float,
    settle: float,
    figures: Figures,
) -> bool:
    """Poll GET /v1/memories until every user's total is its number of turns."""
    want = {conv.sample_id: len(conv.turns) for conv in conversations}
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        for sample_id, count in want.items():
            if figures.indexed.get(sample_id) == count:
                continue
            params = {"userId": users[sample_id], "limit": 1}
            response = await call(client, "GET", "/v1/memories", params=params)
            figures.indexed[sample_id] = int(response.json()["total"])
        if all(figures.indexed.get(s) == n for s, n in want.items()):
            figures.indexed_seconds = time.perf_counter() - start
            # The read model is written just before the vectors are upserted: let them land.
            await asyncio.sleep(settle)
            return True
        if time.monotonic() > deadline:
            figures.indexed_seconds = time.perf_counter() - start
            return False
        await asyncio.sleep(0.5)


async def wait_dense(dsn: str, timeout: float) -> bool:
    """Poll retrieval.dense_pending until it is empty (every chunk has its dense vector)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await conn.fetchval("SELECT count(*) FROM retrieval.dense_pending"):
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await conn.close()


async def search_all(
    client: httpx.AsyncClient,
    conversations: list[Conversation],
    users: dict[str, str],
    limit: int,
    concurrency: int,
    recall: Recall,
    figures: Figures,
) -> list[dict[str, Any]]:
    jobs: asyncio.Queue[tuple[Conversation, Any]] = asyncio.Queue()
    for conv in conversations:
        for qa in conv.qa:
            if qa.evidence:
                jobs.put_nowait((conv, qa))
    per_qa: list[dict[str, Any]] = []

    async def worker() -> None:
        while not jobs.empty():
            conv, qa = jobs.get_nowait()
            params = {"userId": users[conv.sample_id], "q": qa.question, "limit": limit}
            for _ in range(20):
                start = time.perf_counter()
                response = await client.get("/v1/search", params=params)
                elapsed_ms = (time.perf_counter() - start) * 1000
                if response.status_code != 429:
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            if response.is_error:
                raise SystemExit(f"GET /v1/search -> {response.status_code}: {response.text}")
            figures.latencies_ms.append(elapsed_ms)
            ranked = ranked_dia_ids(response.json()["results"])
            recall.add(qa.category, ranked, qa.evidence)
            per_qa.append(
                {
                    "conversation": conv.sample_id,
                    "qa": qa.index,
                    "category": qa.category,
                    "evidence": qa.evidence,
                    "rank": {e: ranked.index(e) + 1 if e in ranked else None for e in qa.evidence},
                }
            )

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    per_qa.sort(key=lambda r: (r["conversation"], r["qa"]))
    return per_qa


async def bench(
    args: argparse.Namespace, base: str, key: str, dsn: str | None = None
) -> dict[str, Any]:
    only = [s.strip() for s in args.conversations.split(",") if s.strip()] or None
    conversations = load(Path(args.data), only)
    nonce = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + os.urandom(3).hex()
    users = {c.sample_id: f"locomo-{c.sample_id}-{nonce}" for c in conversations}
    turns = sum(len(c.turns) for c in conversations)
    qa_total = sum(len(c.qa) for c in conversations)
    skipped = [
        {"conversation": c.sample_id, "qa": qa.index, "question": qa.question}
        for c in conversations
        for qa in c.qa
        if not qa.evidence
    ]
    normalised = [
        {
            "conversation": c.sample_id,
            "qa": qa.index,
            "raw": qa.raw_evidence,
            "evidence": qa.evidence,
            "dropped": qa.dropped,
        }
        for c in conversations
        for qa in c.qa
        if qa.normalised
    ]
    settings = {
        "base_url": base,
        "external_stack": bool(args.base_url),
        "data": str(args.data),
        "conversations": [c.sample_id for c in conversations],
        "search_limit": args.limit,
        "ks": list(KS),
        "batch_size": args.batch_size,
        "ingest_concurrency": args.ingest_concurrency,
        "search_concurrency": args.search_concurrency,
        "index_timeout_s": args.index_timeout,
        "settle_s": args.settle,
        "run_nonce": nonce,
    }
    figures = Figures()
    recall = Recall(CATEGORIES)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=max(args.ingest_concurrency, args.search_concurrency))
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:
        print(f"ingesting {turns} turns of {len(conversations)} conversations ...", flush=True)
        await ingest(
            client, conversations, users, args.batch_size, args.ingest_concurrency, figures
        )
        print(f"waiting until indexed (timeout {args.index_timeout:.0f}s) ...", flush=True)
        complete = await wait_indexed(
            client, conversations, users, args.index_timeout, args.settle, figures
        )
        if not complete:
            print(f"WARNING: not all indexed in time: {figures.indexed}", flush=True)
        # Keyword-searchable is not the end: wait for every dense vector (phase 2).
        if dsn is not None and not await wait_dense(dsn, args.index_timeout):
            print("WARNING: dense vectors still pending; vector scores undercount", flush=True)
        print(f"searching {qa_total - len(skipped)} questions ...", flush=True)
        per_qa = await search_all(
            client, conversations, users, args.limit, args.search_concurrency, recall, figures
        )
    indexed_total = sum(figures.indexed.values())
    return {
        "benchmark": "locomo-evidence-recall",
        "started_at": nonce[:14],
        "machine": {**machine(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "settings": settings,
        "counts": {
            "conversations": len(conversations),
            "turns": turns,
            "qa_total": qa_total,
            "qa_evaluated": recall.overall.n,
            "qa_skipped_no_evidence": len(skipped),
            "qa_with_normalised_evidence": len(normalised),
            "qa_with_dropped_evidence_ids": sum(1 for n in normalised if n["dropped"]),
        },
        "ingest": {
            "accepted": figures.accepted,
            "seconds": round(figures.ingest_seconds, 3),
            "items_per_s": figures.accepted / figures.ingest_seconds,
            "indexed": indexed_total,
            "indexed_complete": complete,
            "seconds_to_indexed_after_ingest": round(figures.indexed_seconds, 3),
            "indexed_per_s_from_first_ingest": indexed_total
            / max(figures.ingest_seconds + figures.indexed_seconds, 1e-9),
        },
        "search": {
            "queries": len(figures.latencies_ms),
            "p50_ms": percentile(figures.latencies_ms, 50) if figures.latencies_ms else None,
            "p95_ms": percentile(figures.latencies_ms, 95) if figures.latencies_ms else None,
        },
        "recall": recall.table(),
        "categories": {str(k): v for k, v in CATEGORIES.items()},
        "baselines": BASELINES,
        "skipped": skipped,
        "normalised_evidence": normalised,
        "per_qa": per_qa,
    }


def report(result: dict[str, Any]) -> str:
    m, s, c = result["machine"], result["settings"], result["counts"]
    ing, srch = result["ingest"], result["search"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB, Python {m['python']}"
        f", load average {m.get('load_average_1m', '?')} (1 min, at the end)",
        f"settings: {'gateway ' + s['base_url'] if s['external_stack'] else 'own stack'},"
        f" search limit {s['search_limit']}, batches of {s['batch_size']}"
        f" x {s['ingest_concurrency']} concurrent, searches {s['search_concurrency']}"
        f" concurrent, run nonce {s['run_nonce']}",
        f"counts: {c['conversations']} conversations ({', '.join(s['conversations'])}),"
        f" {c['turns']} turns, QA {c['qa_evaluated']} evaluated /"
        f" {c['qa_skipped_no_evidence']} skipped (no valid evidence),"
        f" evidence ids normalised for {c['qa_with_normalised_evidence']} QA"
        f" (ids dropped for {c['qa_with_dropped_evidence_ids']})",
        f"ingest: {ing['accepted']} accepted in {ing['seconds']:.2f}s ="
        f" {ing['items_per_s']:.0f} items/s; all indexed"
        f" {ing['seconds_to_indexed_after_ingest']:.1f}s later"
        f" ({ing['indexed_per_s_from_first_ingest']:.0f} items/s end to end)"
        + ("" if ing["indexed_complete"] else f" -- INCOMPLETE, {ing['indexed']} indexed"),
        f"search: {srch['queries']} queries, p50 {srch['p50_ms'] or float('nan'):.1f} ms,"
        f" p95 {srch['p95_ms'] or float('nan'):.1f} ms (client wall time)",
        "",
        format_table(result["recall"], CATEGORIES),
        "",
        format_intervals(result["recall"], CATEGORIES),
        "",
        f"baselines (measured elsewhere on this dev set): {result['baselines']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the LoCoMo JSON file")
    parser.add_argument(
        "--conversations", default="", help="sample ids, comma-separated (default: all)"
    )
    parser.add_argument("--base-url", help="use this running gateway instead of a stack")
    parser.add_argument("--api-key", help="its API key (with --base-url)")
    parser.add_argument("--limit", type=int, default=max(KS), help="search results per query")
    parser.add_argument("--batch-size", type=int, default=MAX_BATCH)
    parser.add_argument("--ingest-concurrency", type=int, default=4)
    parser.add_argument("--search-concurrency", type=int, default=1)
    parser.add_argument(
        "--index-timeout", type=float, default=600, help="seconds to wait until indexed"
    )
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds to wait after the totals match"
    )
    parser.add_argument("--output", default=str(RESULTS), help="directory for the JSON")
    args = parser.parse_args()
    if bool(args.base_url) != bool(args.api_key):
        parser.error("--base-url and --api-key go together")
    if not 1 <= args.batch_size <= MAX_BATCH:
        parser.error(f"--batch-size must be 1..{MAX_BATCH}")
    if not max(KS) <= args.limit <= MAX_SEARCH_LIMIT:
        parser.error(f"--limit must be {max(KS)}..{MAX_SEARCH_LIMIT}")

    if args.base_url:
        result = asyncio.run(bench(args, args.base_url.rstrip("/"), args.api_key))
    else:
        with local_stack("mnemo-locomo-") as local:
            base, key = local.base_url, local.api_key
            result = asyncio.run(bench(args, base, key, local.database_url))
    print()
    print(report(result))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"locomo-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
