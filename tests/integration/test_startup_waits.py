"""A service started before its dependencies are ready waits for them instead of exiting.

A cluster still electing its leaders (or a loaded machine) answers a starting service's
stream and bucket requests with a timeout or "temporarily unavailable"; seen in CI as a
gateway that exited at startup. Here a NATS server without JetStream stands in for one
that is not ready (each request finds no responder), and a port where PostgreSQL is not
listening yet for a database still starting. The services must keep trying, and come up
once the real server takes the port.
"""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

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


def test_services_started_before_jetstream_wait_for_it(
    fresh_database: str, bus_root: str, tmp_path: Path
):
    port, monitor = free_port(), free_port()
    plain = subprocess.Popen(
        [str(nats_server_binary()), "--addr", "127.0.0.1", "--port", str(port),
         "--http_port", str(monitor)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
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
