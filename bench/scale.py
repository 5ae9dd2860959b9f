"""Search latency with many memories stored: 100k points, 10k of them the queried user's.

The retrieval service's vector store (qdrant-edge, in the stack's MNEMO_HOME) and its
memories read model (which search hits take their words from) are seeded before the
services start, through the service's own `MemoryIndex` and `MemoryTable`, with LoCoMo
turns: the
queried user holds the dev set's turns repeated to `--user-memories`, and other users the
rest. Each distinct text is embedded once (MiniLM) and its vector reused: the cost of a
search does not depend on which vectors are stored, and embedding 100k texts on two cores
would take longer than the rest of the run. Then LoCoMo questions are asked through
GET /v1/search (hybrid, limit 10, one at a time) and the client wall time is reported, with
the same searches run in process first (what the index itself costs, without HTTP and
NATS). Prints figures; asserts nothing.

Usage: python bench/scale.py [--memories 100000] [--user-memories 10000] [--queries 300]
"""

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
from local_stack import describe, local_stack, machine
from locomo_data import Conversation, load
from locomo_metrics import percentile

from mnemo.contracts import Envelope, MemoryRecorded, SearchQuery
from mnemo.embeddings import Embedder, MiniLMEmbedder
from mnemo.eventlog import connect, migrate
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import SQL, MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
QUERIED = "scale-user-0"


class OnceEmbedder:
    """Embeds each distinct text once and hands out its vector again after that."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._vectors: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._inner.embed(missing), strict=True))
        return [self._vectors[t] for t in texts]


def memories(
    conversations: list[Conversation], total: int, per_user: int, tenant: str
) -> list[Envelope]:
    """`total` memories: the first `per_user` the queried user's, then users of `per_user`."""
    turns = [(c.sample_id, t) for c in conversations for t in c.turns]
    now = datetime.now(UTC)
    out = []
    for n in range(total):
        sample, turn = turns[n % len(turns)]
        user = f"scale-user-{n // per_user}"
        memory_id = str(uuid.uuid4())
        out.append(
            Envelope(
                event_id=str(uuid.uuid4()),
                event_type="memory.recorded",
                tenant_id=tenant,
                stream_id=f"memory-{memory_id}",
                stream_version=1,
                global_position=n + 1,
                occurred_at=turn.date,
                recorded_at=now,
                correlation_id=memory_id,
                causation_id=memory_id,
                actor="bench",
                service="ingest",
                data=MemoryRecorded(
                    memory_id=memory_id,
                    user_id=user,
                    content=turn.content,
                    source_type="conversation",
                    # Sessions repeat per pass over the turns, as a long-lived user's would.
                    session_id=f"{sample}-{n // len(turns)}-s{turn.session}",
                    metadata={"author": turn.speaker, "dia_id": turn.dia_id},
                ),
            )
        )
    return out


async def seed(
    folder: Path, dsn: str, envelopes: list[Envelope], questions: list[str]
) -> list[float]:
    """Record the memories in the read model and index them into the store at `folder`;
    in-process search times (ms)."""
    pool = await connect(dsn, max_size=2)
    async with pool.acquire() as conn:
        await migrate(conn, "retrieval", SQL)
    memories = MemoryTable(pool)
    index = MemoryIndex(
        EdgeVectorStore(folder), OnceEmbedder(MiniLMEmbedder()), SparseEncoder(), memories
    )
    await index.ensure()
    started = time.perf_counter()
    for start in range(0, len(envelopes), 2000):
        # The read model first, as the service writes it.
        await memories.record_all(envelopes[start : start + 2000])
        await index.index_all(envelopes[start : start + 2000])
    print(f"seeded {len(envelopes)} memories in {time.perf_counter() - started:.0f}s", flush=True)
    tenant = envelopes[0].tenant_id
    times = []
    for question in questions:
        query = SearchQuery(tenant_id=tenant, user_id=QUERIED, query=question, limit=10)
        t0 = time.perf_counter()
        await index.search(query)
        times.append((time.perf_counter() - t0) * 1000)
    await index.close()
    await pool.close()
    return times


async def search_through_api(base: str, key: str, questions: list[str]) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for question in questions[:20]:  # warm the connection and the caches
            await client.get("/v1/search", params={"userId": QUERIED, "q": question})
        for question in questions:
            params = {"userId": QUERIED, "q": question, "limit": 10}
            t0 = time.perf_counter()
            response = await client.get("/v1/search", params=params)
            times.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--user-memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    conversations = load(Path(args.data))
    questions = [qa.question for c in conversations for qa in c.qa][: args.queries]
    in_process: list[float] = []

    def prepare(home: Path, dsn: str) -> None:
        # The development key's tenant (MNEMO_DEV_TENANT): what the searches are scoped to.
        envelopes = memories(conversations, args.memories, args.user_memories, "dev")
        in_process.extend(asyncio.run(seed(home / "qdrant", dsn, envelopes, questions)))

    with local_stack("mnemo-scale-", prepare) as local:
        print(f"machine: {describe(machine())}")
        api = asyncio.run(search_through_api(local.base_url, local.api_key, questions))
    print(
        f"stored: {args.memories} memories, {args.user_memories} of them the queried user's;"
        f" {len(questions)} LoCoMo questions, hybrid, limit 10, one at a time"
    )
    for name, times in (("in process (MemoryIndex)", in_process), ("GET /v1/search", api)):
        print(
            f"search {name}: p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms"
        )


if __name__ == "__main__":
    main()
