"""Mnemo side by side with mem0's open-source library on the LoCoMo dev turns (issue #14).

mem0 (`mem0ai`, the version the dev group pins) runs in this process as its README shows,
`Memory` with `infer=False` (each turn stored as it is, no LLM), its Qdrant vector store in
local mode (embedded, on disk in a temporary folder) and the same embedder as Mnemo:
all-MiniLM-L6-v2 through `mnemo.embeddings`, at the retrieval service's precision, put in
place of mem0's embedding model by an adapter (`Mem0Embedding`). Twice: storing the plain
turns, and storing the very text Mnemo indexes for each turn (`dense_text`: names, date,
the words, the previous turn of its session). For each: sequential `add` throughput (a
turn is searchable when `add` returns), `search` p50/p95 in process (limit 20) over every
LoCoMo question with evidence, and evidence recall all@10 overall and per category
(bench/locomo_metrics.py).

Mnemo runs through its public API on a stack of its own (bench/local_stack.py) with
bench/locomo.py's steps: turns posted in batches, then the time until every memory is
listed (keyword-searchable, phase 1) and until no dense vector is pending (phase 2), then
every question through `GET /v1/search`.

mem0's hybrid extras stay off as installed here: its BM25 side needs fastembed and its
lemmas and entity boosts spaCy's en_core_web_sm, each fetching a model at run time, which
this machine forbids; without them mem0 ranks by the dense vector alone, its own fallback.
No call leaves the machine: mem0's telemetry is off (MEM0_TELEMETRY=False, set before it
is imported), its LLM and embedder configs carry a dummy key and are never called, and
`NoNetwork` refuses (and counts) every connection to an address not on this machine.

Prints figures with the machine and the load average before and after each system;
asserts nothing. Usage:

    python bench/mem0_compare.py [--conversations conv-26] [--items N] [--only mem0,mnemo]
"""

import argparse
import asyncio
import ipaddress
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from local_stack import describe, local_stack, machine
from locomo import Figures, ingest, search_all, wait_dense, wait_indexed
from locomo_data import CATEGORIES, Conversation, load
from locomo_inprocess import DEFAULT_DATA, default_precision, envelope
from locomo_metrics import OVERALL, Recall, percentile, ranked_dia_ids

from mnemo.contracts import MemoryRecorded
from mnemo.embeddings import Embedder, embedder_from_settings
from mnemo.retrieval.index import chunk_context, dense_text
from mnemo.retrieval.turns import Turn as SpokenTurn

SEARCH_LIMIT = 20
# mem0 drops hits whose similarity is under its threshold (0.1 by default); 0 keeps its
# ranking whole, so recall measures the ranking alone.
MEM0_THRESHOLD = 0.0
# Read by mem0 when it is imported: no telemetry, no notices fetched, its state here.
MEM0_ENVIRONMENT = {"MEM0_TELEMETRY": "False"}
DUMMY_KEY = "sk-unused-no-call-is-made"


# --- no network -------------------------------------------------------------------------


def is_local_address(address: Any) -> bool:
    """Whether a socket address (as `connect` takes it) stays on this machine: a Unix
    socket path, `localhost`, or a loopback IP."""
    if isinstance(address, str | bytes):
        return True  # AF_UNIX
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name other than localhost: resolving it already leaves


class NoNetwork:
    """While entered, every socket connection (and name look-up) that would leave the
    machine is refused with OSError and counted in `refused`."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    @contextmanager
    def guard(self) -> Iterator["NoNetwork"]:
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
        getaddrinfo = socket.getaddrinfo

        def check(address: Any) -> None:
            if not is_local_address(address):
                self.refused.append(repr(address))
                raise OSError(f"bench/mem0_compare.py: no network ({address!r})")

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            check(address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            check(address)
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None:
                check((host, port))
            return getaddrinfo(host, port, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = guarded_getaddrinfo
        try:
            yield self
        finally:
            socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
            socket.getaddrinfo = getaddrinfo


# --- mem0 -------------------------------------------------------------------------------


class Mem0Embedding:
    """One of our embedders with the face mem0 calls (`mem0.embeddings.base.EmbeddingBase`):
    `embed(text, memory_action)` for one vector, `embed_batch(texts, memory_action)` for
    many."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.dim = embedder.dim

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        return self._embedder.embed([text])[0]

    def embed_batch(self, texts: Sequence[str], memory_action: str | None = "add") -> list:
        return self._embedder.embed(list(texts))


def mem0_config(folder: Path, dim: int) -> dict[str, Any]:
    """mem0's `Memory` config: Qdrant in local mode on disk in `folder`, its history there
    too; the LLM and embedder entries only satisfy the constructor (never called)."""
    return {
        "vector_store": {
            "provider": "qdrant",
            "config": {
                "collection_name": "locomo",
                "embedding_model_dims": dim,
                "path": str(folder / "qdrant"),
                "on_disk": True,
            },
        },
        "embedder": {"provider": "openai", "config": {"api_key": DUMMY_KEY}},
        "llm": {"provider": "openai", "config": {"api_key": DUMMY_KEY}},
        "history_db_path": str(folder / "history.db"),
    }


def plain_texts(conv: Conversation) -> dict[str, list[str]]:
    """By turn, what mem0 stores in the plain variant: the turn's content as Mnemo gets it."""
    return {turn.dia_id: [turn.content] for turn in conv.turns}


def mnemo_texts(conv: Conversation) -> dict[str, list[str]]:
    """By turn, the text Mnemo's index embeds for each of its chunks (`dense_text` of
    `chunk_context`, the previous turn of the session included), as the in-process bench
    builds the event."""
    texts: dict[str, list[str]] = {}
    previous: dict[int, SpokenTurn] = {}
    for position, turn in enumerate(conv.turns, start=1):
        event = envelope(conv, turn, position)
        memory = event.data
        assert isinstance(memory, MemoryRecorded)
        before = previous.get(turn.session)
        texts[turn.dia_id] = [
            dense_text(chunk_context(event, memory, memory.content[s.start : s.end], before))
            for s in memory.chunk_spans()
        ]
        previous[turn.session] = SpokenTurn(memory.metadata.get("author"), memory.content)
    return texts


# --- figures ----------------------------------------------------------------------------


@dataclass
class Column:
    """One system's (or variant's) figures; a rate is None where it does not apply."""

    name: str
    items: int = 0
    accepted_s: float | None = None  # seconds until every item was accepted
    keyword_s: float | None = None  # ... keyword-searchable
    dense_s: float | None = None  # ... searchable by its dense vector too
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    search_where: str = ""
    recall: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    load_before: float = float("nan")
    load_after: float = float("nan")
    note: str = ""


def _rate(items: int, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{items / seconds:,.0f} items/s ({seconds:,.1f} s)" if seconds > 0 else "—"


def _recall_cell(row: Mapping[str, float | int | None] | None, interval: bool) -> str:
    if not row or row.get("all@10") is None:
        return "—"
    cell = f"{row['all@10']:.3f}"
    low, high = row.get("all@10_low"), row.get("all@10_high")
    if interval and low is not None and high is not None:
        cell += f" [{low:.3f}, {high:.3f}]"
    return cell


def side_by_side(columns: Sequence[Column], categories: Mapping[int, str]) -> str:
    """A Markdown table: one row per figure, one column per system."""
    rows: list[tuple[str, Callable[[Column], str]]] = [
        ("items", lambda c: f"{c.items:,}"),
        ("accepted", lambda c: _rate(c.items, c.accepted_s)),
        ("keyword-searchable", lambda c: _rate(c.items, c.keyword_s)),
        ("dense-complete", lambda c: _rate(c.items, c.dense_s)),
        (
            "search p50 / p95",
            lambda c: f"{c.p50_ms:.1f} / {c.p95_ms:.1f} ms ({c.search_where})",
        ),
        ("all@10 (95% interval)", lambda c: _recall_cell(c.recall.get(OVERALL), True)),
    ]
    for number, name in sorted(categories.items()):
        rows.append(
            (f"all@10 {name}", lambda c, key=str(number): _recall_cell(c.recall.get(key), False))
        )
    rows.append(
        ("load average before → after", lambda c: f"{c.load_before:.2f} → {c.load_after:.2f}")
    )
    lines = [
        "| | " + " | ".join(c.name for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    lines += [f"| {label} | " + " | ".join(cell(c) for c in columns) + " |" for label, cell in rows]
    return "\n".join(lines)


def load_1m() -> float:
    return os.getloadavg()[0]


def questions(conversations: Sequence[Conversation]) -> int:
    return sum(1 for c in conversations for qa in c.qa if qa.evidence)


# --- the runs ---------------------------------------------------------------------------


def run_mem0(
    name: str,
    conversations: Sequence[Conversation],
    texts_of: Callable[[Conversation], dict[str, list[str]]],
    embedder: Embedder,
) -> Column:
    from mem0 import Memory  # after MEM0_ENVIRONMENT is set

    column = Column(name, search_where="in process", load_before=load_1m())
    column.note = "add returns once searchable"
    with tempfile.TemporaryDirectory(prefix="mem0-locomo-") as tmp:
        memory = Memory.from_config(mem0_config(Path(tmp), embedder.dim))
        memory.embedding_model = Mem0Embedding(embedder)
        try:
            started = time.perf_counter()
            for conv in conversations:
                texts = texts_of(conv)
                for turn in conv.turns:
                    metadata = turn.ingest_item(conv.sample_id)["metadata"]
                    messages = [
                        {"role": "user", "content": text, "name": turn.speaker}
                        for text in texts[turn.dia_id]
                    ]
                    memory.add(messages, user_id=conv.sample_id, metadata=metadata, infer=False)
                    column.items += 1
            column.dense_s = time.perf_counter() - started
            print(f"  {name}: {column.items} turns added in {column.dense_s:.1f} s", flush=True)
            recall = Recall(CATEGORIES)
            latencies = []
            for conv in conversations:
                for qa in conv.qa:
                    if not qa.evidence:
                        continue
                    began = time.perf_counter()
                    found = memory.search(
                        qa.question,
                        top_k=SEARCH_LIMIT,
                        filters={"user_id": conv.sample_id},
                        threshold=MEM0_THRESHOLD,
                    )
                    latencies.append((time.perf_counter() - began) * 1000)
                    recall.add(qa.category, ranked_dia_ids(found["results"]), qa.evidence)
        finally:
            memory.vector_store.client.close()
    column.p50_ms, column.p95_ms = percentile(latencies, 50), percentile(latencies, 95)
    column.recall = recall.table()
    column.load_after = load_1m()
    return column


async def _mnemo_steps(
    conversations: list[Conversation], base: str, key: str, dsn: str, timeout: float
) -> Column:
    column = Column("Mnemo", search_where="through HTTP", load_before=load_1m())
    nonce = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + os.urandom(3).hex()
    users = {c.sample_id: f"locomo-{c.sample_id}-{nonce}" for c in conversations}
    figures, recall = Figures(), Recall(CATEGORIES)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        started = time.perf_counter()
        await ingest(client, conversations, users, 50, 4, figures)
        column.items, column.accepted_s = figures.accepted, figures.ingest_seconds
        # Listed: the read model is written as phase 1 stores the memory with its words.
        if not await wait_indexed(client, conversations, users, timeout, 0.0, figures):
            column.note += " not all listed in time;"
        column.keyword_s = figures.ingest_seconds + figures.indexed_seconds
        if not await wait_dense(dsn, timeout):
            column.note += " dense vectors still pending;"
        column.dense_s = time.perf_counter() - started
        print(
            f"  Mnemo: {column.items} accepted in {column.accepted_s:.1f} s, listed at"
            f" {column.keyword_s:.1f} s, dense-complete at {column.dense_s:.1f} s",
            flush=True,
        )
        await search_all(client, conversations, users, SEARCH_LIMIT, 1, recall, figures)
    column.p50_ms = percentile(figures.latencies_ms, 50)
    column.p95_ms = percentile(figures.latencies_ms, 95)
    column.recall = recall.table()
    column.load_after = load_1m()
    return column


def run_mnemo(conversations: list[Conversation], timeout: float) -> Column:
    with local_stack("mnemo-mem0cmp-") as stack:
        return asyncio.run(
            _mnemo_steps(conversations, stack.base_url, stack.api_key, stack.database_url, timeout)
        )


def first_items(conversations: list[Conversation], items: int) -> list[Conversation]:
    """The conversations cut to their first `items` turns in all, each keeping only the
    questions whose evidence all lies in the turns kept (0: everything)."""
    if items <= 0:
        return conversations
    kept, left = [], items
    for conv in conversations:
        if left <= 0:
            break
        turns = conv.turns[:left]
        left -= len(turns)
        ids = {t.dia_id for t in turns}
        qa = [q for q in conv.qa if q.evidence and set(q.evidence) <= ids]
        kept.append(replace(conv, turns=turns, qa=qa))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the LoCoMo JSON file")
    parser.add_argument("--conversations", default="", help="sample ids, comma-separated")
    parser.add_argument("--items", type=int, default=0, help="only the first N turns")
    parser.add_argument(
        "--only",
        default="mem0,mem0-indexed,mnemo",
        help="which columns: mem0 (plain turns), mem0-indexed (Mnemo's indexed text), mnemo",
    )
    parser.add_argument(
        "--precision",
        default=default_precision(),
        help="MiniLM's: int8 (the service's default) or float32",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds Mnemo may take to index"
    )
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - {"mem0", "mem0-indexed", "mnemo"}
    if unknown:
        parser.error(f"unknown columns {sorted(unknown)}")
    names = [s.strip() for s in args.conversations.split(",") if s.strip()] or None
    conversations = first_items(load(Path(args.data), names), args.items)
    turns = sum(len(c.turns) for c in conversations)

    os.environ.update(MEM0_ENVIRONMENT)
    mem0_home = tempfile.TemporaryDirectory(prefix="mem0-home-")
    os.environ["MEM0_DIR"] = mem0_home.name  # mem0 keeps its config and state here

    m = machine()
    print(f"machine: {describe(m)}; load average {load_1m():.2f} (1 min) at the start")
    print(
        f"data: {len(conversations)} conversations, {turns} turns,"
        f" {questions(conversations)} questions with evidence",
        flush=True,
    )
    network = NoNetwork()
    columns: list[Column] = []
    with network.guard(), mem0_home:
        if any(name.startswith("mem0") for name in only):
            import mem0

            print(f"mem0ai {mem0.__version__}; Qdrant local mode (on disk)", flush=True)
            embedder = embedder_from_settings("minilm", precision=args.precision)
            embedder.embed(["warm up"])
            if "mem0" in only:
                columns.append(run_mem0("mem0, plain turns", conversations, plain_texts, embedder))
            if "mem0-indexed" in only:
                columns.append(
                    run_mem0("mem0, Mnemo's indexed text", conversations, mnemo_texts, embedder)
                )
        if "mnemo" in only:
            columns.insert(0, run_mnemo(conversations, args.timeout))
    print()
    print(
        f"machine: {describe(m)}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; MiniLM"
        f" {args.precision} on both sides; search limit {SEARCH_LIMIT}; connections that"
        f" would have left the machine: {len(network.refused)}"
        + (f" ({', '.join(network.refused[:5])})" if network.refused else "")
    )
    print(side_by_side(columns, CATEGORIES))
    for column in columns:
        if column.note:
            print(f"{column.name}: {column.note.strip()}")


if __name__ == "__main__":
    main()
