"""`mnemo run`: the servers, the five services, health, restarts and shutdown."""

import contextlib
import os
import threading
import time
from types import FrameType

import httpx

from mnemo.runtime.ports import port_open
from mnemo.runtime.process import on_stop, tail
from mnemo.runtime.run_record import HomeInUse, RunRecord
from mnemo.runtime.servers import SERVER_ERRORS, Servers, StartupError
from mnemo.runtime.services import RESTART_LIMIT, RESTART_WINDOW, SERVICES, ServiceProcess
from mnemo.runtime.settings import RunSettings, dev_api_key, keep_home_private, key_secret
from mnemo.settings import CONFIG_ERROR_EXIT

HEALTH_TIMEOUT = 90.0
# The LLM settings with the local server, unless set: it answers one request at a time at
# a few tokens/s, so one call in flight and longer waits (synthesis's for the model, the
# gateway's for an answer) than a hosted API needs; and retries enough (about a minute of
# back-off) to outlast the supervisor restarting a server that died: with the default 2 a
# restart's seconds gave up the call in flight and every memory queued behind it
# ("unavailable"), so the model never read them.
LOCAL_LLM_DEFAULTS = {
    "MNEMO_LLM_CONCURRENCY": "1",
    "MNEMO_LLM_TIMEOUT": "180",
    "MNEMO_LLM_RETRIES": "10",
    "MNEMO_ANSWER_TIMEOUT": "180",
}
TICK = 0.5
SERVICE_GRACE = 10.0


class Supervisor:
    """Runs everything until Ctrl-C or SIGTERM; `run()` returns the process exit code."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.servers = Servers(settings)
        self.services: list[ServiceProcess] = []
        self.record = RunRecord(settings.home_dir / "run")
        self._stopping = threading.Event()

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: leave the main loop at the next tick."""
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        on_stop(self.request_stop)

    def run(self) -> int:
        """Start servers and services, wait for health, then watch until told to stop."""
        self.install_signal_handlers()
        keep_home_private(self.settings)
        try:
            for name in self.record.claim():
                print(f"Stopped {name}, left running by an earlier run.", flush=True)
        except HomeInUse as exc:
            print(f"mnemo: {exc}", flush=True)
            return 1
        try:
            self._check_gateway_port()
            self.servers.start()
            # Where `mnemo admin` finds the bus of this run.
            (self.record.folder / "nats_url").write_text(self.servers.nats_url + "\n")
            if not self._stopping.is_set():
                self._start_services()
            return self._watch()
        except (StartupError, *SERVER_ERRORS) as exc:
            print(f"mnemo: {exc}", flush=True)
            return 1
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Services first (SIGTERM, then SIGKILL after 10s), then NATS and PostgreSQL."""
        if self.services:
            print("Stopping services ...", flush=True)
        for service in self.services:
            service.stop_signal()
        deadline = time.monotonic() + SERVICE_GRACE
        for service in self.services:
            service.stop(grace=max(0.0, deadline - time.monotonic()))
        self.services = []
        self.servers.stop()
        # `mnemo admin` must not find the bus of a run that has ended.
        (self.record.folder / "nats_url").unlink(missing_ok=True)
        self.record.release()
        print("Mnemo stopped.", flush=True)

    def service_env(self) -> dict[str, str]:
        s = self.settings
        llm: dict[str, str] = {}
        if self.servers.llm_url:
            llm = {
                **{
                    name: os.environ.get(name) or value
                    for name, value in LOCAL_LLM_DEFAULTS.items()
                },
                "MNEMO_LLM_URL": self.servers.llm_url,
                "MNEMO_LLM_MODEL": self.servers.llm_model,
                "MNEMO_LLM_API_KEY": self.servers.llm_api_key,
            }
        return {
            **os.environ,
            **llm,
            "MNEMO_HOME": str(s.home_dir),
            "MNEMO_NATS_URL": self.servers.nats_url,
            "MNEMO_DATABASE_URL": self.servers.database_url,
            "MNEMO_GATEWAY_PORT": str(s.gateway_port),
            "MNEMO_DEV_API_KEY": dev_api_key(s),
            "MNEMO_DEV_TENANT": s.dev_tenant,
            "MNEMO_KEY_SECRET": key_secret(s),
            "MNEMO_QDRANT_PATH": str(s.qdrant_dir),
            # Log lines reach the log files as they happen, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
        }

    def _check_gateway_port(self) -> None:
        port = self.settings.gateway_port
        if port_open("127.0.0.1", port):
            raise StartupError(
                f"port {port} is already in use; stop what uses it or set MNEMO_GATEWAY_PORT"
            )

    def _start_services(self) -> None:
        env = self.service_env()
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            service = ServiceProcess(name, service_metrics_env(env, name), self.settings.logs_dir)
            self._start(service)
            self.services.append(service)
        print(f"Started {', '.join(SERVICES)}; waiting for the gateway ...", flush=True)

    def _start(self, service: ServiceProcess) -> None:
        service.start()
        if service.pid is not None:
            self.record.remember(service.name, service.pid)

    def _watch(self) -> int:
        ready = False
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while not self._stopping.wait(TICK):
            if not self.servers.keep_running() or not self._keep_services_running():
                return 1
            if ready:
                continue
            if self._gateway_healthy():
                ready = True
                self._print_ready()
            elif time.monotonic() > deadline:
                print(f"mnemo: the gateway was not healthy within {HEALTH_TIMEOUT:.0f}s.")
                self._print_log_tails()
                return 1
        return 0

    def _keep_services_running(self) -> bool:
        """Restart dead services within their budget; False when one exhausted it."""
        now = time.monotonic()
        for service in self.services:
            if service.restart_due():
                print(f"Restarting {service.name} ({service.restarts}/{RESTART_LIMIT})", flush=True)
                self._start(service)
                continue
            code = service.exit_code()
            if code is None:
                continue
            print(f"{service.name} exited with code {code}; see {service.log_path}", flush=True)
            if code == CONFIG_ERROR_EXIT:
                # Its settings are wrong: another start would fail the same way.
                print(
                    f"mnemo: {service.name} stopped on its configuration; shutting down. "
                    f"Last lines of its log:\n{tail(service.log_path)}",
                    flush=True,
                )
                return False
            if not service.schedule_restart(now):
                print(
                    f"mnemo: {service.name} failed {RESTART_LIMIT} times within "
                    f"{RESTART_WINDOW:.0f}s; shutting down. Last lines of its log:\n"
                    f"{tail(service.log_path)}",
                    flush=True,
                )
                return False
        return True

    def _gateway_healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.settings.gateway_port}/v1/health"
        with contextlib.suppress(httpx.HTTPError):
            # The gateway asks every service; a slow one takes up to 2.5s to count as down.
            return httpx.get(url, timeout=5.0).status_code == 200
        return False

    def _print_ready(self) -> None:
        url = f"http://127.0.0.1:{self.settings.gateway_port}"
        key = dev_api_key(self.settings)
        llm = ""
        if self.servers.llm_url:
            llm = f"  LLM:      {self.servers.llm_model} at {self.servers.llm_url}\n"
        print(
            "\nMnemo is running. Press Ctrl-C to stop.\n"
            f"  Gateway:  {url}\n"
            f"  Console:  {url}/console   (sign in with the API key)\n"
            f"  API key:  {key}   (tenant {self.settings.dev_tenant})\n"
            f"  Logs:     {self.settings.logs_dir}\n"
            f"{llm}"
            f"  Try:      curl -X POST {url}/v1/ingest -H 'Authorization: Bearer {key}' "
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"userId": "alice", "content": "I drink my coffee black"}}\'\n',
            flush=True,
        )

    def _print_log_tails(self) -> None:
        for service in self.services:
            print(f"--- {service.log_path} (last lines)\n{tail(service.log_path)}", flush=True)


def service_metrics_env(env: dict[str, str], service: str) -> dict[str, str]:
    """On one machine every process needs a metrics port of its own: MNEMO_METRICS_PORT is
    the first of five, one per service in SERVICES' order (ingest, synthesis, retrieval,
    audit, gateway)."""
    base = env.get("MNEMO_METRICS_PORT", "")
    if not base.isdigit():
        return env
    return {**env, "MNEMO_METRICS_PORT": str(int(base) + SERVICES.index(service))}
