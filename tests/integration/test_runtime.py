"""The embedded servers and the `mnemo` command, against real processes."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
import pytest

from mnemo.runtime.nats_server import NatsServer, NatsServerError
from mnemo.runtime.ports import free_port
from mnemo.runtime.postgres_server import PostgresServer, PostgresServerError
from mnemo.runtime.settings import RunSettings, dev_api_key, load_run_settings
from mnemo.settings import SettingsError


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


async def insert_row(dsn: str, note: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)")
        await conn.execute("INSERT INTO notes (body) VALUES ($1)", note)
    finally:
        await conn.close()


async def read_rows(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [row["body"] for row in await conn.fetch("SELECT body FROM notes")]
    finally:
        await conn.close()


async def test_postgres_keeps_its_data_across_restarts(tmp_path):
    server = PostgresServer(tmp_path / "pg")
    try:
        await insert_row(server.start(), "remember me")
    finally:
        server.stop()

    again = PostgresServer(tmp_path / "pg")
    try:
        assert await read_rows(again.start()) == ["remember me"]
    finally:
        again.stop()


async def test_postgres_logs_no_value_of_a_failed_statement(own_postgres):
    """An error's DETAIL and CONTEXT quote what failed (a duplicate key, the JSON before a
    bad token); the embedded server's log keeps the error, never those values."""
    word, key = "quokka" + uuid.uuid4().hex[:8], "mk_" + uuid.uuid4().hex
    conn = await asyncpg.connect(own_postgres.dsn)
    try:
        await conn.execute("CREATE TABLE k (key text PRIMARY KEY)")
        await conn.execute("INSERT INTO k VALUES ($1)", key)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO k VALUES ($1)", key)
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("SELECT $1::text::jsonb", f'{{"content": "the {word} \\u0000"}}')
    finally:
        await conn.close()
    own_postgres.stop()
    log = own_postgres.log_path.read_text(errors="replace")
    assert "duplicate key value" in log and "unsupported Unicode escape" in log
    assert word not in log and key not in log


async def test_postgres_starts_after_a_killed_run(tmp_path):
    data = tmp_path / "pg"
    server = PostgresServer(data)
    try:
        await insert_row(server.start(), "before the crash")
        os.kill(postmaster_pid(data), signal.SIGKILL)
        server.stop()  # reaps the killed child; postmaster.pid stays behind

        again = PostgresServer(data)
        try:
            assert await read_rows(again.start()) == ["before the crash"]
        finally:
            again.stop()
    finally:
        server.stop()


async def test_postgres_takes_over_from_an_orphaned_server(tmp_path):
    # As after `kill -9` of the supervisor: its postgres still runs on the folder.
    data = tmp_path / "pg"
    orphan = PostgresServer(data)
    newcomer = PostgresServer(data)
    try:
        await insert_row(orphan.start(), "kept")
        old_pid = postmaster_pid(data)
        dsn = newcomer.start()
        assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == "zombie"
        assert await read_rows(dsn) == ["kept"]
    finally:
        newcomer.stop()
        orphan.stop()


async def test_postgres_creates_extra_databases(tmp_path):
    with PostgresServer(tmp_path / "pg", database="first") as server:
        assert server.dsn.endswith("/first")
        other = server.create_database("second")
        assert server.create_database("second") == other  # idempotent
        await insert_row(other, "in second")
        assert await read_rows(other) == ["in second"]


async def test_nats_keeps_jetstream_messages_across_restarts(tmp_path, bus_root):
    server = NatsServer(tmp_path / "nats")
    try:
        url = server.start()
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name=bus_root, subjects=[f"{bus_root}.>"])
        await js.publish(f"{bus_root}.note", b"remember me")
        await nc.close()
        server.stop()

        assert server.start() == url  # same data folder, same port
        nc = await nats.connect(url)
        message = await nc.jetstream().get_msg(bus_root, 1)
        await nc.close()
        assert message.data == b"remember me"
    finally:
        server.stop()


def test_nats_flushes_every_write_before_acknowledging_it(tmp_path):
    """A 202 is kept through the machine's crash: JetStream's own default flushes to disk
    every two minutes, so the last two minutes of acknowledged commands lived only in the
    page cache."""
    with NatsServer(tmp_path / "nats") as server:
        assert server.monitor_url is not None
        varz = httpx.get(f"{server.monitor_url}/varz", timeout=10).json()
    assert varz["jetstream"]["config"]["sync_always"] is True
    assert varz["jetstream"]["config"]["store_dir"].startswith(str(tmp_path / "nats"))


@pytest.fixture
def taken_port():
    """A port something else listens on, as when a machine runs its own server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_postgres_refuses_a_port_in_use(tmp_path, taken_port):
    # Answering from whoever holds the port would hand out another server's DSN.
    server = PostgresServer(tmp_path / "pg", port=taken_port)
    with pytest.raises(PostgresServerError, match=f"port {taken_port}"):
        server.start()


def test_nats_refuses_a_port_in_use(tmp_path, taken_port):
    server = NatsServer(tmp_path / "nats", port=taken_port)
    with pytest.raises(NatsServerError, match=f"port {taken_port}"):
        server.start()


def test_malformed_gateway_port_is_named(tmp_path):
    env = {**os.environ, "MNEMO_HOME": str(tmp_path / "home"), "MNEMO_GATEWAY_PORT": "eighty"}
    result = subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MNEMO_GATEWAY_PORT" in result.stderr
    assert not (tmp_path / "home").exists()  # failed before starting anything


def test_out_of_range_port_is_named():
    with pytest.raises(SettingsError, match="MNEMO_POSTGRES_PORT"):
        load_run_settings({"MNEMO_POSTGRES_PORT": "70000"})


def test_dev_api_key_is_generated_once_and_reused(tmp_path):
    settings = RunSettings(home=str(tmp_path))
    key = dev_api_key(settings)
    assert key.startswith("mk_dev_") and len(key) == len("mk_dev_") + 32
    assert dev_api_key(RunSettings(home=str(tmp_path))) == key
    assert (tmp_path / "dev_api_key").stat().st_mode & 0o077 == 0
    chosen = "mk_dev_" + uuid.uuid4().hex
    assert dev_api_key(RunSettings(home=str(tmp_path), dev_api_key=chosen)) == chosen


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
async def test_mnemo_servers_prints_urls_and_stops_cleanly(tmp_path, bus_root, stop):
    """SIGHUP too (the terminal closed, an SSH session dropped): it left NATS and
    PostgreSQL running, with nothing looking after them (`mnemo run` alike)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MNEMO_NATS_URL", "MNEMO_DATABASE_URL")
    }
    env["MNEMO_HOME"] = str(tmp_path / "home")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mnemo.runtime", "servers", env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < 2 and (line := await proc.stdout.readline()):
            key, _, value = line.decode().strip().partition("=")
            if key in ("MNEMO_NATS_URL", "MNEMO_DATABASE_URL"):
                urls[key] = value
        assert set(urls) == {"MNEMO_NATS_URL", "MNEMO_DATABASE_URL"}
        await insert_row(urls["MNEMO_DATABASE_URL"], "hello")
        nc = await nats.connect(urls["MNEMO_NATS_URL"])
        await nc.jetstream().add_stream(name=bus_root, subjects=[f"{bus_root}.>"])
        await nc.close()
        pg_pid = postmaster_pid(tmp_path / "home" / "postgres")

        proc.send_signal(stop)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        assert not psutil.pid_exists(pg_pid)
        assert (tmp_path / "home" / "logs" / "postgres.log").exists()
        assert (tmp_path / "home" / "logs" / "nats.log").exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_mnemo_run_stops_at_once_on_a_service_stopped_by_its_configuration(tmp_path):
    # A bad shared setting makes every service exit at start with the configuration's exit
    # code: started again it would fail the same way, so the run ends at the first.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MNEMO_NATS_URL", "MNEMO_DATABASE_URL")
    }
    env |= {
        "MNEMO_HOME": str(tmp_path / "home"),
        "MNEMO_GATEWAY_PORT": str(free_port()),
        "MNEMO_LOG_LEVEL": "chatty",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "stopped on its configuration" in result.stdout
    assert "Restarting" not in result.stdout
    assert "MNEMO_LOG_LEVEL" in result.stdout  # the tail of the service's log
    assert result.stdout.rstrip().endswith("Mnemo stopped.")
    assert not (tmp_path / "home" / "postgres" / "postmaster.pid").exists()
    assert not list((tmp_path / "home" / "run").glob("*.pid"))
