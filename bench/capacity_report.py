"""bench/capacity.py's tables: a run's result (its JSON) in, text out.

Reads the measured figures into the model's inputs (`figures`), asks bench/capacity_model.py
for the derivation, and prints both with the machine and its load. Nothing here reads a
process, a file or the network.
"""

from dataclasses import asdict, replace
from typing import Any

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
from cpu_figures import markdown_table
from local_stack import describe


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
