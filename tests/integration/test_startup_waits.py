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
from tests.e2e.waiting import eventually, eventually_async


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
        eventually(lambda: _answers(f"http://127.0.0.1:{monitor}/varz"), timeout=120)
        with _started(env, tmp_path, "audit", "gateway") as services:
            # Each has asked JetStream more than once, and neither gave up.
            def asked_again() -> bool:
                services.alive()
                return services.waited("audit", "streams") >= 2 and (
                    services.waited("gateway", "jetstream") >= 2
                )

            eventually(asked_again, timeout=120)
            plain.terminate()
            plain.wait(15)
            server.start()

            def ready() -> bool:
                services.alive()
                return _answers(f"http://127.0.0.1:{probe_port}/readyz") and _answers(
                    f"http://127.0.0.1:{gateway_port}/docs/openapi.json"
                )

            eventually(ready, timeout=120)
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

            eventually(asked_again, timeout=120)
            database.start()

            def ready() -> bool:
                services.alive()
                return _answers(f"http://127.0.0.1:{probe_port}/readyz")

            eventually(ready, timeout=120)
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
        eventually(lambda: _answers(f"http://127.0.0.1:{monitor}/varz"), timeout=120)
        nc = await connect(f"nats://127.0.0.1:{port}", name="mnemo-tests")
        publisher = Publisher(nc, topology, "tests")
        handled: list[str] = []

        async def handle(delivery: Delivery) -> None:
            handled.append(delivery.msg_id)

        spec = ConsumerSpec(
            durable="waits", stream=topology.cmd_stream, filter_subjects=[topology.cmd_all]
        )
        task = asyncio.create_task(Consumer(publisher, spec, handle).run())

        async def asked_again() -> bool:
            assert not task.done(), f"the consumer gave up: {task.exception()!r}"
            async with httpx.AsyncClient(timeout=5) as client:
                varz = (await client.get(f"http://127.0.0.1:{monitor}/varz")).json()
            return varz.get("in_msgs", 0) >= 3

        await eventually_async(asked_again, timeout=120)
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

        await eventually_async(sent, timeout=120)

        async def consumed() -> bool:
            assert not task.done(), f"the consumer stopped: {task.exception()!r}"
            return bool(handled)

        await eventually_async(consumed, timeout=120)
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
