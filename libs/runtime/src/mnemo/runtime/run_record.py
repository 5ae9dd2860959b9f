"""Which processes a `mnemo run` started, so that the next run can clean up after a crash.

Children live in sessions of their own, so a supervisor killed with SIGKILL leaves them
running (the gateway keeps its port). The record in MNEMO_HOME/run/ lets the next run
refuse to share a home with a live supervisor, and stop what a dead one left behind.
"""

import contextlib
import os
from pathlib import Path

import psutil


class HomeInUse(RuntimeError):
    """Another live `mnemo run` or `mnemo servers` uses this MNEMO_HOME."""


class RunRecord:
    """Pid files under `folder`: `supervisor.pid` and one `<name>.pid` per child."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def claim(self) -> list[str]:
        """Take the home for this process; return the names of orphans it stopped."""
        self.folder.mkdir(parents=True, exist_ok=True)
        owner = self._read("supervisor")
        if owner is not None and owner != os.getpid() and _is_alive(owner):
            raise HomeInUse(
                f"Mnemo already runs with this MNEMO_HOME (pid {owner}); stop it first "
                "or set MNEMO_HOME to another folder"
            )
        stopped = self._stop_orphans()
        self._write("supervisor", os.getpid())
        return stopped

    def remember(self, name: str, pid: int) -> None:
        self._write(name, pid)

    def release(self) -> None:
        """Forget every process (they are stopped) and give up the home."""
        for path in self.folder.glob("*.pid"):
            path.unlink(missing_ok=True)

    def _stop_orphans(self) -> list[str]:
        orphans: list[tuple[str, psutil.Process]] = []
        for path in self.folder.glob("*.pid"):
            name = path.stem
            pid = self._read(name)
            path.unlink(missing_ok=True)
            if name == "supervisor" or pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                # Only a process that is still the one we started (pids get reused).
                if f"mnemo.{name}" in process.cmdline():
                    process.terminate()
                    orphans.append((name, process))
        _gone, alive = psutil.wait_procs([p for _, p in orphans], timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return [name for name, _ in orphans]

    def _read(self, name: str) -> int | None:
        try:
            return int((self.folder / f"{name}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _write(self, name: str, pid: int) -> None:
        (self.folder / f"{name}.pid").write_text(f"{pid}\n")


def _is_alive(pid: int) -> bool:
    """True if `pid` is a running `mnemo` command (`mnemo ...` or `python -m mnemo.runtime`)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(Path(arg).name == "mnemo" or arg == "mnemo.runtime" for arg in process.cmdline())
    except psutil.Error:
        return False
