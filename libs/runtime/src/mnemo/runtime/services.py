"""One Mnemo service as a child process, restarted within a budget when it dies."""

import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from mnemo.runtime.process import mark_start, spawn, stop

SERVICES = ("ingest", "synthesis", "retrieval", "audit", "gateway")
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
# A crashing service is not restarted at once, so its log shows one failure at a time.
RESTART_DELAY = 1.0


class ServiceProcess:
    """`python -m mnemo.<name>` with its output in `<log_dir>/<name>.log`."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restart_at: float | None = None
        self._restarts: deque[float] = deque()

    def start(self) -> None:
        self.restart_at = None
        mark_start(self.log_path, f"mnemo.{self.name}")
        self.proc = spawn([sys.executable, "-m", f"mnemo.{self.name}"], self.log_path, self.env)

    def exit_code(self) -> int | None:
        """The exit code if the process has ended (and was not stopped by us), else None."""
        return None if self.proc is None else self.proc.poll()

    def schedule_restart(self, now: float) -> bool:
        """Plan a restart unless RESTART_LIMIT restarts already happened in RESTART_WINDOW."""
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
            self._restarts.popleft()
        if len(self._restarts) >= RESTART_LIMIT:
            return False
        self._restarts.append(now)
        self.proc = None
        self.restart_at = now + RESTART_DELAY
        return True

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def restarts(self) -> int:
        return len(self._restarts)

    def restart_due(self) -> bool:
        return self.restart_at is not None and time.monotonic() >= self.restart_at

    def stop_signal(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting."""
        self.restart_at = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL."""
        self.restart_at = None
        stop(self.proc, grace=grace)
        self.proc = None
