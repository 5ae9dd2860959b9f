"""LoCoMo evidence recall of the retrieval service's own `MemoryIndex`, in this process.

The same index, store (qdrant-edge in a temporary folder), embedder and ranking as the
service, without the gateway, the log and the bus: every turn is indexed as the event
ingest would record, then every question is searched. For trying ranking changes in
seconds rather than minutes; `make bench-locomo` (bench/locomo.py) is the figure of record
and goes through the public API. Prints figures; asserts nothing.

Usage: python bench/locomo_inprocess.py [--conversations conv-26] [--cache DIR] [--misses]
`--cache` keeps the vectors of texts already embedded (keyed by model and text), so a rerun
after a ranking change embeds nothing.
"""

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
from locomo_data import CATEGORIES, QA, Conversation, Turn, load
from locomo_metrics import Recall, format_intervals, format_table, percentile

from mnemo.contracts import Envelope, MemoryRecorded, SearchQuery, derived_id
from mnemo.embeddings import Embedder, embedder_from_settings
from mnemo.retrieval.contents import MemoryText
from mnemo.retrieval.index import ChunkContext, MemoryIndex, dense_text
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder
from mnemo.retrieval.turns import Turn as SpokenTurn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
TENANT = "t_locomo"


class CachedEmbedder:
    """An embedder that remembers its vectors in a folder, by model and text."""

    def __init__(self, inner: Embedder, folder: Path) -> None:
        self._inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._path = folder / (hashlib.sha1(inner.name.encode()).hexdigest()[:12] + ".npz")
        self._vectors: dict[str, list[float]] = {}
        if self._path.exists():
            saved = np.load(self._path, allow_pickle=False)
            texts, vectors = saved["texts"].tolist(), saved["vectors"].tolist()
            self._vectors = dict(zip(texts, vectors, strict=True))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._inner.embed(missing), strict=True))
        return [self._vectors[t] for t in texts]

    def save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        vectors = np.array([self._vectors[t] for t in texts])
        np.savez(self._path, texts=np.array(texts), vectors=vectors)


class RecordedMemories:
    """The service's `MemoryTable.preceding` and `.contents`, over the memories this run
    has indexed (in memory: search times here leave out the service's one query)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str, str], list[Envelope]] = {}
        self._texts: dict[tuple[str, str], MemoryText] = {}

    def record_all(self, envelopes: list[Envelope]) -> None:
        for e in envelopes:
            assert isinstance(e.data, MemoryRecorded) and e.data.session_id
            key = (e.tenant_id, e.data.user_id, e.data.session_id)
            self._sessions.setdefault(key, []).append(e)
            self._texts[(e.tenant_id, e.data.memory_id)] = MemoryText(
                e.data.content, e.data.metadata
            )

    async def contents(self, tenant_id: str, memory_ids: list[str]) -> dict[str, MemoryText]:
        found = ((m, self._texts.get((tenant_id, m))) for m in memory_ids)
        return {m: text for m, text in found if text is not None}

    async def preceding(self, envelopes: list[Envelope]) -> dict[str, SpokenTurn]:
        found = {}
        for e in envelopes:
            assert isinstance(e.data, MemoryRecorded) and e.data.session_id
            mine = (e.occurred_at, e.global_position)
            earlier = [
                o
                for o in self._sessions[(e.tenant_id, e.data.user_id, e.data.session_id)]
                if (o.occurred_at, o.global_position) < mine
                and isinstance(o.data, MemoryRecorded)
                and o.data.agent_id == e.data.agent_id  # as the service: the same agent's
            ]
            if earlier:
                last = max(earlier, key=lambda o: (o.occurred_at, o.global_position)).data
                assert isinstance(last, MemoryRecorded)
                found[e.data.memory_id] = SpokenTurn(last.metadata.get("author"), last.content)
        return found


def envelope(conv: Conversation, turn: Turn, position: int) -> Envelope:
    item = turn.ingest_item(f"u_{conv.sample_id}")
    memory_id = derived_id(conv.sample_id, turn.dia_id)
    now = datetime.now(UTC)
    return Envelope(
        event_id=derived_id(memory_id, "event"),
        event_type="memory.recorded",
        tenant_id=TENANT,
        stream_id=f"memory-{memory_id}",
        stream_version=1,
        global_position=position,
        occurred_at=turn.date,
        recorded_at=now,
        correlation_id=memory_id,
        causation_id=memory_id,
        actor="bench",
        service="ingest",
        data=MemoryRecorded(
            memory_id=memory_id,
            user_id=item["userId"],
            content=item["content"],
            source_type=item["sourceType"],
            session_id=item["sessionId"],
            metadata=item["metadata"],
        ),
    )


@dataclass(frozen=True)
class Answer:
    """One question's ranking: the turns found, best first, and the search's time."""

    conversation: str
    qa: QA
    ranked: list[str]
    ms: float


@asynccontextmanager
async def indexed(
    args: argparse.Namespace,
    dense: Callable[[ChunkContext], str] = dense_text,
    embedder: Embedder | None = None,
) -> AsyncIterator[tuple[MemoryIndex, list[Conversation]]]:
    """The conversations indexed as the service would, in a temporary store; `dense` makes
    the text of the dense vectors and `embedder` embeds it, else `args.embedder`'s kind
    (bench/dense_text.py tries others)."""
    only = [s.strip() for s in args.conversations.split(",") if s.strip()] or None
    conversations = load(Path(args.data), only)
    if embedder is None:
        embedder = embedder_from_settings(args.embedder, precision=args.precision)
    cached = CachedEmbedder(embedder, Path(args.cache)) if args.cache else None
    with tempfile.TemporaryDirectory(prefix="mnemo-locomo-") as folder:
        recorded = RecordedMemories()
        index = MemoryIndex(
            EdgeVectorStore(folder),
            cached or embedder,
            SparseEncoder(),
            recorded,
            turns=recorded,
            dense_text=dense,
        )
        await index.ensure()
        started = time.perf_counter()
        envelopes = [
            envelope(conv, turn, n)
            for conv in conversations
            for n, turn in enumerate(conv.turns, start=1)
        ]
        for start in range(0, len(envelopes), 256):
            # The read model first, as the service writes it.
            recorded.record_all(envelopes[start : start + 256])
            await index.index_all(envelopes[start : start + 256])
        print(f"{len(envelopes)} turns indexed in {time.perf_counter() - started:.1f}s")
        try:
            yield index, conversations
        finally:
            await index.close()
            if cached:
                cached.save()


async def ask(index: MemoryIndex, conversations: list[Conversation]) -> list[Answer]:
    """Every question with evidence, searched (limit 20), in the data's order."""
    answers = []
    for conv in conversations:
        for qa in conv.qa:
            if not qa.evidence:
                continue
            query = SearchQuery(
                tenant_id=TENANT, user_id=f"u_{conv.sample_id}", query=qa.question, limit=20
            )
            t0 = time.perf_counter()
            hits = await index.search(query)
            ms = (time.perf_counter() - t0) * 1000
            ranked = list(dict.fromkeys(h.metadata["dia_id"] for h in hits))
            answers.append(Answer(conv.sample_id, qa, ranked, ms))
    return answers


async def run(
    args: argparse.Namespace,
    dense: Callable[[ChunkContext], str] = dense_text,
    embedder: Embedder | None = None,
) -> dict[str, dict[str, float | int | None]]:
    """Index the conversations, ask their questions, print and return the recall table."""
    async with indexed(args, dense, embedder) as (index, conversations):
        answers = await ask(index, conversations)
    recall = Recall(CATEGORIES)
    misses = []
    for a in answers:
        recall.add(a.qa.category, a.ranked, a.qa.evidence)
        if args.misses and not set(a.qa.evidence) <= set(a.ranked[:10]):
            ranks = {e: a.ranked.index(e) + 1 if e in a.ranked else None for e in a.qa.evidence}
            misses.append(f"[{CATEGORIES[a.qa.category]}] {a.qa.question} {ranks}")
    latencies = [a.ms for a in answers]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"search p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(format_table(recall.table(), CATEGORIES))
    print(format_intervals(recall.table(), CATEGORIES))
    if args.misses:
        print("\n".join(misses))
    return recall.table()


def arguments(parser: argparse.ArgumentParser) -> None:
    """The options every in-process LoCoMo bench takes."""
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--conversations", default="")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument(
        "--precision",
        default=default_precision(),
        help="MiniLM's: int8 (the service's default) or float32",
    )
    parser.add_argument("--cache", default="", help="folder keeping embedded vectors")


def default_precision() -> str:
    """MiniLM's precision as the retrieval service has it by default (its settings say)."""
    return next(
        f.default
        for f in msgspec.structs.fields(RetrievalSettings)
        if f.name == "embedding_precision"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments(parser)
    parser.add_argument("--misses", action="store_true", help="list questions missed at 10")
    parser.add_argument("--json", default="", help="write the recall table here")
    args = parser.parse_args()
    table = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
