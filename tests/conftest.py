"""Servers for the whole test session, and fresh names for every test.

NATS and PostgreSQL come from, in order: MNEMO_TEST_NATS_URL / MNEMO_TEST_DATABASE_URL,
else testcontainers when a Docker engine answers, else the embedded servers of
`mnemo.runtime` in a session temporary folder. Each starts once per session; each test
gets its own database (`fresh_database`) and its own subject and stream root (`bus_root`).
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from mnemo.runtime.docker import docker_available
from mnemo.runtime.nats_server import NatsServer
from mnemo.runtime.ports import free_port
from mnemo.runtime.postgres_server import PostgresServer


@contextlib.contextmanager
def _outside_pytest_temp(name: str) -> Iterator[Path]:
    """A folder of its own under the system's temporary folder, removed after. PostgreSQL
    runs as another user (mnemo-pg) when we are root, so its data folder's parents must let
    it through; pytest takes that right back from `/tmp/pytest-of-<user>` whenever another
    pytest session starts on the machine, which stopped a running suite's PostgreSQL."""
    folder = Path(tempfile.mkdtemp(prefix=f"mnemo-test-{name}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def use_docker() -> bool:
    return docker_available()


@pytest.fixture(scope="session")
def nats_url(use_docker: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream for the session."""
    if url := os.environ.get("MNEMO_TEST_NATS_URL"):
        yield url
    elif use_docker:
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.12", jetstream=True) as container:
            yield container.nats_uri()
    else:
        server = NatsServer(tmp_path_factory.mktemp("nats"))
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url(use_docker: bool) -> Iterator[str]:
    """An admin DSN (may create and drop databases) to the session's PostgreSQL."""
    if url := os.environ.get("MNEMO_TEST_DATABASE_URL"):
        yield url
    elif use_docker:
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        with _outside_pytest_temp("postgres") as folder:
            server = PostgresServer(folder / "data")
            try:
                yield server.start()
            finally:
                server.stop()


def with_database(dsn: str, name: str) -> str:
    """`dsn` pointing at database `name` instead (user, host and options kept)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """The DSN of a brand-new, empty database, dropped after the test."""
    name = "mnemo_t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(database_url, name)
    admin = await asyncpg.connect(database_url)
    try:
        # FORCE: a test that failed may have left connections open.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def bus_root() -> str:
    """A fresh root for subject and stream names, so tests never see each other's messages."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A NATS server of this test alone (it may kill it, or read its files)."""
    with _running(NatsServer(tmp_path / "nats", port=free_port())) as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone (it may kill it, or read its files)."""
    with (
        _outside_pytest_temp("own-postgres") as folder,
        _running(PostgresServer(folder / "data", port=free_port())) as server,
    ):
        yield server


@contextlib.contextmanager
def _running(server: Any) -> Iterator[Any]:
    """The server started, and stopped after (whatever the test did to it)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
