"""A service started before its dependencies are ready waits for them instead of exiting.

A cluster still electing its leaders (or a loaded machine) answers a starting service's
stream and bucket requests with a timeout or "temporarily unavailable"; seen in CI as a
gateway that exited at startup. Here a NATS server without JetStream stands in for one
that is not ready (each request finds no responder), and a port where PostgreSQL is not
listening yet for a database still starting. The services must keep trying, and come up
once the real server takes the port.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from mnemo.bus import (
    Consumer,
    ConsumerSpec,
    Delivery,
    Publisher,
    PublishError,
    connect,
    ensure_streams,
)
from mnemo.contracts import IngestMemory, Topology, new_id, utcnow
from mnemo.runtime.nats_server import NatsServer, nats_server_binary
from mnemo.runtime.ports import free_port
from mnemo.runtime.postgres_server import PostgresServer


def _poll(probe, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (last := probe()):
        assert time.monotonic() < deadline, f"{what}: never"
        time.sleep(0.2)
    return last


class _Started:
    """Services started as `make run` starts them, each with its log."""

    def __init__(self, env: dict[str, str], folder: Path, names: tuple[str, ...]) -> None:
        self.logs = {name: folder / f"{name}.log" for name in names}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, log_path in self.logs.items():
            with open(log_path, "ab") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", f"mnemo.{name}"], env=env, stdout=log, stderr=log
                )

    def alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited:\n{self.logs[name].read_text()}"

    def waited(self, name: str, step: str) -> int:
        text = self.logs[name].read_text()
        return sum(
            1 for line in text.splitlines() if "startup_waiting" in line and f'"{step}"' in line
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(15)


@contextlib.contextmanager
def _started(env: dict[str, str], folder: Path, *names: str) -> Iterator[_Started]:
    started = _Started(env, folder, names)
    try:
        yield started
    finally:
        started.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _plain_nats(port: int, monitor: int) -> subprocess.Popen[bytes]:
    """A NATS server without JetStream: each JetStream request finds no responder."""
    return subprocess.Popen(
        [str(nats_server_binary()), "--addr", "127.0.0.1", "--port", str(port),
         "--http_port", str(monitor)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_services_started_before_jetstream_wait_for_it(
    fresh_database: str, bus_root: str, tmp_path: Path
):
    port, monitor = free_port(), free_port()
    plain = _plain_nats(port, monitor)
    probe_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ,
        "MNEMO_NATS_URL": f"nats://127.0.0.1:{port}",
        "MNEMO_DATABASE_URL": fresh_database,
        "MNEMO_BUS_ROOT": bus_root,
        "MNEMO_PROBE_PORT": str(probe_port),
        "MNEMO_GATEWAY_PORT": str(gateway_port),
    }
    server = NatsServer(tmp_path / "nats", port=port)
    try:
        _poll(lambda: _answers(f"http://127.0.0.1:{monitor}/varz"), "plain NATS up")
        with _started(env, tmp_path, "audit", "gateway") as services:
            # Each has asked JetStream more than once, and neither gave up.
            def asked_again() -> bool:
                services.alive()
                return services.waited("audit", "streams") >= 2 and (
                    services.waited("gateway", "jetstream") >= 2
                )

            _poll(asked_again, "services retrying")
            plain.terminate()
            plain.wait(15)
            server.start()

            def ready() -> bool:
                services.alive()
                return _answers(f"http://127.0.0.1:{probe_port}/readyz") and _answers(
                    f"http://127.0.0.1:{gateway_port}/docs/openapi.json"
                )

            _poll(ready, "ready once JetStream is there")
    finally:
        if plain.poll() is None:
            plain.terminate()
            plain.wait(15)
        server.stop()


def test_a_service_started_before_postgres_waits_for_it(
    nats_url: str, bus_root: str, tmp_path: Path
):
    db_port, probe_port = free_port(), free_port()
    env = {
        **os.environ,
        "MNEMO_NATS_URL": nats_url,
        "MNEMO_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{db_port}/postgres",
        "MNEMO_BUS_ROOT": bus_root,
        "MNEMO_PROBE_PORT": str(probe_port),
    }
    database = PostgresServer(tmp_path / "pg", port=db_port, database="postgres")
    try:
        with _started(env, tmp_path, "audit") as services:

            def asked_again() -> bool:
                services.alive()
                return services.waited("audit", "postgres") >= 2

            _poll(asked_again, "audit retrying")
            database.start()

            def ready() -> bool:
                services.alive()
                return _answers(f"http://127.0.0.1:{probe_port}/readyz")

            _poll(ready, "ready once PostgreSQL is there")
    finally:
        database.stop()


async def test_a_consumer_started_before_jetstream_waits_then_consumes(bus_root, tmp_path):
    """The consumer task itself (its durable, its dead-letter replays, its binding): a task
    that ended on a timeout there would stop its whole service."""

    port, monitor = free_port(), free_port()
    plain = _plain_nats(port, monitor)
    topology = Topology(root=bus_root)
    # The streams are made first (as a service's start makes them before its consumers
    # run), in the store the server on the consumer's port will open.
    with NatsServer(tmp_path / "nats") as seeding:
        seeder = await connect(seeding.url, name="mnemo-tests")
        await ensure_streams(seeder.jetstream(), topology)
        await seeder.close()
    server = NatsServer(tmp_path / "nats", port=port)
    nc = None
    task = None
    try:
        _poll(lambda: _answers(f"http://127.0.0.1:{monitor}/varz"), "plain NATS up")
        nc = await connect(f"nats://127.0.0.1:{port}", name="mnemo-tests")
        publisher = Publisher(nc, topology, "tests")
        handled: list[str] = []

        async def handle(delivery: Delivery) -> None:
            handled.append(delivery.msg_id)

        spec = ConsumerSpec(
            durable="waits", stream=topology.cmd_stream, filter_subjects=[topology.cmd_all]
        )
        task = asyncio.create_task(Consumer(publisher, spec, handle).run())

        def asked_again() -> bool:
            assert not task.done(), f"the consumer gave up: {task.exception()!r}"
            varz = httpx.get(f"http://127.0.0.1:{monitor}/varz", timeout=5).json()
            return varz.get("in_msgs", 0) >= 3

        await _poll_async(asked_again, "consumer retrying")
        plain.terminate()
        plain.wait(15)
        server.start()
        command = IngestMemory(
            command_id=new_id(), tenant_id="acme", issued_at=utcnow(), actor="test",
            memory_id=new_id(), user_id="u1", content="hello",
        )  # fmt: skip

        async def sent() -> bool:
            try:
                await publisher.publish_command(command, correlation_id="c", causation_id="r")
            except PublishError:  # still reconnecting: refused at once, sent again
                return False
            return True

        deadline = time.monotonic() + 120
        while not await sent():
            assert time.monotonic() < deadline, "never published"
            await asyncio.sleep(0.2)

        def consumed() -> bool:
            assert not task.done(), f"the consumer stopped: {task.exception()!r}"
            return bool(handled)

        await _poll_async(consumed, "the command consumed")
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if nc is not None:
            await nc.close()
        if plain.poll() is None:
            plain.terminate()
            plain.wait(15)
        server.stop()


async def _poll_async(probe, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (last := probe()):
        assert time.monotonic() < deadline, f"{what}: never"
        await asyncio.sleep(0.2)
    return last
