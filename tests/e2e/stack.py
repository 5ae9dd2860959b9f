"""All five services as real processes against the session's NATS and PostgreSQL."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from mnemo.runtime.ports import free_port

SERVICES = ("ingest", "synthesis", "retrieval", "audit", "gateway")


class Stack:
    def __init__(
        self, *, nats_url: str, database_url: str, home: Path, bus_root: str, port: int
    ) -> None:
        self.home = home
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_key = "mk_dev_" + os.urandom(16).hex()
        self.env = {
            **os.environ,
            "MNEMO_NATS_URL": nats_url,
            "MNEMO_DATABASE_URL": database_url,
            "MNEMO_BUS_ROOT": bus_root,
            "MNEMO_HOME": str(home),
            "MNEMO_QDRANT_PATH": str(home / "qdrant"),
            "MNEMO_GATEWAY_PORT": str(port),
            "MNEMO_DEV_API_KEY": self.api_key,
            "MNEMO_DEV_TENANT": "e2e",
            "MNEMO_KEY_SECRET": "e2e-key-secret-" + os.urandom(8).hex(),
            "MNEMO_OPEN_SIGNUP": "true",
            # Tests present bad keys on purpose, all from 127.0.0.1: only the tests of the
            # failed-auth limit turn it on (on their own gateway).
            "MNEMO_AUTH_FAILURE_LIMIT": "0",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *services: str, **overrides: str) -> None:
        """Start services (all by default); `overrides` are extra MNEMO_* settings."""
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        env = {**self.env, **overrides}
        for name in services or SERVICES:
            log = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", f"mnemo.{name}"], env=env, stdout=log, stderr=log
            )

    def stop(self, *services: str) -> None:
        names = services or tuple(self.procs)
        for name in names:
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in names:
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @contextlib.contextmanager
    def extra_gateway(self, key: str, **overrides: str) -> Iterator[httpx.Client]:
        """One more gateway replica on the same bus, with its own key and settings; yields a
        client of it once it is healthy."""
        port = free_port()
        env = {
            **self.env,
            "MNEMO_GATEWAY_PORT": str(port),
            "MNEMO_DEV_API_KEY": key,
            **overrides,
        }
        log = open(self.home / "logs" / f"gateway-{port}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "mnemo.gateway"], env=env, stdout=log, stderr=log
        )
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=15,
        )
        try:
            deadline = time.monotonic() + 60
            while not _healthy(client):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"extra gateway did not start; see {log.name}")
                time.sleep(0.2)
            yield client
        finally:
            client.close()
            proc.terminate()
            proc.wait(15)

    @contextlib.contextmanager
    def replica(self, service: str, **overrides: str) -> Iterator[subprocess.Popen[bytes]]:
        """One more replica of a backend service on the same bus and database, stopped
        on leaving; its log is `<service>-replica.log`."""
        log = open(self.home / "logs" / f"{service}-replica.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", f"mnemo.{service}"],
            env={**self.env, **overrides},
            stdout=log,
            stderr=log,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(15)

    def rebuild(self, service: str) -> str:
        """Stop `service`, run its rebuild command, start it again; return what it printed.

        The service is started again whatever the rebuild did: a rebuild that failed (or
        outlived its deadline) must not leave the session's stack without the service for
        every test after it. The deadline is generous: retrieval's rebuild embeds every
        memory the session has written, minutes on a loaded 2-core machine."""
        self.stop(service)
        if service == "retrieval":
            shutil.rmtree(self.home / "qdrant", ignore_errors=True)
        try:
            result = subprocess.run(
                [sys.executable, "-m", f"mnemo.{service}", "rebuild"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            self.start(service)
        assert result.returncode == 0, result.stderr
        self.wait_healthy()
        return result.stdout

    def wait_healthy(self, timeout: float = 240.0) -> dict:
        # Generous: five services importing their libraries and loading a model take
        # minutes on a loaded 2-core machine; a healthy stack returns as soon as it is.
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")
            try:
                response = httpx.get(f"{self.base_url}/v1/health", timeout=5)
                last = response.text
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.3)
        tails = "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in self.procs)
        raise RuntimeError(f"stack not healthy in {timeout}s: {last}\n{tails}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.home / "logs" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}", **headers},
            timeout=15,
        )


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/v1/health").status_code == 200
    except httpx.HTTPError:
        return False
