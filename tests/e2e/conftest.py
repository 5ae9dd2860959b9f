"""The e2e stack: five service processes, started once per session on fresh names."""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

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


def new_stack(prefix: str, home: str, nats_url, database_url, tmp_path_factory) -> Stack:
    """A stack on fresh names (its own database, bus root, home folder and port), not
    started yet: the session's, and those of the modules that need one of their own."""
    name = f"{prefix}_" + uuid.uuid4().hex[:10]
    return Stack(
        nats_url=nats_url,
        database_url=_create_database(database_url, name),
        home=tmp_path_factory.mktemp(home),
        bus_root=name.replace("_", ""),
        port=free_port(),
    )


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The stack started and healthy, stopped afterwards whatever happened."""
    stack.start()
    try:
        stack.wait_healthy()
        yield stack
    finally:
        stack.stop()


def own_stack(prefix: str) -> Any:
    """A module-scoped fixture of a stack of the module's own: named `stack` in a module,
    it overrides the session's for that module's tests (a module whose work grows with what
    the session's stack holds: a rebuild re-indexes every earlier test's memories, a
    redelivery hands every earlier message again)."""

    @pytest.fixture(scope="module")
    def stack(nats_url, database_url, tmp_path_factory) -> Iterator[Stack]:
        own = new_stack(prefix, f"{prefix}-stack", nats_url, database_url, tmp_path_factory)
        with running(own) as started:
            yield started

    return stack


@pytest.fixture(scope="session")
def stack(nats_url, database_url, tmp_path_factory):
    with running(new_stack("e2e", "stack", nats_url, database_url, tmp_path_factory)) as s:
        yield s


@pytest.fixture
def api(stack):
    with stack.client() as client:
        yield client


@pytest.fixture
def user_id():
    return "user-" + uuid.uuid4().hex[:8]
