"""Fault injection under steady load: nothing acknowledged is lost or stored twice.

Each scenario runs on a stack of its own (its own NATS and PostgreSQL, which this script
controls, and `mnemo run` for the five services, which restarts a killed one): a steady
load of ingests (each with a sourceId, spread over ten users) runs while one part is
killed (-9) or frozen (SIGSTOP) and brought back, then the script checks through the
public API that every acknowledged item is present exactly once, synthesized, searchable
(a sample) and audited (a sample), and counts what the clients saw that was not a 2xx.

    python bench/chaos.py [--short] [--rate 50] [--only NAME,...] [--list]

Prints a table (scenario, acked, lost, duplicated, not synthesized, client errors by
status, seconds to recover) and the machine; exits 1 if anything was lost or duplicated or
a client saw a 500. `--short` is the CI form: two scenarios of a few seconds.
"""

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from local_stack import describe, local_stack, machine

from mnemo.runtime.nats_server import NatsServer
from mnemo.runtime.postgres_server import PostgresServer

SERVICES = ("gateway", "ingest", "synthesis", "retrieval", "audit")
USERS = 10


@dataclass
class Servers:
    nats: NatsServer
    postgres: PostgresServer
    run_pid: int = 0

    def service_pid(self, name: str) -> int:
        for child in psutil.Process(self.run_pid).children():
            if f"mnemo.{name}" in child.cmdline():
                return child.pid
        raise RuntimeError(f"no {name} process")

    def postgres_family(self) -> list[psutil.Process]:
        pid = int((self.postgres.data_dir / "postmaster.pid").read_text().splitlines()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def nats_family(self) -> list[psutil.Process]:
        assert self.nats._proc is not None
        return [psutil.Process(self.nats._proc.pid)]


Fault = Callable[[Servers], None]


def kill_service(name: str) -> Fault:
    def fault(servers: Servers) -> None:
        os.kill(servers.service_pid(name), signal.SIGKILL)  # `mnemo run` restarts it

    return fault


def down(part: str, how: str, seconds: float) -> Fault:
    def fault(servers: Servers) -> None:
        family = servers.nats_family() if part == "nats" else servers.postgres_family()
        if how == "stop":
            for process in family:
                process.send_signal(signal.SIGSTOP)
            time.sleep(seconds)
            for process in family:
                process.send_signal(signal.SIGCONT)
            return
        for process in family:
            process.kill()
        psutil.wait_procs(family, timeout=15)
        time.sleep(seconds)
        (servers.nats if part == "nats" else servers.postgres).start()

    return fault


def scenarios() -> dict[str, Fault]:
    found: dict[str, Fault] = {f"kill -9 {s}": kill_service(s) for s in SERVICES}
    for part in ("nats", "postgres"):
        for how in ("kill", "stop"):
            for seconds in (5, 30, 180):
                found[f"{part} {how} {seconds}s"] = down(part, how, seconds)
    return found


SHORT = ("kill -9 ingest", "postgres kill 5s")


@dataclass
class Load:
    rate: float
    scenario: str
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (user, n)
    statuses: Counter[str] = field(default_factory=Counter)
    last_ok: float = 0.0
    stopping: bool = False

    async def run(self, client: httpx.AsyncClient) -> None:
        tasks: set[asyncio.Task[None]] = set()
        n, start = 0, time.monotonic()
        while not self.stopping:
            due = start + n / self.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(self.send(client, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)

    async def send(self, client: httpx.AsyncClient, n: int) -> None:
        user = f"chaos-{n % USERS}"
        body = {
            "userId": user,
            "content": f"Chaos note {n}: the token tok{n}x is unique to this memory.",
            "sourceId": f"chaos:{n}",
        }
        headers = {"x-correlation-id": f"chaos-{n}"}
        try:
            response = await client.post("/v1/ingest", json=body, headers=headers, timeout=30)
        except httpx.HTTPError as exc:
            self.statuses[type(exc).__name__] += 1
            return
        if response.status_code == 202:
            self.acked[response.json()["id"]] = (user, n)
            self.last_ok = time.monotonic()
        else:
            self.statuses[str(response.status_code)] += 1


async def listed(client: httpx.AsyncClient) -> Counter[str]:
    """Every memory of the load's users: id -> times listed."""
    seen: Counter[str] = Counter()
    for u in range(USERS):
        offset = 0
        while True:
            params: dict[str, str | int] = {"userId": f"chaos-{u}", "limit": 100, "offset": offset}
            response = await client.get("/v1/memories", params=params, timeout=30)
            response.raise_for_status()
            page = response.json()["memories"]
            for memory in page:
                seen[memory["id"]] += 1
            if len(page) < 100:
                break
            offset += 100
    return seen


async def verify(client: httpx.AsyncClient, load: Load, deadline_s: float) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    acked = set(load.acked)
    while True:
        try:
            seen = await listed(client)
        except httpx.HTTPError:
            seen = Counter()
        lost = acked - set(seen)
        if not lost or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    # Synthesized and audited: the request's audit chain holds memory.recorded and
    # memory.synthesized (a sample; the chains are complete once synthesis caught up).
    sample = random.Random(7).sample(sorted(acked), min(20, len(acked)))
    while True:
        unsearchable = unaudited = unsynthesized = 0
        for memory_id in sample:
            user, n = load.acked[memory_id]
            hits = await client.get("/v1/search", params={"userId": user, "q": f"tok{n}x"})
            found = hits.is_success and memory_id in {h["id"] for h in hits.json()["results"]}
            unsearchable += not found
            chain = await client.get("/v1/audit/events", params={"correlation_id": f"chaos-{n}"})
            events = chain.json().get("events", []) if chain.is_success else []
            types = {e["type"] for e in events}
            unaudited += "memory.recorded" not in types
            unsynthesized += "memory.synthesized" not in types
        if not (unsearchable or unaudited or unsynthesized) or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    return {
        "lost": len(lost),
        "duplicated": sum(1 for c in seen.values() if c > 1) + max(0, len(seen) - len(acked)),
        "unsynthesized": f"{unsynthesized}/{len(sample)}",
        "unsearchable": f"{unsearchable}/{len(sample)}",
        "unaudited": f"{unaudited}/{len(sample)}",
    }


async def run_scenario(
    name: str, fault: Fault, rate: float, warmup: float, settle: float
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="mnemo-chaos-") as tmp:
        root = Path(tmp)
        servers = Servers(NatsServer(root / "nats"), PostgresServer(root / "postgres"))
        os.environ["MNEMO_NATS_URL"] = servers.nats.start()
        os.environ["MNEMO_DATABASE_URL"] = servers.postgres.start()
        try:
            with local_stack(prefix="mnemo-chaos-stack-") as stack:
                servers.run_pid = stack.pid
                headers = {"Authorization": f"Bearer {stack.api_key}"}
                async with httpx.AsyncClient(base_url=stack.base_url, headers=headers) as client:
                    load = Load(rate, name)
                    sending = asyncio.create_task(load.run(client))
                    await asyncio.sleep(warmup)
                    await asyncio.to_thread(fault, servers)
                    back = time.monotonic()
                    while load.last_ok < back and time.monotonic() < back + 300:  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
                    recover = load.last_ok - back if load.last_ok >= back else float("inf")
                    await asyncio.sleep(warmup)
                    load.stopping = True
                    await sending
                    result = await verify(client, load, deadline_s=settle)
        finally:
            servers.nats.stop()
            servers.postgres.stop()
            os.environ.pop("MNEMO_NATS_URL", None)
            os.environ.pop("MNEMO_DATABASE_URL", None)
    errors = ", ".join(f"{k}×{v}" for k, v in sorted(load.statuses.items())) or "none"
    return {"scenario": name, "acked": len(load.acked), **result, "client errors": errors,
            "recover s": round(recover, 1)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI form")
    parser.add_argument("--rate", type=float, default=50.0, help="ingests per second")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args()
    known = scenarios()
    if args.list:
        print("\n".join(known))
        return 0
    names = list(SHORT) if args.short else list(known)
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
    warmup = 3.0 if args.short else 10.0
    rows = []
    for name in names:
        print(f"... {name}", file=sys.stderr, flush=True)
        settle = 120.0 if args.short else 300.0
        rows.append(asyncio.run(run_scenario(name, known[name], args.rate, warmup, settle)))
    columns = list(rows[0])
    print(f"\nmachine: {describe(machine())}, load average {os.getloadavg()[0]:.1f}")
    print(f"load: {args.rate:.0f} ingests/s, each with a sourceId, over {USERS} users\n")
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    bad = [r for r in rows if r["lost"] or r["duplicated"] or "500" in str(r["client errors"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
