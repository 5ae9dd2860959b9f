"""Versioned SQL migrations, applied once each, in order, under an advisory lock.

Each component (the event log, a service's projection) has its own folder of
`NNNN_name.sql` files and its own row range in `mnemo.schema_migrations`.
"""

import re
from pathlib import Path

import asyncpg

from mnemo.telemetry import get_logger

log = get_logger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same in every process that migrates.
_LOCK_KEY = 0x4D4E454D4F


def _scripts(folder: Path) -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(folder.iterdir()):
        match = _FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path.read_text()))
    return found


async def migrate(conn: asyncpg.Connection, component: str, folder: Path) -> list[int]:
    """Apply `folder`'s migrations not yet applied for `component`; return the versions run."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute("CREATE SCHEMA IF NOT EXISTS mnemo")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS mnemo.schema_migrations (
                   component text NOT NULL,
                   version int NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        done = {
            r["version"]
            for r in await conn.fetch(
                "SELECT version FROM mnemo.schema_migrations WHERE component = $1", component
            )
        }
        for version, name, sql in _scripts(folder):
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO mnemo.schema_migrations (component, version, name) VALUES ($1,$2,$3)",
                component,
                version,
                name,
            )
            applied.append(version)
            log.info("migration_applied", component=component, version=version, name=name)
    return applied


EVENTLOG_SQL = Path(__file__).parent / "sql"


async def migrate_eventlog(conn: asyncpg.Connection) -> list[int]:
    return await migrate(conn, "eventlog", EVENTLOG_SQL)
