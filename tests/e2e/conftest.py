"""The e2e stack: five service processes, started once per session on fresh names."""

import asyncio
import uuid

import asyncpg
import pytest

from .stack import Stack, free_port


def _create_database(admin_dsn: str, name: str) -> str:
    async def create() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    base, _, _ = admin_dsn.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def stack(nats_url, database_url, tmp_path_factory):
    name = "e2e_" + uuid.uuid4().hex[:10]
    dsn = _create_database(database_url, name)
    s = Stack(
        nats_url=nats_url,
        database_url=dsn,
        home=tmp_path_factory.mktemp("stack"),
        bus_root=name.replace("_", ""),
        port=free_port(),
    )
    s.start()
    try:
        s.wait_healthy()
        yield s
    finally:
        s.stop()


@pytest.fixture
def api(stack):
    with stack.client() as client:
        yield client


@pytest.fixture
def user_id():
    return "user-" + uuid.uuid4().hex[:8]
