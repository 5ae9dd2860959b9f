"""The accounts read model and the keys bucket follow the account stream's order, whatever
order two changes of a tenant are projected in (mnemo.ingest.accounts)."""

import asyncio
from pathlib import Path

import msgspec

from mnemo.bus import key_value
from mnemo.contracts import (
    AgentDeleted,
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    IssueKey,
    KeyGrant,
    KeyIssued,
    key_digest,
    keys_bucket,
)
from mnemo.eventlog import EventStore
from mnemo.eventlog.migrations import migrate
from mnemo.ingest import accounts as accounts_module
from mnemo.ingest.accounts import Accounts, account_stream

SECRET = "s" * 32
SQL = Path(accounts_module.__file__).parent / "sql"


async def test_a_key_issued_while_its_agent_is_deleted_stays_revoked(log_pool, nc, topology):
    """The deletion folds the new key in and revokes it; had its projection (and grant)
    come before the issue's, the issue's live grant would have been the last word: a key
    of a deleted agent that works."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "ingest", SQL)
    kv = await key_value(nc.jetstream(), keys_bucket(topology.root))
    accounts = Accounts(EventStore(log_pool), log_pool, kv, SECRET)
    await accounts.rebuild()
    tenant = await accounts.create_tenant(CreateTenant(name="acme", actor="test"))
    tenant_id = tenant.tenant_id
    made = CreateAgent(tenant_id=tenant_id, agent_id="bot", name="bot", actor="test")
    await accounts.create_agent(made)

    real = accounts._project
    deletion_projected = asyncio.Event()

    async def deletion_first(stored):  # type: ignore[no-untyped-def]
        if any(isinstance(e.data, KeyIssued) for e in stored):
            await deletion_projected.wait()
        await real(stored)
        if any(isinstance(e.data, AgentDeleted) for e in stored):
            deletion_projected.set()

    accounts._project = deletion_first  # type: ignore[method-assign]
    issuing = asyncio.create_task(
        accounts.issue_key(IssueKey(tenant_id=tenant_id, kind="agent", agent_id="bot", actor="t"))
    )

    async def issued_in_the_log() -> bool:
        events = await accounts._store.read_stream(account_stream(tenant_id))
        return any(isinstance(e.data, KeyIssued) and e.data.agent_id == "bot" for e in events)

    for _ in range(600):  # the issue's append, before its (held back) projection
        if await issued_in_the_log():
            break
        await asyncio.sleep(0.05)
    deleted = await accounts.delete_agent(
        DeleteAgent(tenant_id=tenant_id, agent_id="bot", actor="test")
    )
    assert deleted.agent_id == "bot"
    key = await asyncio.wait_for(issuing, 60)

    grant = msgspec.json.decode((await kv.get(key_digest(SECRET, key.key))).value, type=KeyGrant)
    assert grant.revoked, grant
    revoked_at = await log_pool.fetchval(
        "SELECT revoked_at FROM accounts.keys WHERE key_id = $1", key.info.key_id
    )
    assert revoked_at is not None
