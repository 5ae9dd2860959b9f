"""NATS and PostgreSQL for a run: the embedded ones, or those named by MNEMO_*_URL; and
with MNEMO_LLM=local, the local model server."""

import threading
import time
from collections import deque

from mnemo.runtime.llm_model import QWEN_CODER_1_5B, ModelError, assemble
from mnemo.runtime.llm_server import LlmServer, LlmServerError
from mnemo.runtime.nats_server import NatsServer, NatsServerError
from mnemo.runtime.ports import port_open
from mnemo.runtime.postgres_server import PostgresServer, PostgresServerError
from mnemo.runtime.process import on_stop
from mnemo.runtime.run_record import HomeInUse, RunRecord
from mnemo.runtime.services import RESTART_LIMIT, RESTART_WINDOW
from mnemo.runtime.settings import (
    RunSettings,
    keep_home_private,
    local_llm_key,
    local_llm_key_file,
)

TICK = 0.5
# The model MNEMO_LLM=local serves (one source: mnemo.runtime.llm_model).
LOCAL_MODEL = QWEN_CODER_1_5B
SERVER_ERRORS = (NatsServerError, PostgresServerError, LlmServerError, ModelError)


class StartupError(RuntimeError):
    """Something the run needs could not be started; the message says what to do."""


class Servers:
    """NATS and PostgreSQL: the embedded ones, or those named by MNEMO_*_URL."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.nats: NatsServer | None = None
        self.postgres: PostgresServer | None = None
        self.llm: LlmServer | None = None
        self.nats_url = settings.nats_url or ""
        self.database_url = settings.database_url or ""
        # The local model server's base URL and model name (empty unless MNEMO_LLM=local).
        self.llm_url = ""
        self.llm_model = ""
        self.llm_api_key = ""
        self._restarts: dict[str, deque[float]] = {
            "nats": deque(),
            "postgres": deque(),
            "llm": deque(),
        }

    def start(self) -> None:
        """Start the embedded servers that no MNEMO_*_URL replaces; fill in the URLs."""
        home, logs = self.settings.home_dir, self.settings.logs_dir
        self._check_fixed_ports()
        if not self.nats_url:
            self.nats = NatsServer(
                home / "nats", port=self.settings.nats_port, log_path=logs / "nats.log"
            )
            print(f"Starting NATS (JetStream data in {self.nats.data_dir}) ...", flush=True)
            self.nats_url = self.nats.start()
        if not self.database_url:
            self.postgres = PostgresServer(
                home / "postgres", port=self.settings.postgres_port, log_path=logs / "postgres.log"
            )
            print(f"Starting PostgreSQL (data in {self.postgres.data_dir}) ...", flush=True)
            self.database_url = self.postgres.start()
        if self.settings.local_llm:
            self._start_llm()

    def _start_llm(self) -> None:
        home, logs = self.settings.home_dir, self.settings.logs_dir
        models = home / "models"
        if not (models / f"{LOCAL_MODEL.name}.gguf").is_file():
            print(f"Joining the model {LOCAL_MODEL.name} into {models} (once) ...", flush=True)
        model_path = assemble(LOCAL_MODEL, models)
        self.llm_api_key = local_llm_key(self.settings)
        self.llm = LlmServer(
            model_path,
            LOCAL_MODEL.name,
            threads=self.settings.llm_threads,
            api_key_file=local_llm_key_file(self.settings),
            log_path=logs / "llm.log",
            pid_file=home / "llm" / "llama-server.pid",
        )
        print(f"Starting the model server ({LOCAL_MODEL.name}) ...", flush=True)
        self.llm_url = self.llm.start()
        self.llm_model = LOCAL_MODEL.name

    def keep_running(self) -> bool:
        """Restart an embedded server that died (same data, same port), within the budget
        services have; False once one died RESTART_LIMIT times in RESTART_WINDOW."""
        servers = (("nats", self.nats), ("postgres", self.postgres), ("llm", self.llm))
        for name, server in servers:
            # poll() reaps the dead child, so no zombie is left behind.
            if server is None or server._proc is None or server._proc.poll() is None:
                continue
            code = server._proc.returncode
            restarts, now = self._restarts[name], time.monotonic()
            while restarts and now - restarts[0] > RESTART_WINDOW:
                restarts.popleft()
            if len(restarts) >= RESTART_LIMIT:
                print(
                    f"mnemo: {name} died {RESTART_LIMIT} times in {RESTART_WINDOW:.0f}s", flush=True
                )
                return False
            restarts.append(now)
            print(
                f"{name} exited with code {code}; restarting it ({len(restarts)}/{RESTART_LIMIT})",
                flush=True,
            )
            try:
                # start() clears what a crash leaves (a stale postmaster.pid) first.
                server.start()
            except SERVER_ERRORS as exc:
                print(f"mnemo: {name} did not start again: {exc}", flush=True)
        return True

    def _check_fixed_ports(self) -> None:
        wanted = {
            "MNEMO_NATS_PORT": None if self.nats_url else self.settings.nats_port,
            "MNEMO_POSTGRES_PORT": None if self.database_url else self.settings.postgres_port,
        }
        for variable, port in wanted.items():
            if port is not None and port_open("127.0.0.1", port):
                raise StartupError(
                    f"port {port} ({variable}) is already in use; "
                    f"choose another or unset {variable} for a free one"
                )

    def stop(self) -> None:
        """Stop the embedded servers (servers given by URL are not ours to stop)."""
        if self.llm is not None:
            self.llm.stop()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()


def serve_servers(settings: RunSettings) -> int:
    """`mnemo servers`: only NATS and PostgreSQL (and with MNEMO_LLM=local the model
    server), until Ctrl-C, SIGTERM or SIGHUP."""
    stopping = threading.Event()
    on_stop(lambda _signum, _frame: stopping.set())
    keep_home_private(settings)
    record = RunRecord(settings.home_dir / "run")
    try:
        record.claim()
    except HomeInUse as exc:
        print(f"mnemo: {exc}", flush=True)
        return 1
    servers = Servers(settings)
    try:
        servers.start()
        print(
            f"\nMNEMO_NATS_URL={servers.nats_url}\n"
            f"MNEMO_DATABASE_URL={servers.database_url}\n"
            + (
                f"MNEMO_LLM_URL={servers.llm_url}\nMNEMO_LLM_MODEL={servers.llm_model}\n"
                f"MNEMO_LLM_API_KEY={servers.llm_api_key}\n"
                if servers.llm_url
                else ""
            )
            + "\n"
            f"Logs in {settings.logs_dir}. Press Ctrl-C to stop.",
            flush=True,
        )
        while not stopping.wait(TICK):
            pass
        return 0
    except (StartupError, *SERVER_ERRORS) as exc:
        print(f"mnemo: {exc}", flush=True)
        return 1
    finally:
        servers.stop()
        record.release()
        print("Servers stopped.", flush=True)
