"""CPU milliseconds per ingested memory, for each service, NATS and PostgreSQL.

Starts a stack of its own (bench/local_stack.py: embedded NATS and PostgreSQL, then
`mnemo run`), ingests LoCoMo dev turns (speaker, session date, title, as bench/locomo.py
does) through the public API at a fixed rate, and waits until every memory is
dense-complete (bench/ingest.py's test: `memory.indexed` in the audit log, no chunk left in
`retrieval.dense_pending`) and the stack is back at its idle CPU rate. The CPU time (user +
system, every thread) each process used over that window comes from /proc through psutil:
each service process, nats-server, and PostgreSQL as the postmaster plus its backends and
workers (their own time while they live, the postmaster's reaped-children time once they
exit, so none is lost). The bench's own polling connection is left out of PostgreSQL's
figure. Before the window a warm-up ingest (model loading, first connections) runs, then
the idle rate of each process is measured; "net" subtracts that rate over the window.

With --profile, py-spy (`uv sync --group profile`; `make bench-cpu` installs it) records each
service without pausing it, and the bench prints each one's top functions and packages by
own CPU share (samples on top of the stack, of all samples where a thread was active).

Prints figures; asserts nothing. Usage:

    python bench/cpu.py [--items N] [--rate 100] [--batch 10] [--profile] [--deadline 900]
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from cpu_figures import (
    CpuSample,
    inclusive_shares,
    markdown_table,
    ms_per_memory,
    net_seconds,
    own_shares,
    parse_raw,
    pg_split,
    quiet,
    tree_seconds,
)
from ingest import dense_complete
from local_stack import describe, local_stack, machine
from locomo import DEFAULT_DATA, MAX_BATCH, call
from locomo_data import load

from mnemo.runtime.services import SERVICES

STACK = (*SERVICES, "mnemo run", "nats-server", "postgresql")
OUTSIDE = ("bench client", "bench polling", "py-spy")
# High enough that the limiter counts every call (its cost is part of the figures) and
# refuses none at the rates this bench sends.
RATE_LIMITS = "ingest=60000,batch=60000,default=60000"
# What a frame on top of the stack stands for when its own code is not Python.
FRAME_NOTES = {
    "Runner.run (asyncio/runners.py": "  [uvloop's C loop: socket syscalls, asyncpg's Cython"
    " protocol, callbacks' C code, and a woken thread's wait for a core]",
}


def sample(proc: psutil.Process) -> CpuSample:
    t = proc.cpu_times()
    return CpuSample(own=t.user + t.system, reaped_children=t.children_user + t.children_system)


def tree(proc: psutil.Process) -> float:
    live = []
    for child in proc.children(recursive=True):
        try:
            live.append(sample(child))
        except psutil.Error:  # gone between the listing and the reading: reaped, counted
            pass
    return tree_seconds(sample(proc), live)


class Meter:
    """Cumulative CPU seconds of every process of the stack, by component.

    Each reading is kept by (component, pid), so a service restarted by `mnemo run` keeps
    the seconds of its earlier process."""

    def __init__(self, stack_pid: int, polling_backend: int) -> None:
        me = psutil.Process()
        self.me = me
        self.supervisor = psutil.Process(stack_pid)
        servers = {p.name(): p for p in me.children()}
        if "nats-server" not in servers or "postgres" not in servers:
            raise SystemExit(f"nats-server and postgres should be children of the bench: {servers}")
        self.nats = servers["nats-server"]
        self.postmaster = servers["postgres"]
        self.polling = psutil.Process(polling_backend)
        self.profilers: list[psutil.Process] = []
        self.baseline: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}

    def services(self) -> dict[str, psutil.Process]:
        found = {}
        for child in self.supervisor.children():
            try:
                args = child.cmdline()
            except psutil.Error:
                continue
            name = next((a.removeprefix("mnemo.") for a in args if a.startswith("mnemo.")), None)
            if name in SERVICES:
                found[name] = child
        return found

    def read(self) -> dict[tuple[str, int], float]:
        now: dict[tuple[str, int], float] = {}

        def put(component: str, proc: psutil.Process, seconds: Any) -> None:
            try:
                now[(component, proc.pid)] = seconds(proc)
            except psutil.Error:
                pass

        for name, proc in self.services().items():
            put(name, proc, tree)
        put("mnemo run", self.supervisor, lambda p: sample(p).own)
        put("nats-server", self.nats, tree)
        polling = sample(self.polling).own
        put("postgresql", self.postmaster, lambda p: tree(p) - polling)
        now[("bench polling", self.polling.pid)] = polling
        put("bench client", self.me, lambda p: sample(p).own)
        for proc in self.profilers:
            put("py-spy", proc, tree)
        return now

    def start(self) -> None:
        self.baseline = self.read()
        self.last = dict(self.baseline)

    def tick(self) -> None:
        self.last.update(self.read())

    def used(self) -> dict[str, float]:
        """Seconds by component since `start()`, as of the last `tick()`."""
        out = dict.fromkeys((*STACK, *OUTSIDE), 0.0)
        for (component, pid), seconds in self.last.items():
            out[component] += seconds - self.baseline.get((component, pid), 0.0)
        return out


def stack_total(used: dict[str, float]) -> float:
    return sum(used[c] for c in STACK)


@dataclass
class Run:
    accepted: dict[str, float] = field(default_factory=dict)  # memory id -> monotonic 202
    dense_at: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    backlog_max: int = 0


def turns(args: argparse.Namespace) -> list[dict[str, Any]]:
    conversations = load(
        Path(args.data), args.conversations.split(",") if args.conversations else None
    )
    items = [t.ingest_item(f"cpu-{c.sample_id}") for c in conversations for t in c.turns]
    return items[: args.items] if args.items else items


async def send(client: httpx.AsyncClient, items: list[dict[str, Any]], run: Run) -> None:
    if len(items) == 1:
        response = await call(client, "POST", "/v1/ingest", json=items[0])
        ids = [response.json()["id"]]
    else:
        response = await call(client, "POST", "/v1/ingest/batch", json={"items": items})
        ids = list(response.json()["ids"])
    run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
    now = time.monotonic()
    run.accepted.update(dict.fromkeys(ids, now))


async def ingest(
    client: httpx.AsyncClient, items: list[dict[str, Any]], rate: float, batch: int, run: Run
) -> float:
    """Open loop: a request of `batch` items leaves every batch/rate seconds, whatever the
    answers; returns the seconds until the last 202."""
    requests = [items[i : i + batch] for i in range(0, len(items), batch)]
    start = time.perf_counter()
    tasks = []
    for n, chunk in enumerate(requests):
        await asyncio.sleep(max(0.0, start + n * batch / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send(client, chunk, run)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


async def watch(
    conn: asyncpg.Connection,
    meter: Meter,
    run: Run,
    loading: asyncio.Event,
    poll: float,
    until: float,
) -> bool:
    """Tick the meter and note when each accepted memory becomes dense-complete, until all
    are (after the load) or `until` (monotonic); whether all were."""
    while time.monotonic() < until:
        meter.tick()
        complete, pending = await dense_complete(conn)
        now = time.monotonic()
        run.backlog_max = max(run.backlog_max, pending)
        for memory_id in complete - run.dense_at.keys():
            if memory_id in run.accepted:
                run.dense_at[memory_id] = now
        if not loading.is_set() and len(run.dense_at) >= len(run.accepted):
            return True
        await asyncio.sleep(poll)
    return False


async def settle(meter: Meter, idle_rate: float, until: float, longest: float) -> float:
    """Tick once a second until the stack's CPU rate is back at idle twice in a row (at most
    `longest` seconds); the seconds it took."""
    start = time.monotonic()
    meter.tick()
    before, at, calm = stack_total(meter.used()), time.monotonic(), 0
    while calm < 2 and time.monotonic() - start < longest and time.monotonic() < until:
        await asyncio.sleep(1.0)
        meter.tick()
        total, now = stack_total(meter.used()), time.monotonic()
        calm = calm + 1 if quiet((total - before) / (now - at), idle_rate) else 0
        before, at = total, now
    return time.monotonic() - start


@contextmanager
def profilers(
    pids: dict[str, int], folder: Path, rate: int, native: bool
) -> Iterator[dict[str, Path]]:
    """py-spy recording each pid (without pausing it) until the block ends; the raw files of
    those it could attach to."""
    binary = Path(sys.executable).with_name("py-spy")
    if not binary.exists():
        found = shutil.which("py-spy")
        if found is None:
            print("profile: py-spy is not installed (uv sync --group profile); CPU figures only")
            yield {}
            return
        binary = Path(found)
    folder.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, pid in pids.items():
        log = (folder / f"{name}.log").open("wb")
        # --native needs py-spy to pause the process at each sample; without it, none is.
        argv = [str(binary), "record", "--format", "raw", "--function", "--full-filenames"]
        argv += ["--native"] if native else ["--nonblocking"]
        argv += ["--rate", str(rate), "--pid", str(pid), "-o", str(folder / f"{name}.txt")]
        procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
    time.sleep(2.0)
    for name, proc in list(procs.items()):
        if proc.poll() is not None:
            reason = (folder / f"{name}.log").read_text(errors="replace").strip().splitlines()
            print(
                f"profile: py-spy did not attach to {name} (exit {proc.returncode}:"
                f" {reason[-1] if reason else 'no output'}); its CPU figures only"
            )
            del procs[name]
    try:
        yield {name: folder / f"{name}.txt" for name in procs}
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def pg_counters(conn: asyncpg.Connection) -> dict[str, int]:
    """The database's transactions and rows touched so far, and rows written by schema."""
    db = await conn.fetchrow(
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted,"
        " tup_fetched FROM pg_stat_database WHERE datname = current_database()"
    )
    out = {k: int(v) for k, v in db.items()}
    for r in await conn.fetch(
        "SELECT schemaname, sum(n_tup_ins + n_tup_upd + n_tup_del) AS n"
        " FROM pg_stat_user_tables GROUP BY schemaname"
    ):
        out[f"rows written in {r['schemaname']}"] = int(r["n"])
    return out


async def pg_backends(conn: asyncpg.Connection, meter: "Meter") -> dict[int, tuple[str, float]]:
    """Each live PostgreSQL process: who it works for (the service whose connection it
    serves, "bench", or its backend type) and its own CPU seconds so far."""
    ports = {}
    for name, proc in meter.services().items():
        for c in proc.net_connections(kind="tcp"):
            ports[c.laddr.port] = name
    rows = await conn.fetch("SELECT pid, client_port, backend_type FROM pg_stat_activity")
    whose = {
        r["pid"]: ports.get(r["client_port"], r["backend_type"] or "?")
        if r["client_port"] is not None and r["client_port"] > 0
        else r["backend_type"] or "?"
        for r in rows
    }
    whose[meter.polling.pid] = "bench polling"
    out = {}
    for child in meter.postmaster.children():
        try:
            out[child.pid] = (whose.get(child.pid, "other"), sample(child).own)
        except psutil.Error:
            pass
    return out


def nats_monitor(nats: psutil.Process) -> str:
    """The monitoring URL of the bench's nats-server (its --http_port)."""
    args = nats.cmdline()
    return f"http://127.0.0.1:{args[args.index('--http_port') + 1]}"


def nats_counters(nats: psutil.Process) -> dict[str, int]:
    """Messages and bytes nats-server received and sent so far (its /varz)."""
    varz = httpx.get(f"{nats_monitor(nats)}/varz", timeout=5).json()
    return {k: int(varz[k]) for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}


def per_memory(before: dict[str, int], after: dict[str, int], n: int) -> str:
    return ", ".join(
        f"{k} {(after[k] - before.get(k, 0)) / n:.1f}" for k in after if after[k] != before.get(k)
    )


async def audit_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT type, count(*) AS n FROM audit.entries GROUP BY type")
    return {r["type"]: r["n"] for r in sorted(rows, key=lambda r: -r["n"])}


async def bench(
    local: Any, items: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    until = time.monotonic() + args.deadline
    conn = await asyncpg.connect(local.database_url)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        meter = Meter(local.pid, backend)
        headers = {"Authorization": f"Bearer {local.api_key}"}
        # Below uvicorn's 5 s keep-alive: a connection the gateway is closing is not reused
        # (with both at 5 s, a request after an idle pause could meet a reset on a busy box).
        limits = httpx.Limits(max_connections=64, keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=local.base_url, headers=headers, limits=limits, timeout=30
        ) as client:
            # Warm-up: the model loads, pools fill, first-time work is out of the window.
            warm = Run()
            meter.start()
            if args.warmup:
                first = [{**i, "userId": "cpu-warmup"} for i in items[: args.warmup]]
                await ingest(client, first, args.rate, args.batch, warm)
                idle_event = asyncio.Event()
                if not await watch(conn, meter, warm, idle_event, 0.5, until):
                    raise SystemExit("the warm-up did not become dense-complete in time")
            await settle(meter, 0.0, until, 30.0)

            # Idle: what each process burns with nothing to do.
            meter.start()
            await asyncio.sleep(args.idle)
            meter.tick()
            idle = {c: s / args.idle for c, s in meter.used().items()}

            pids = {name: proc.pid for name, proc in meter.services().items()}
            with tempfile.TemporaryDirectory(prefix="mnemo-bench-cpu-") as tmp:
                folder = Path(args.profile_dir or tmp)
                recording = (
                    profilers(pids, folder, args.profile_rate, args.native)
                    if args.profile
                    else _none()
                )
                with recording as raw:
                    meter.profilers = [
                        p for p in psutil.Process().children() if p.name() == "py-spy"
                    ]
                    run = Run()
                    loading = asyncio.Event()
                    loading.set()
                    pg_before, nats_before = await pg_counters(conn), nats_counters(meter.nats)
                    backends_before = await pg_backends(conn, meter)
                    meter.start()
                    start = time.monotonic()
                    watcher = asyncio.create_task(
                        watch(conn, meter, run, loading, args.poll, until)
                    )
                    try:
                        load_s = await ingest(client, items, args.rate, args.batch, run)
                    finally:
                        loading.clear()
                    complete = await watcher
                    dense_s = time.monotonic() - start
                    settle_s = await settle(meter, stack_total(idle), until, args.settle)
                    meter.tick()
                    window = time.monotonic() - start
                    used = meter.used()
                    pg_after, nats_after = await pg_counters(conn), nats_counters(meter.nats)
                    backends = pg_split(
                        backends_before, await pg_backends(conn, meter), used["postgresql"]
                    )
                profiles = {
                    name: parse_raw(path.read_text()) for name, path in raw.items() if path.exists()
                }
        counts = await audit_counts(conn)
    finally:
        await conn.close()
    last_202 = max(run.accepted.values()) if run.accepted else float("nan")
    lags = sorted(run.dense_at[i] - run.accepted[i] for i in run.dense_at if i in run.accepted)
    return {
        "memories": len(run.accepted),
        "complete": complete,
        "dense": len(run.dense_at),
        "load_s": load_s,
        "dense_s": dense_s,
        "drained_s": (max(run.dense_at.values()) - last_202) if run.dense_at else float("nan"),
        "dense_p50_ms": lags[len(lags) // 2] * 1000 if lags else float("nan"),
        "dense_p95_ms": lags[int(0.95 * (len(lags) - 1))] * 1000 if lags else float("nan"),
        "backlog_max": run.backlog_max,
        "settle_s": settle_s,
        "window_s": window,
        "statuses": run.statuses,
        "used": used,
        "idle": idle,
        "audit": counts,
        "postgresql_by_client": backends,
        "work": {
            "postgresql": per_memory(pg_before, pg_after, len(run.accepted)),
            "nats": per_memory(nats_before, nats_after, len(run.accepted)),
        },
        "profiles": profiles,
    }


@contextmanager
def _none() -> Iterator[dict[str, Path]]:
    yield {}


def report(result: dict[str, Any], args: argparse.Namespace, load_before: float) -> None:
    n, window = result["memories"], result["window_s"]
    used, idle = result["used"], result["idle"]
    print(
        f"ingested: {n} memories in {result['load_s']:.1f} s"
        f" (answers {', '.join(f'{k}: {v}' for k, v in sorted(result['statuses'].items()))});"
        f" dense-complete: {result['dense']} of {n}, all {result['drained_s']:.1f} s after the"
        f" last 202 (202 -> dense p50 {result['dense_p50_ms']:.0f} ms,"
        f" p95 {result['dense_p95_ms']:.0f} ms, backlog up to {result['backlog_max']} chunks)"
    )
    if not result["complete"]:
        print("WARNING: the deadline came before every memory was dense-complete")
    print(
        f"window: {window:.1f} s from the first request until back at idle"
        f" ({result['settle_s']:.1f} s of it settling after the last dense-complete)"
    )
    print(f"audit entries: {', '.join(f'{k} {v}' for k, v in result['audit'].items())}")
    print(f"per memory, PostgreSQL: {result['work']['postgresql']}")
    print(f"per memory, NATS: {result['work']['nats']}")
    split = result["postgresql_by_client"]
    print(
        "PostgreSQL CPU ms / memory by whom its process served: "
        + ", ".join(
            f"{who} {ms_per_memory(s, n):.2f}"
            for who, s in split.items()
            if abs(ms_per_memory(s, n)) >= 0.005
        )
    )
    rows = []
    for component in (*STACK, "total"):
        seconds = stack_total(used) if component == "total" else used[component]
        rate = stack_total(idle) if component == "total" else idle[component]
        net = (
            sum(net_seconds(used[c], idle[c], window) for c in STACK)
            if component == "total"
            else net_seconds(seconds, rate, window)
        )
        rows.append(
            [
                f"**{component}**" if component == "total" else component,
                f"{seconds:.2f}",
                f"{ms_per_memory(seconds, n):.2f}",
                f"{rate * 1000:.1f}",
                f"{ms_per_memory(net, n):.2f}",
            ]
        )
    print()
    header = ["component", "CPU s", "CPU ms / memory", "idle CPU ms/s", "net ms / memory"]
    print(markdown_table(header, rows))
    print()
    print(
        "not in the total: "
        + ", ".join(f"{c} {used[c]:.2f} s" for c in OUTSIDE if c != "py-spy" or args.profile)
        + " (the bench's own process, its PostgreSQL backend polling dense_pending"
        + (", the profilers)" if args.profile else ")")
    )
    print(f"load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min)")
    for name, stacks in result["profiles"].items():
        samples = sum(stacks.values())
        print(
            f"\n{name}: {samples} samples with a thread active ({samples / args.profile_rate:.1f} s"
            f" at {args.profile_rate}/s; the process used {used[name]:.2f} s of CPU: a thread"
            " that is runnable but waiting for a core counts as active too)"
        )
        for frame, share in own_shares(stacks)[: args.top]:
            note = next((n for f, n in FRAME_NOTES.items() if frame.startswith(f)), "")
            print(f"  {share * 100:5.1f}%  {frame}{note}")
        packages = own_shares(stacks, key="package")[:8]
        print("  by package: " + ", ".join(f"{p} {s * 100:.0f}%" for p, s in packages))
        # The entry points (host.run, the consumer loop) hold nearly every sample: left out.
        inner = [(f, s) for f, s in inclusive_shares(stacks) if s < 0.85][: args.top]
        print("  Mnemo's own functions by inclusive share (callees included, below 85 %):")
        for frame, share in inner:
            print(f"  {share * 100:5.1f}%  {frame}")


def arguments(description: str = __doc__ or "") -> argparse.ArgumentParser:
    """The options of this bench (bench/capacity.py runs `bench` with them too)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--conversations", default="", help="sample ids, comma-separated")
    parser.add_argument("--items", type=int, default=0, help="the first N turns (0: all)")
    parser.add_argument("--rate", type=float, default=100, help="items/s, open loop")
    parser.add_argument(
        "--batch",
        type=int,
        default=10,
        help=f"items per request (1: POST /v1/ingest; up to {MAX_BATCH})",
    )
    parser.add_argument("--warmup", type=int, default=50, help="items ingested before the window")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between dense polls")
    parser.add_argument("--settle", type=float, default=20.0, help="most seconds to wait for idle")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds for the whole run")
    parser.add_argument("--profile", action="store_true", help="py-spy each service")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples/s")
    parser.add_argument(
        "--native", action="store_true", help="py-spy --native: C frames too (pauses each sample)"
    )
    parser.add_argument(
        "--profile-dir", default="", help="keep py-spy's raw stacks (<service>.txt) here"
    )
    parser.add_argument("--top", type=int, default=10, help="functions shown per service")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    return parser


def main() -> None:
    parser = arguments()
    args = parser.parse_args()
    if not 1 <= args.batch <= MAX_BATCH or args.rate <= 0:
        parser.error(f"--batch must be 1..{MAX_BATCH} and --rate positive")

    started = time.monotonic()
    for name in ("MNEMO_NATS_URL", "MNEMO_DATABASE_URL"):
        if os.environ.pop(name, None):
            print(f"note: {name} ignored; this bench measures servers of its own")
    os.environ.setdefault("MNEMO_RATE_LIMITS", RATE_LIMITS)
    items = turns(args)
    load_before = os.getloadavg()[0]
    print(f"machine: {describe(machine())}, load average {load_before:.2f} (1 min)")
    print(
        f"load: {len(items)} LoCoMo turns at {args.rate:.0f} items/s, {args.batch} per request"
        f" ({'POST /v1/ingest' if args.batch == 1 else 'POST /v1/ingest/batch'}), after a warm-up"
        f" of {args.warmup}; one stack (one process per service), its own NATS and PostgreSQL"
    )
    with local_stack(prefix="mnemo-bench-cpu-") as local:
        remaining = args.deadline - (time.monotonic() - started)
        args.deadline = remaining
        result = asyncio.run(asyncio.wait_for(bench(local, items, args), remaining + 30))
    report(result, args, load_before)
    if args.json:
        out = {k: v for k, v in result.items() if k != "profiles"}
        out["profiles"] = {
            name: own_shares(stacks)[: args.top] for name, stacks in result["profiles"].items()
        }
        out.update(machine=machine(), args=vars(args), at=datetime.now(UTC).isoformat())
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
