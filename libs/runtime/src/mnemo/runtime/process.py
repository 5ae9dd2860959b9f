"""Child processes with their output in a log file, stopped politely, then firmly."""

import json
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
import psutil

from mnemo.runtime.ports import port_open

# What stops a run cleanly: Ctrl-C, SIGTERM, and the terminal closing (SIGHUP: an SSH
# session dropped left the servers and services running with nothing looking after them;
# they run in sessions of their own, so the hang-up reaches only the supervisor).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def on_stop(handler: Callable[[int, Any], None]) -> None:
    """`handler` for each of STOP_SIGNALS, but a SIGHUP ignored already (`nohup mnemo
    run &`: the run is meant to outlive the terminal)."""
    for sig in STOP_SIGNALS:
        if sig == signal.SIGHUP and signal.getsignal(sig) is signal.SIG_IGN:
            continue
        signal.signal(sig, handler)


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    user: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log_path`, as `user` if given.

    The child gets a session of its own: Ctrl-C in a terminal then reaches only the
    supervisor, which stops children in order (services before the servers they use).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # The child keeps its own copy of the descriptor; ours can close.
        return subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            user=user,
            group=None if user is None else _primary_group(user),
            extra_groups=None if user is None else [],
            start_new_session=True,
        )


def stop(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, grace: float = 10.0
) -> int | None:
    """Send `sig`, wait up to `grace` seconds, then SIGKILL; return the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
        except ProcessLookupError:
            pass
    return proc.wait()


# Runs append to one log file; a line of its own tells where each start begins. JSON, as
# every line of a service's log is (a file read with `jq` whole); logs written before it
# was JSON hold the plain one.
_STARTING = ('{"event": "process_starting"', "--- mnemo: starting ")


def mark_start(log_path: Path, name: str) -> None:
    """Append the line that tells where this start of `name` begins in its log."""
    line = {
        "event": "process_starting",
        "process": name,
        "service": "supervisor",
        "level": "info",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        log.write(json.dumps(line) + "\n")


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file written since its last start (what an earlier
    run wrote would bury why this one stopped), or a note that there is none yet."""
    if not path.exists():
        return f"(no log at {path})"
    kept = path.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(kept) if line.startswith(_STARTING)]
    if starts:
        kept = kept[starts[-1] :]
    return "\n".join(kept[-lines:])


def stop_orphan(pid_file: Path, ours: Callable[[psutil.Process], bool]) -> None:
    """Stop the process `pid_file` names if `ours` says it is this server's: a supervisor
    killed with SIGKILL leaves its server running, holding the port, the data, memory."""
    try:
        process = psutil.Process(int(pid_file.read_text().strip()))
        if not ours(process):
            return
        process.terminate()
        try:
            process.wait(10)
        except psutil.TimeoutExpired:
            process.kill()
    except (FileNotFoundError, ValueError, psutil.Error):
        pass
    finally:
        pid_file.unlink(missing_ok=True)


def wait_healthy(
    proc: subprocess.Popen[bytes],
    url: str,
    *,
    name: str,
    timeout: float,
    fail: Callable[[str], NoReturn],
    every: float = 0.1,
) -> None:
    """Poll `url` until it answers 200 with `proc` still alive; `fail` with why otherwise
    (the process exited, or `timeout` seconds passed)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"{name} exited with code {proc.returncode}")
        if port_open(host, port):
            try:
                response = httpx.get(url, timeout=2.0)
                # Still alive: a server may exit just after answering (a taken port).
                if response.status_code == 200 and proc.poll() is None:
                    return
                last = f"{response.status_code} {response.text.strip()[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
        time.sleep(every)
    fail(f"{name} was not ready in {timeout:.0f}s ({last})")


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid
