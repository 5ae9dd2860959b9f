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

From those figures bench/capacity_model.py (the one place of the arithmetic) derives what
one node of each kind sustains, the nodes needed for 10k, 1M and 100M memories a day and
1,000 searches/s, and the first bottleneck; this prints it all as tables with the machine
and its load average. CPU time, not wall time, is what is measured: on a loaded machine it
moves less (a thread waiting for a core uses none), though contention still inflates it.

    python bench/capacity.py [--items 2000] [--searches 500] [--quick] [--json FILE]
    python bench/capacity.py --from-json FILE   # the tables again, from saved figures
"""

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from capacity_model import (
    GIB,
    MEMORIES_PER_DAY,
    SEARCHES_PER_S,
    SERVER_KINDS,
    SERVICE_KINDS,
    Assumptions,
    Load,
    Measured,
    bottlenecks,
    node_cores,
    one_node,
    plan,
)
from cpu import RATE_LIMITS, STACK, Meter, arguments, bench, nats_monitor, settle, turns
from cpu_figures import markdown_table, net_seconds
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
    return {
        "postgresql": pg,
        "qdrant": {
            "folder": folder_bytes(local.home / "qdrant"),
            **{
                p.name: folder_bytes(p) if p.is_dir() else float(p.stat().st_blocks * 512)
                for p in (local.home / "qdrant").glob("*")
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


def relay_ms(result: dict[str, Any]) -> float:
    """The relay's CPU ms per memory: measured alone (bench/relay_replay.py) per event, times
    the events a memory appends; else all of ingest's, which holds it (an upper bound)."""
    relay = result.get("relay")
    if not relay or not relay["events"]:
        return float(result["cpu_ms_per_memory"]["ingest"])
    per_event = relay["cpu_s"] * 1000 / relay["events"]
    return float(per_event * result["per_memory"]["postgresql"]["events"])


def figures(result: dict[str, Any]) -> Measured:
    """The model's inputs from a run's result."""
    mem, srch = result["per_memory"], result["per_search"]

    def streams(grown: dict[str, float]) -> dict[str, float]:
        """Bytes by stream, the KV buckets and counters (kept by their own limits) as one."""
        out: dict[str, float] = {}
        for k, v in grown.items():
            if not k.endswith(" messages"):
                key = k if k.startswith("MNEMO_") and not k.endswith("_COUNTERS") else "KV"
                out[key] = out.get(key, 0.0) + v
        return out

    def schemas(grown: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in grown.items() if k not in ("wal", "events", "memories")}

    return Measured(
        cpu_ms_per_memory=result["cpu_ms_per_memory"],
        cpu_ms_per_search=result["cpu_ms_per_search"],
        relay_ms_per_memory=relay_ms(result),
        pg_bytes_per_memory=schemas(mem["postgresql"]),
        pg_bytes_per_search=schemas(srch["postgresql"]),
        wal_bytes_per_memory=mem["postgresql"]["wal"],
        wal_bytes_per_search=srch["postgresql"]["wal"],
        # The segments keep the points; the WAL is bounded (truncated once they are flushed).
        qdrant_bytes_per_memory=mem["qdrant"].get("segments", mem["qdrant"]["folder"]),
        nats_bytes_per_memory=streams(mem["nats"]),
        nats_bytes_per_search=streams(srch["nats"]),
        log_bytes_per_memory=mem["logs"]["files"],
        log_bytes_per_search=srch["logs"]["files"],
    )


def si(n: float, unit: str = "") -> str:
    """1234567 -> '1.2 M', 10000 -> '10 k'; bytes as kB, MB, GB, TB (powers of 1000)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.1f}".removesuffix(".0") + f" {prefix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def assumed(a: Assumptions) -> str:
    return ", ".join(
        f"{k} {v / GIB:g} GiB" if k.endswith("_bytes") else f"{k} {v:g}"
        for k, v in asdict(a).items()
    )


def rate(n: float) -> str:
    return "unbounded" if n == float("inf") else f"{n:,.0f}"


def relay_line(result: dict[str, Any], m: Measured) -> str:
    relay = result.get("relay")
    if not relay or not relay["events"]:
        return "relay: not measured alone; counted as all of ingest's CPU (an upper bound)"
    return (
        f"relay, alone (bench/relay_replay.py): {relay['events']} events replayed in batches"
        f" of {relay['batch']}, {relay['cpu_s']:.2f} CPU s ({relay['wall_s']:.1f} s wall):"
        f" {relay['cpu_s'] * 1000 / relay['events']:.3f} ms an event,"
        f" {m.relay_ms_per_memory:.2f} ms a memory (ingest's process in all:"
        f" {m.cpu_ms_per_memory['ingest']:.2f})"
    )


def report(result: dict[str, Any], a: Assumptions) -> str:
    m = figures(result)
    loads = result["loads"]
    lines = [
        f"machine: {describe(result['machine'])}; load average (1, 5, 15 min)"
        f" {' / '.join(f'{x:.1f}' for x in loads['ingest_before'])} before the ingest,"
        f" {' / '.join(f'{x:.1f}' for x in loads['search_after'])} after the searches"
        " (a shared, loaded machine: CPU time per unit, not wall time, is what is compared)",
        f"measured: {result['measured_memories']} memories in the CPU window"
        f" ({result['memories']} in the stores' growth, warm-up included), all dense-complete:"
        f" {result['complete']}; {result['searches']} searches"
        f" (answers {result['search_statuses']}) in {result['search_s']:.1f} s",
        "",
    ]
    rows = [
        [
            kind,
            f"{m.cpu_ms_per_memory.get(kind, 0.0):.2f}",
            f"{m.cpu_ms_per_search.get(kind, 0.0):.2f}",
        ]
        for kind in (*SERVICE_KINDS, *SERVER_KINDS)
    ]
    rows.append(
        [
            "**total**",
            f"{sum(m.cpu_ms_per_memory.get(k, 0.0) for k in (*SERVICE_KINDS, *SERVER_KINDS)):.2f}",
            f"{sum(m.cpu_ms_per_search.get(k, 0.0) for k in (*SERVICE_KINDS, *SERVER_KINDS)):.2f}",
        ]
    )
    lines += [markdown_table(["component", "CPU ms / memory", "CPU ms / search"], rows), ""]

    mem, srch = result["per_memory"], result["per_search"]
    store_rows = [
        [f"PostgreSQL {k}", f"{v:,.0f}", f"{m.pg_bytes_per_search.get(k, 0.0):,.0f}"]
        for k, v in sorted(m.pg_bytes_per_memory.items(), key=lambda kv: -kv[1])
        if abs(v) >= 1 or abs(m.pg_bytes_per_search.get(k, 0.0)) >= 1
    ]
    store_rows += [
        [
            "PostgreSQL WAL (streamed to standbys, not kept)",
            f"{m.wal_bytes_per_memory:,.0f}",
            f"{m.wal_bytes_per_search:,.0f}",
        ],
        ["Qdrant segments (points, payload indexes)", f"{m.qdrant_bytes_per_memory:,.0f}", "0"],
        [
            "Qdrant WAL (bounded, not kept)",
            f"{mem['qdrant'].get('wal', 0.0):,.0f}",
            f"{srch['qdrant'].get('wal', 0.0):,.0f}",
        ],
    ]
    store_rows += [
        [
            f"NATS {'KV buckets, counters' if k == 'KV' else k}"
            + (f" ({mem['nats'][f'{k} messages']:.1f} msgs)" if k != "KV" else ""),
            f"{v:,.0f}",
            f"{m.nats_bytes_per_search.get(k, 0.0):,.0f}",
        ]
        for k, v in sorted(m.nats_bytes_per_memory.items())
        if abs(v) >= 1 or abs(m.nats_bytes_per_search.get(k, 0.0)) >= 1
    ]
    store_rows.append(
        [
            "service logs",
            f"{m.log_bytes_per_memory:,.0f}",
            f"{m.log_bytes_per_search:,.0f}",
        ]
    )
    lines += [
        markdown_table(["store", "bytes / memory", "bytes / search"], store_rows),
        f"\nlog growth: {mem['postgresql']['events']:.2f} events in mnemo.events per memory,"
        f" {srch['postgresql']['events']:.2f} per search",
        relay_line(result, m),
        "",
    ]

    per_node = one_node(m, a)
    node_rows = [
        [kind, f"{node_cores(kind, a):g}", rate(per_node[kind][0]), rate(per_node[kind][1])]
        for kind in (*SERVICE_KINDS, "relay", *SERVER_KINDS)
    ]
    lines += [
        f"one node at {a.utilization:.0%} CPU sustains (each load alone):",
        markdown_table(["node", "cores", "memories/s", "searches/s"], node_rows),
        "",
    ]

    loads_asked = [Load(memories_per_day=n) for n in MEMORIES_PER_DAY]
    loads_asked.append(Load(searches_per_s=SEARCHES_PER_S))
    plans = [plan(m, a, x) for x in loads_asked]
    header = ["nodes", *(f"{si(n).replace(' ', '')} memories/day" for n in MEMORIES_PER_DAY)]
    header.append(f"{SEARCHES_PER_S:,} searches/s")
    kinds = (*SERVICE_KINDS, "relay", "nats-server", "postgresql", "qdrant")
    plan_rows = [[k, *(str(p.nodes[k]) for p in plans)] for k in kinds]
    plan_rows += [
        ["PostgreSQL growth / day", *(si(p.pg_bytes_per_day, "B") for p in plans)],
        [
            f"PostgreSQL after {a.horizon_days:.0f} days (one copy)",
            *(si(p.pg_bytes_held, "B") for p in plans),
        ],
        ["PostgreSQL WAL at peak", *(si(p.wal_bytes_per_s, "B/s") for p in plans)],
        [
            f"Qdrant after {a.horizon_days:.0f} days (one copy)",
            *(si(p.qdrant_bytes_held, "B") for p in plans),
        ],
        [
            f"NATS held ({a.nats_retention_days:g} d, x{a.nats_replicas})",
            *(si(p.nats_bytes_held, "B") for p in plans),
        ],
        ["service logs / day", *(si(p.log_bytes_per_day, "B") for p in plans)],
    ]
    lines += [
        f"nodes needed (ingest at {a.peak_factor:g}x the day's mean rate at peak; the columns"
        " add up: a load of both needs the sum, less the minimum counts):",
        markdown_table(header, plan_rows),
    ]
    shorter = replace(a, nats_retention_days=1.0)
    lines.append(
        "with the transport streams kept 1 day instead of"
        f" {a.nats_retention_days:g}: NATS nodes "
        + " / ".join(str(plan(m, shorter, x).nodes["nats-server"]) for x in loads_asked)
        + ", held "
        + " / ".join(si(plan(m, shorter, x).nats_bytes_held, "B") for x in loads_asked)
    )
    lines += [
        "",
        "components that exist once, and the memories a day that fill them (ingest alone):",
    ]
    limits = bottlenecks(m, a)
    lines += [f"  {name}: {rate(limit)} memories/day" for name, limit in limits]
    lines.append(f"first bottleneck: {limits[0][0]}, at {si(limits[0][1])} memories a day")
    lines += ["", f"assumptions (bench/capacity_model.py): {assumed(a)}"]
    return "\n".join(lines)


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
