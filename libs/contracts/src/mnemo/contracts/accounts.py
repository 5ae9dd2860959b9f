"""Request/reply messages of the accounts endpoints: tenants, agents and API keys.

The ingest service answers them (it is the service that writes the log). Keys are made
there and sent back once, in the reply; the log and every projection keep only their
HMAC-SHA256 digest.
"""

import hashlib
import hmac
from datetime import datetime
from typing import Any

import msgspec

KEY_KINDS = ("master", "agent")
# Agent ids travel in URLs and filters: keep them plain (the ingest service refuses others;
# the gateway's OpenAPI document says the same, from this).
AGENT_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
KEY_PREFIXES = {"master": "mk_", "agent": "ak_"}
# How much of a key is kept in the clear, to tell keys apart in a listing.
SHOWN_PREFIX = 12


def key_digest(secret: str, key: str) -> str:
    """What is stored of a key: HMAC-SHA256 under the server secret (MNEMO_KEY_SECRET)."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def keys_bucket(root: str) -> str:
    """NATS KV bucket of live keys: digest -> `KeyGrant` (revoked ones marked), read by
    every gateway replica through a watch."""
    return f"{root.upper()}_KEYS"


def key_usage_bucket(root: str) -> str:
    """NATS KV bucket of when each key was last used: key_id -> ISO timestamp."""
    return f"{root.upper()}_KEY_USAGE"


class KeyGrant(msgspec.Struct, frozen=True, kw_only=True):
    """What a key lets its holder do, as the gateways see it."""

    key_id: str
    tenant_id: str
    kind: str
    agent_id: str | None = None
    # When the key's agent was made (made again after a deletion: the later time). Its
    # keys read no history from before it (audit entries, the event stream): an agent made
    # again with an id sees nothing of the one deleted. None: a master key, or a grant
    # written before this field (ingest rewrites every grant when it starts).
    agent_since: datetime | None = None
    revoked: bool = False


class KeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    tenant_id: str
    kind: str  # master | agent
    agent_id: str | None = None
    label: str | None = None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    """A new key: `key` is the secret itself, shown to the caller once and kept nowhere."""

    key: str
    info: KeyInfo


class AgentInfo(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    tenant_id: str
    name: str
    description: str | None = None
    metadata: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class CreateTenant(msgspec.Struct, frozen=True, kw_only=True):
    """Make a tenant and its first master key; with `agent_name`, also an agent and its key
    (what `POST /v1/agent/sign-up` does in one call)."""

    name: str
    email: str | None = None
    agent_name: str | None = None
    actor: str


class NewTenant(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    name: str
    email: str | None = None
    created_at: datetime
    master_key: IssuedKey
    agent: AgentInfo | None = None
    agent_key: IssuedKey | None = None


class IssueKey(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    kind: str  # master | agent
    agent_id: str | None = None
    label: str | None = None
    actor: str


class RevokeKey(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    key_id: str
    actor: str


class ListKeys(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    include_revoked: bool = False


class KeyList(msgspec.Struct, frozen=True, kw_only=True):
    keys: list[KeyInfo]


class CreateAgent(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    # The caller's id for the agent, else a new one.
    agent_id: str | None = None
    name: str
    description: str | None = None
    metadata: dict[str, Any] = {}
    actor: str
    # The id is a retry's (fixed by the request's Idempotency-Key): an agent of that id
    # made and since deleted is answered as it was made, not made again (a retry whose
    # kept answer a forget had erased brought a deleted agent back).
    once: bool = False


class UpdateAgent(msgspec.Struct, frozen=True, kw_only=True):
    """Change what is given; None leaves a field as it is."""

    tenant_id: str
    agent_id: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    actor: str


class DeleteAgent(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    agent_id: str
    actor: str


class GetAgent(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    agent_id: str


class ListAgents(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    limit: int = 50
    offset: int = 0


class AgentPage(msgspec.Struct, frozen=True, kw_only=True):
    agents: list[AgentInfo]
    total: int
