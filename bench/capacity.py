"""The capacity model, measured on this machine through the real stack (issue #19).

On a stack of its own (bench/local_stack.py: embedded NATS and PostgreSQL, `mnemo run`,
the embedded Qdrant engine), bench/cpu.py's run ingests LoCoMo dev turns at a fixed rate
until every memory is dense-complete and measures the CPU time (user + system, from /proc,
net of idle) of each service, nats-server and PostgreSQL per ingested memory. Then this
bench asks LoCoMo questions (GET /v1/search, closed loop) and measures the CPU per search
the same way. Around both it reads what each store grew by: PostgreSQL's tables by schema
(rows, TOAST and indexes, after a VACUUM; the event log apart) and its WAL,
the embedded Qdrant's folder on disk, each JetStream stream's stored bytes (the server's
/jsz), and the services' log files (at `--log-level`, info by default as in production).

Last, bench/relay_replay.py measures the relay alone (its CPU per event with a backlog).
From those figures bench/capacity_model.py (the one place of the arithmetic) derives what
one node of each kind sustains, the nodes needed for 10k, 1M and 100M memories a day and
1,000 searches/s, and the first bottleneck; bench/capacity_report.py prints it all as
tables with the machine and its load average. CPU time, not wall time, is what is
measured: on a loaded machine it moves less (a thread waiting for a core uses none),
though contention still inflates it.

    python bench/capacity.py [--items 2000] [--searches 500] [--quick] [--json FILE]
    python bench/capacity.py --from-json FILE   # the tables again, from saved figures
"""

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from capacity_model import Assumptions
from capacity_report import report
from cpu import RATE_LIMITS, STACK, Meter, arguments, bench, nats_monitor, settle, turns
from cpu_figures import net_seconds
from local_stack import describe, local_stack, machine
from locomo_data import load

from mnemo.runtime.services import SERVICES

QUICK = {"items": 300, "searches": 100, "warmup": 20, "idle": 5.0}


async def pg_sizes(conn: asyncpg.Connection) -> dict[str, float]:
    """Bytes of every table by schema, the event log apart: its rows, TOAST and indexes
    (what pg_total_relation_size sums, less the free-space and visibility maps: those are
    a few pages per relation whatever it holds, as much as the rows in a run this small);
    the WAL position; the events in the log. A VACUUM first, so that what a queue table
    (retrieval.dense_pending) held and let go is not counted as growth."""
    await conn.execute("VACUUM")
    rows = await conn.fetch(
        "SELECT n.nspname AS schema, c.relname AS name,"
        " pg_relation_size(c.oid) + coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0)"
        " + coalesce((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i"
        "   WHERE i.indrelid IN (c.oid, c.reltoastrelid)), 0) AS bytes"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'm')"
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    )
    out: dict[str, float] = {}
    for r in rows:
        key = "mnemo.events" if (r["schema"], r["name"]) == ("mnemo", "events") else r["schema"]
        out[key] = out.get(key, 0) + float(r["bytes"])
    out["wal"] = float(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    out["events"] = await conn.fetchval("SELECT count(*) FROM mnemo.events")
    out["memories"] = await conn.fetchval(
        "SELECT count(*) FROM mnemo.events WHERE event_type = 'memory.recorded'"
    )
    return out


def folder_bytes(folder: Path) -> float:
    """What the files under `folder` take on disk (allocated blocks, not apparent size:
    a preallocated WAL segment counts as what it holds)."""
    return float(sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()))


def nats_streams(monitor: str) -> dict[str, float]:
    """Stored bytes of each JetStream stream, and their messages (`<stream> messages`)."""
    jsz = httpx.get(
        f"{monitor}/jsz", params={"accounts": "true", "streams": "true"}, timeout=5
    ).json()
    out: dict[str, float] = {}
    for account in jsz.get("account_details", []):
        for stream in account.get("stream_detail", []):
            out[stream["name"]] = stream["state"]["bytes"]
            out[f"{stream['name']} messages"] = stream["state"]["messages"]
    return out


def sizes(pg: dict[str, float], local: Any, monitor: str) -> dict[str, dict[str, float]]:
    vectors = local.home / "qdrant"
    if (vectors / "live").exists():  # the shard in use (EdgeVectorStore's generations)
        vectors = vectors / (vectors / "live").read_text().strip()
    return {
        "postgresql": pg,
        "qdrant": {
            "folder": folder_bytes(local.home / "qdrant"),
            **{
                p.name: folder_bytes(p) if p.is_dir() else float(p.stat().st_blocks * 512)
                for p in vectors.glob("*")
            },
        },
        "nats": nats_streams(monitor),
        "logs": {"files": folder_bytes(local.home / "logs")},
    }


def grown(before: dict[str, float], after: dict[str, float], n: float) -> dict[str, float]:
    return {k: (after[k] - before.get(k, 0.0)) / n for k in after if n > 0}


async def searches(
    client: httpx.AsyncClient, questions: list[tuple[str, str]], n: int, concurrency: int
) -> dict[int, int]:
    """`n` searches (hybrid, limit 10) by `concurrency` callers, one after the other each,
    cycling over `questions` (user, question); the answers by status."""
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(questions[i % len(questions)])

    async def caller() -> None:
        while not queue.empty():
            user, question = queue.get_nowait()
            params = {"userId": user, "q": question, "limit": 10}
            response = await client.get("/v1/search", params=params)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return statuses


def net_ms(used: dict[str, float], idle: dict[str, float], window: float, n: int) -> dict:
    return {c: net_seconds(used[c], idle[c], window) * 1000 / n for c in STACK if n > 0}


async def measure(local: Any, items: list[dict[str, Any]], args: argparse.Namespace) -> dict:
    started = time.monotonic()
    conn = await asyncpg.connect(local.database_url)
    try:
        meter = Meter(local.pid, await conn.fetchval("SELECT pg_backend_pid()"))
        monitor = nats_monitor(meter.nats)
        empty = sizes(await pg_sizes(conn), local, monitor)

        # Ingest: bench/cpu.py's run, warm-up included in the stores' growth.
        loads = {"ingest_before": os.getloadavg()}
        print(f"ingesting {len(items)} memories (after a warm-up of {args.warmup}) ...", flush=True)
        args.deadline -= time.monotonic() - started
        ingest = await bench(local, items, args)
        loads["ingest_after"] = os.getloadavg()
        ingested = sizes(await pg_sizes(conn), local, monitor)
        memories = ingested["postgresql"]["memories"] - empty["postgresql"]["memories"]

        # Searches: the LoCoMo questions of the ingested users.
        users = {i["userId"] for i in items}
        conversations = load(Path(args.data), None)
        questions = [
            (f"cpu-{c.sample_id}", qa.question)
            for c in conversations
            if f"cpu-{c.sample_id}" in users
            for qa in c.qa
        ]
        print(f"searching {args.searches} times ({args.search_concurrency} callers) ...")
        idle = ingest["idle"]
        headers = {"Authorization": f"Bearer {local.api_key}"}
        limits = httpx.Limits(keepalive_expiry=2.0)  # as bench/cpu.py's: below uvicorn's 5 s
        async with httpx.AsyncClient(
            base_url=local.base_url, headers=headers, limits=limits, timeout=30
        ) as client:
            loads["search_before"] = os.getloadavg()
            meter.start()
            start = time.monotonic()
            statuses = await searches(client, questions, args.searches, args.search_concurrency)
            search_s = time.monotonic() - start
            until = started + args.deadline + 600
            await settle(meter, sum(idle[c] for c in STACK), until, args.settle)
            meter.tick()
            window = time.monotonic() - start
            loads["search_after"] = os.getloadavg()
        used = meter.used()
        done = statuses.get(200, 0)
        searched = sizes(await pg_sizes(conn), local, monitor)
    finally:
        await conn.close()
    print("replaying the log through a relay of its own ...", flush=True)
    replay = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("relay_replay.py")),
        local.database_url,
        local.nats_url,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "MNEMO_LOG_LEVEL": "warning"},
    )
    out, _ = await replay.communicate()
    # The figures are its last line (a warning logged before them would come first).
    lines = out.decode().strip().splitlines()
    relay = json.loads(lines[-1]) if replay.returncode == 0 and lines else None
    if relay is None:
        print(f"the relay's replay failed (exit {replay.returncode}); ingest's CPU stands in")
    return {
        "memories": memories,
        "measured_memories": ingest["memories"],
        "complete": ingest["complete"],
        "ingest_window_s": ingest["window_s"],
        "cpu_ms_per_memory": net_ms(ingest["used"], idle, ingest["window_s"], ingest["memories"]),
        "searches": done,
        "search_statuses": statuses,
        "search_s": search_s,
        "search_window_s": window,
        "cpu_ms_per_search": net_ms(used, idle, window, done),
        "per_memory": {store: grown(empty[store], ingested[store], memories) for store in ingested},
        "per_search": {store: grown(ingested[store], searched[store], done) for store in searched},
        "loads": loads,
        "relay": relay,
    }


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.set_defaults(items=2000, deadline=1200.0)
    parser.add_argument("--searches", type=int, default=500, help="searches measured")
    parser.add_argument("--search-concurrency", type=int, default=4, help="callers at once")
    parser.add_argument("--log-level", default="info", help="the services' MNEMO_LOG_LEVEL")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run: {', '.join(f'--{k} {v}' for k, v in QUICK.items())}",
    )
    parser.add_argument("--from-json", default="", help="print the tables of a saved run")
    args = parser.parse_args()
    if args.from_json:
        print(report(json.loads(Path(args.from_json).read_text()), Assumptions()))
        return
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k.replace("-", "_"), v)
    for name in ("MNEMO_NATS_URL", "MNEMO_DATABASE_URL"):
        if os.environ.pop(name, None):
            print(f"note: {name} ignored; this bench measures servers of its own")
    os.environ.setdefault("MNEMO_RATE_LIMITS", RATE_LIMITS)
    items = turns(args)
    print(f"machine: {describe(machine())}, load average {os.getloadavg()[0]:.2f} (1 min)")
    with local_stack(prefix="mnemo-bench-capacity-", log_level=args.log_level) as local:
        result = asyncio.run(measure(local, items, args))
    result.update(
        machine=machine(),
        services=list(SERVICES),
        args={k: v for k, v in vars(args).items() if k != "from_json"},
        at=datetime.now(UTC).isoformat(),
    )
    print()
    print(report(result, Assumptions()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
