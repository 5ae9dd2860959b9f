"""The OpenAPI 3.1 document of the native surface, served at /docs/openapi.json (and a
Swagger UI at /docs).

Handlers read their requests themselves (so that errors name the field the caller sent),
which leaves nothing for a framework to infer bodies from. So each operation is described
here: its request body and answer as msgspec structs (JSON Schema comes from them), its
query parameters, and the problems it may answer with. A test fails when a route of the
app has no description here, and another checks real answers against these schemas.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

from mnemo.contracts import AGENT_ID_PATTERN, ENTITY_TYPES, EVENT_TYPES, KEY_KINDS, PRESETS
from mnemo.contracts.limits import MAX_ID_CHARS, MAX_QUERY_CHARS
from mnemo.gateway.idempotency import IDEMPOTENCY_KEY_PATTERN
from mnemo.gateway.idempotency import METHODS as IDEMPOTENT_METHODS
from mnemo.gateway.problems import STATUSES
from mnemo.gateway.routes.accounts import (
    MAX_DESCRIPTION,
    MAX_NAME,
    AgentPatch,
    AgentRequest,
    KeyRequest,
    SignUpRequest,
)
from mnemo.gateway.routes.answer import MAX_ANSWER_SOURCES, AnswerRequest
from mnemo.gateway.routes.facts import MAX_TEXT, ContradictRequest, SupersedeRequest
from mnemo.gateway.routes.ingest import (
    MAX_BATCH,
    MAX_CONTENT_BYTES,
    SOURCE_ID_PATTERN,
    SOURCE_TYPES,
    BatchRequest,
    IngestRequest,
)
from mnemo.gateway.routes.search import MAX_LIMIT, SearchRequest
from mnemo.gateway.routes.search_filters import SearchFilters

# --- answers ---------------------------------------------------------------------------


class Problem(msgspec.Struct):
    """RFC 7807 problem details; `details.field` names the field at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    details: dict[str, Any]
    error: str


class Accepted(msgspec.Struct):
    id: str
    queued: bool


class BatchAccepted(msgspec.Struct):
    queued: int
    ids: list[str]


class Memory(msgspec.Struct, rename="camel"):
    id: str
    user_id: str
    content: str
    source_type: str
    source_id: str | None
    session_id: str | None
    agent_id: str | None
    metadata: dict[str, Any]
    synthesized: bool
    occurred_at: datetime
    created_at: datetime
    expires_at: datetime | None


class MemoryList(msgspec.Struct):
    memories: list[Memory]
    total: int
    limit: int
    offset: int


class SearchHit(msgspec.Struct, rename="camel"):
    id: str
    content: str
    similarity: float
    score: float
    source_type: str
    source_id: str | None
    ingested_at: datetime
    metadata: dict[str, Any]


class SearchResults(msgspec.Struct):
    results: list[SearchHit]


class RelevantMemory(msgspec.Struct):
    content: str
    similarity: float
    metadata: dict[str, Any]


class Context(msgspec.Struct):
    static: list[str]
    dynamic: list[str]
    relevant: list[RelevantMemory]


class Entity(msgspec.Struct, rename="camel"):
    id: str
    name: str
    type: str
    relationship: str | None
    confidence: float
    mentions: int
    first_seen: datetime
    last_seen: datetime


class Entities(msgspec.Struct):
    entities: list[Entity]


class FactEvidence(msgspec.Struct, rename="camel"):
    """One time the fact was said: the memory and the span of it."""

    memory_id: str
    span: list[int] | None
    occurred_at: datetime
    agent_id: str | None


class Fact(msgspec.Struct, rename="camel"):
    """A synthesized fact in valid time; `status` as of asOf: current, superseded or
    negated; `validated` and `contradicted` are set through the API."""

    id: str
    user_id: str
    attribute: str
    value: str
    statement: str
    kind: Literal["static", "dynamic"]
    category: str
    confidence: float
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    status: Literal["current", "superseded", "negated"]
    superseded_by: str | None
    validated: bool
    contradicted: bool
    contradicted_by: list[str]
    extractor: str | None
    agent_id: str | None
    evidence: list[FactEvidence]
    # Whom it describes: the speaker of its memory (metadata.author); null: the user.
    about: str | None


class Facts(msgspec.Struct):
    facts: list[Fact]


class Answer(msgspec.Struct, rename="camel"):
    """`method`: llm:<model> (synthesis's LLM answered), extractive (the sentence sharing
    most words with the question) or none (nothing to answer from); `facts` and
    `memories`: what the answer rests on."""

    question: str
    answer: str | None
    confidence: float
    method: str
    facts: list[Fact]
    memories: list[SearchHit]
    as_of: datetime | None
    as_of_knowledge: datetime | None


class FactChanged(msgspec.Struct, rename="camel"):
    """The fact as changed, the fact stated by the change (supersede, contradict with
    content) and the ids of the events that record it."""

    fact: Fact
    new_fact: Fact | None
    event_ids: list[str]


class MemoryRemoved(msgspec.Struct, rename="camel"):
    deleted: bool
    id: str
    user_id: str


class Forgotten(msgspec.Struct, rename="camel"):
    deleted: bool
    user_id: str
    removed: dict[str, int]


class AuditStep(msgspec.Struct):
    message_id: str
    kind: Literal["request", "command", "event", "signal"]
    type: str
    service: str
    timestamp: datetime
    correlation_id: str
    causation_id: str | None
    subject: str
    recorded_by: str
    audited_at: datetime
    data: dict[str, Any]
    trace_id: str | None = None


class AuditChain(msgspec.Struct):
    correlation_id: str | None
    services: list[str]
    events: list[AuditStep]
    total: int
    next_offset: int | None


class ServiceHealth(msgspec.Struct, omit_defaults=True):
    status: str
    checks: dict[str, str] = {}
    # Work waiting, by name (synthesis: "llm", the memories its language model has yet
    # to read); only where the service has some to show.
    backlog: dict[str, int] = {}
    error: str | None = None


class DeadLetterCounts(msgspec.Struct, rename="camel"):
    total: int
    by_consumer: dict[str, int]


class Health(msgspec.Struct, rename="camel"):
    status: Literal["ok", "degraded"]
    services: dict[str, ServiceHealth]
    dead_letters: DeadLetterCounts


class Agent(msgspec.Struct, rename="camel"):
    id: str
    name: str
    description: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class AgentList(msgspec.Struct):
    agents: list[Agent]
    total: int
    limit: int
    offset: int


class AgentDeleted(msgspec.Struct, rename="camel"):
    deleted: bool
    agent: Agent
    memories_deleted: int  # the agent's memories, deleted with it


class Key(msgspec.Struct, rename="camel"):
    id: str
    kind: Literal["master", "agent"]
    agent_id: str | None
    label: str | None
    prefix: str
    created_at: datetime
    last_used_at: str | None
    revoked_at: datetime | None


class NewKey(Key):
    """The key itself is in `key`, shown this once."""

    key: str


class KeyListing(msgspec.Struct):
    keys: list[Key]


class Pack(msgspec.Struct, rename="camel"):
    """`content` holds identity, session_memories, knowledge, long_term_memories,
    temporal_context and `context`, the ready-to-use prompt."""

    id: str
    agent_id: str
    user_id: str | None
    query: str | None
    preset: Literal["conversational", "self_determined"]
    session_memory_count: int
    knowledge_count: int
    long_term_memory_count: int
    has_identity: bool
    token_count: int
    max_tokens: int
    content: dict[str, Any]
    compiled_at: datetime


class Tenant(msgspec.Struct, rename="camel"):
    id: str
    name: str
    created_at: datetime


class SignedUp(msgspec.Struct, rename="camel"):
    tenant: Tenant
    agent: Agent
    api_key: str
    agent_key: NewKey
    master_key: NewKey


# --- operations ------------------------------------------------------------------------


TEXT = {"type": "string", "maxLength": 256}


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    required: bool = False
    # What the handler accepts (validation.query_param): at most 256 characters unless the
    # handler says otherwise; an optional one sent empty counts as not sent.
    schema: dict[str, Any] = field(default_factory=lambda: dict(TEXT))
    # A parameter sent as JSON (e.g. GET /v1/context's `filters`): this struct's schema.
    json: type | None = None


# An optional text sent empty is not sent; a typed one (integer, time, one of a list) sent
# empty is a 400, as the schema says.
# Years 0002-9998: the storable range (mnemo.contracts.limits); JSON Schema has no bounds
# for date-times, so the year is bounded by a pattern.
YEARS = (
    r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
)
# An instant with a zone, or a whole day or month (UTC, the end of it: routes/context.py).
TIME = {
    "type": "string",
    "maxLength": 64,
    "pattern": YEARS,
    "anyOf": [
        {"format": "date-time"},
        {"pattern": r"^\d{4}-\d{2}-\d{2}$", "format": "date"},
        {"pattern": r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$"},
    ],
}
INSTANT = {"type": "string", "format": "date-time", "pattern": YEARS}
# Not blank as str.strip() sees it: Python counts \x1c-\x1f as whitespace, JSON Schema's
# \s (Unicode White_Space) does not.
NONBLANK = r"[^\s\x1c-\x1f]"


def ints(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def one_of(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": sorted(values)}


def list_of(values: Any) -> dict[str, Any]:
    """Names from `values`, comma-separated (routes/events.py refuses any other)."""
    name = "(" + "|".join(re.escape(v) for v in sorted(values)) + ")"
    return {"type": "string", "pattern": rf"^ *{name} *(, *{name} *)*$"}


USER = Param(
    "userId",
    "the end user the memories are about",
    required=True,
    schema={"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
)
AGENT = Param("agentId", "only this agent's memories (an agent key: its own agent only)")
ABOUT = Param(
    "about",
    "only what this person said of themselves (facts, profile) or named (entities): a "
    "speaker's name as the memories gave it (metadata.author), without case, or the userId "
    "for the user's own lines; unset: everyone in the user's memories",
    schema={"type": "string", "maxLength": MAX_ID_CHARS},
)
AS_OF = Param(
    "asOf",
    "a past view: memories ingested on or before then (seed 001); facts, profile and "
    "entities as they held then (valid time)",
    schema=TIME,
)
AS_OF_KNOWLEDGE = Param(
    "asOfKnowledge", "only what Mnemo knew by then (transaction time)", schema=TIME
)
FACT_ID = Param("fact_id", "the fact's id", required=True)
QUERY_TEXT = {"type": "string", "maxLength": 4000}
BOOLS = ("true", "false")


def page(most: int, *, default: int, skip: int = 1_000_000) -> list[Param]:
    return [
        Param("limit", f"page size, 1-{most}, default {default}", schema=ints(1, most)),
        Param("offset", "items to skip", schema=ints(0, skip)),
    ]


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    status: int
    answer: type | None
    body: type | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 401, 429)
    auth: bool = True
    media_type: str = "application/json"
    # A body that breaks its schema: 422, or 400 where seed 001 (Anansi) says so.
    schema_error: int = 422


OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/v1/ingest"): Op(
        "Record one memory (durable once answered)",
        "memories",
        202,
        Accepted,
        IngestRequest,
        errors=(400, 401, 402, 404, 409, 413, 429, 503, 507),
        schema_error=400,
    ),
    ("POST", "/v1/ingest/batch"): Op(
        f"Record up to {MAX_BATCH} memories, all or none",
        "memories",
        202,
        BatchAccepted,
        BatchRequest,
        errors=(400, 401, 402, 404, 409, 413, 429, 503, 507),
        schema_error=400,
    ),
    ("GET", "/v1/memories"): Op(
        "A page of a user's memories, newest first",
        "memories",
        200,
        MemoryList,
        params=(
            USER,
            AGENT,
            *page(100, default=20),
            Param("sourceType", "only this source type", schema=one_of(SOURCE_TYPES)),
            Param("sessionId", "only this session"),
            Param("q", "only memories containing this text", schema=QUERY_TEXT),
        ),
    ),
    ("GET", "/v1/memories/{memory_id}"): Op(
        "One memory",
        "memories",
        200,
        Memory,
        errors=(401, 404, 429),
        params=(Param("memory_id", "the memory's id", required=True),),
    ),
    ("DELETE", "/v1/memories/{memory_id}"): Op(
        "Delete one memory: it leaves every read model and the search index (its sealed "
        "event stays in the log until the user is forgotten)",
        "memories",
        200,
        MemoryRemoved,
        errors=(401, 404, 429, 503),
        params=(Param("memory_id", "the memory's id", required=True),),
    ),
    ("DELETE", "/v1/memory"): Op(
        "Forget everything of a user (crypto-shredding); master keys only",
        "memories",
        200,
        Forgotten,
        params=(USER,),
        errors=(400, 401, 403, 429, 503),
    ),
    ("DELETE", "/v1/user"): Op(
        "Forget everything of a user (crypto-shredding); master keys only",
        "memories",
        200,
        Forgotten,
        params=(USER,),
        errors=(400, 401, 403, 429, 503),
    ),
    ("GET", "/v1/search"): Op(
        "Hybrid search over a user's memories",
        "retrieval",
        200,
        SearchResults,
        params=(
            USER,
            Param("q", "what to look for", required=True, schema={**QUERY_TEXT, "minLength": 1}),
            AGENT,
            Param("limit", f"1-{MAX_LIMIT}, default 10", schema=ints(1, MAX_LIMIT)),
            Param("sourceType", "only this source type", schema=one_of(SOURCE_TYPES)),
            Param("sessionId", "filter"),
            Param("sourceId", "only the memories ingested with this sourceId"),
            AS_OF,
            AS_OF_KNOWLEDGE,
        ),
    ),
    ("POST", "/v1/search"): Op(
        "Search with a mode (vector, keyword, hybrid), alpha, threshold and filters",
        "retrieval",
        200,
        SearchResults,
        SearchRequest,
        errors=(400, 401, 404, 429),
        schema_error=400,
    ),
    ("GET", "/v1/context"): Op(
        "Profile (static, dynamic) and the memories relevant to q, for a prompt",
        "retrieval",
        200,
        Context,
        params=(
            USER,
            Param("q", "what the prompt is about (optional)", schema=QUERY_TEXT),
            AGENT,
            Param("limit", "relevant memories, 1-20, default 5", schema=ints(1, 20)),
            AS_OF,
            AS_OF_KNOWLEDGE,
            ABOUT,
            Param("sessionId", "relevant memories of this session only"),
            Param(
                "scope",
                "what `relevant` searches: user (default, every memory of the userId), or "
                "session together with sessionId",
                schema=one_of(["user"]),
            ),
            Param(
                "threshold",
                "relevant memories scoring at least this, 0-1",
                schema={"type": "number", "minimum": 0, "maximum": 1},
            ),
            Param(
                "alpha",
                "the dense weight of the hybrid search, 0-1, default 0.5",
                schema={"type": "number", "minimum": 0, "maximum": 1},
            ),
            Param(
                "filters",
                "a JSON object as POST /v1/search takes (sourceType, sessionId, agentId, "
                "asOf, asOfKnowledge); the top-level parameters take precedence",
                json=SearchFilters,
            ),
        ),
    ),
    ("POST", "/v1/answer"): Op(
        "Answer a question from a user's facts and memories (as of asOf / asOfKnowledge), "
        "with the LLM when one is configured, and what the answer rests on",
        "retrieval",
        200,
        Answer,
        AnswerRequest,
        errors=(400, 401, 404, 422, 429),
    ),
    ("GET", "/v1/entities"): Op(
        "The people, pets, organizations, tools, places, products and events in a user's memories",
        "synthesis",
        200,
        Entities,
        errors=(400, 401, 404, 429),
        params=(
            USER,
            AGENT,
            AS_OF,
            AS_OF_KNOWLEDGE,
            Param(
                "type", "the entity type: " + ", ".join(ENTITY_TYPES), schema=one_of(ENTITY_TYPES)
            ),
            ABOUT,
        ),
    ),
    ("GET", "/v1/facts"): Op(
        "A user's facts: those holding now (or asOf, as known at asOfKnowledge), or every "
        "fact changed since changedSince",
        "synthesis",
        200,
        Facts,
        params=(
            USER,
            AGENT,
            AS_OF,
            AS_OF_KNOWLEDGE,
            Param("changedSince", "every fact anything happened to after then", schema=TIME),
            ABOUT,
        ),
    ),
    ("POST", "/v1/facts/{fact_id}/validate"): Op(
        "Confirm a fact (an event with the caller as actor)",
        "synthesis",
        200,
        FactChanged,
        errors=(400, 401, 404, 429),
        params=(FACT_ID,),
    ),
    ("POST", "/v1/facts/{fact_id}/supersede"): Op(
        "Replace a fact with a new one (content); the old one ends at validFrom",
        "synthesis",
        200,
        FactChanged,
        SupersedeRequest,
        errors=(400, 401, 404, 409, 429),
        params=(FACT_ID,),
    ),
    ("POST", "/v1/facts/{fact_id}/contradict"): Op(
        "Flag a fact as contradicted, by a fact stated beside it (content) or a reason; "
        "both are kept",
        "synthesis",
        200,
        FactChanged,
        ContradictRequest,
        errors=(400, 401, 404, 429),
        params=(FACT_ID,),
    ),
    ("GET", "/v1/audit/events"): Op(
        "Every step one request caused, across services, in causal order",
        "audit",
        200,
        AuditChain,
        params=(
            Param("correlation_id", "the chain to show (else: everything, by time)"),
            Param("since", "from this time", schema=TIME),
            Param("until", "up to this time", schema=TIME),
            Param("actor", "only steps by this actor"),
            Param("type", "only this command, event or signal type"),
            *page(1000, default=500, skip=10_000_000),
        ),
    ),
    ("GET", "/v1/events/stream"): Op(
        "Server-sent events: the tenant's live events; resumes from Last-Event-ID",
        "events",
        200,
        None,
        media_type="text/event-stream",
        errors=(400, 401, 404, 429, 503),
        params=(
            Param("userId", "only events about this user"),
            AGENT,
            Param(
                "type",
                "only these event types (repeat or comma-separate)",
                schema=list_of(EVENT_TYPES),
            ),
            Param("heartbeat", "seconds between heartbeats, 1-60", schema=ints(1, 60)),
        ),
    ),
    ("GET", "/v1/health"): Op(
        "Health of the gateway and every service",
        "operations",
        200,
        Health,
        auth=False,
        errors=(429,),  # per client address (MNEMO_RATE_LIMITS' "health", else default)
    ),
    ("POST", "/v1/agent/sign-up"): Op(
        "A new tenant with an agent, its ak_ key and a mk_ key (when sign-up is open)",
        "accounts",
        201,
        SignedUp,
        SignUpRequest,
        auth=False,
        errors=(400, 403, 429),
    ),
    ("POST", "/v1/keys"): Op(
        "Issue a key (shown once); master keys only",
        "accounts",
        201,
        NewKey,
        KeyRequest,
        errors=(400, 401, 403, 404, 429),
    ),
    ("GET", "/v1/keys"): Op(
        "The tenant's keys (prefixes only); master keys only",
        "accounts",
        200,
        KeyListing,
        errors=(401, 403, 429),
        params=(Param("includeRevoked", "true to list revoked keys too", schema=one_of(BOOLS)),),
    ),
    ("DELETE", "/v1/keys/{key_id}"): Op(
        "Revoke a key, on every gateway within a second; master keys only",
        "accounts",
        200,
        Key,
        errors=(401, 403, 404, 429),
        params=(Param("key_id", "the key's id", required=True),),
    ),
    ("POST", "/v1/agents"): Op(
        "Register an agent; master keys only",
        "accounts",
        201,
        Agent,
        AgentRequest,
        errors=(400, 401, 403, 409, 429),
    ),
    ("GET", "/v1/agents"): Op(
        "The tenant's agents (an agent key: its own)",
        "accounts",
        200,
        AgentList,
        params=tuple(page(200, default=50)),
        errors=(401, 429),
    ),
    ("GET", "/v1/agents/{agent_id}"): Op(
        "One agent",
        "accounts",
        200,
        Agent,
        errors=(401, 404, 429),
        params=(Param("agent_id", "the agent's id", required=True),),
    ),
    ("PATCH", "/v1/agents/{agent_id}"): Op(
        "Change an agent's name, description or metadata",
        "accounts",
        200,
        Agent,
        AgentPatch,
        errors=(400, 401, 404, 429),
        params=(Param("agent_id", "the agent's id", required=True),),
    ),
    ("GET", "/v1/agents/{agent_id}/packs/latest"): Op(
        "The agent's memory pack: identity, session, knowledge, long-term memories and "
        "temporal context within a token budget; stored, so asking again with nothing new "
        "returns the same pack",
        "synthesis",
        200,
        Pack,
        errors=(400, 401, 404, 429),
        params=(
            Param("agent_id", "the agent's id", required=True),
            Param("userId", "the end user (else all of the agent's memories)"),
            ABOUT,
            Param(
                "query",
                "steers which long-term memories and knowledge come first",
                schema=QUERY_TEXT,
            ),
            Param("preset", "conversational (default) or self_determined", schema=one_of(PRESETS)),
            Param("maxTokens", "token budget, 100-32000, default 4000", schema=ints(100, 32_000)),
        ),
    ),
    ("DELETE", "/v1/agents/{agent_id}"): Op(
        "Remove an agent, its memories (with every user) and its keys; master keys only",
        "accounts",
        200,
        AgentDeleted,
        errors=(401, 403, 404, 429),
        params=(Param("agent_id", "the agent's id", required=True),),
    ),
}


# What handlers check in a body beyond its types (the structs give the types): each rule
# here is enforced by the handler named, and the fuzz test (tests/e2e/test_fuzz.py) fails
# when the two disagree. Struct name -> field -> JSON Schema to add to the field (to its
# string branch when the field may be null).
def _text(most: int, *, blank: bool = False) -> dict[str, Any]:
    return {"maxLength": most} if blank else {"pattern": NONBLANK, "maxLength": most}


RULES: dict[str, dict[str, dict[str, Any]]] = {
    # routes/ingest.validate
    "IngestRequest": {
        "userId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "content": {"pattern": NONBLANK, "maxLength": MAX_CONTENT_BYTES},
        "sourceType": {"enum": sorted(SOURCE_TYPES)},
        "sourceId": {"pattern": SOURCE_ID_PATTERN},
        "agentId": {"pattern": AGENT_ID_PATTERN},
        "sessionId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "metadata": {"properties": {"timestamp": INSTANT}},
        # Refused (400): memories are kept until deleted or their user forgotten.
        "ttl": {"not": {}, "description": "not supported: only null is accepted"},
    },
    "BatchRequest": {"items": {"minItems": 1, "maxItems": MAX_BATCH}},
    # routes/search.search_post
    "SearchRequest": {
        "userId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "query": {"pattern": NONBLANK, "maxLength": MAX_QUERY_CHARS},
        "limit": {"minimum": 1, "maximum": MAX_LIMIT},
        "alpha": {"minimum": 0, "maximum": 1},
        "threshold": {"minimum": 0, "maximum": 1},
        "sourceId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "sessionId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
    },
    # routes/search_filters.check_filters
    "SearchFilters": {
        "asOf": INSTANT,
        "asOfKnowledge": INSTANT,
        "sourceType": {"enum": sorted(SOURCE_TYPES)},
        "sessionId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "agentId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
    },
    # routes/answer
    "AnswerRequest": {
        "userId": {"minLength": 1, "maxLength": MAX_ID_CHARS},
        "question": {"pattern": NONBLANK, "maxLength": MAX_QUERY_CHARS},
        "limit": {"minimum": 1, "maximum": MAX_ANSWER_SOURCES},
        "asOf": INSTANT,
        "asOfKnowledge": INSTANT,
    },
    # routes/accounts
    "SignUpRequest": {
        "username": _text(MAX_NAME),
        "human_email": {"pattern": "@", "maxLength": 320},
    },
    "KeyRequest": {"kind": {"enum": list(KEY_KINDS)}, "label": _text(MAX_NAME, blank=True)},
    "AgentRequest": {
        "name": _text(MAX_NAME),
        "id": {"pattern": AGENT_ID_PATTERN},
        "description": _text(MAX_DESCRIPTION, blank=True),
    },
    "AgentPatch": {"name": _text(MAX_NAME), "description": _text(MAX_DESCRIPTION, blank=True)},
    # routes/facts
    "SupersedeRequest": {
        "content": _text(MAX_TEXT),
        "value": _text(MAX_TEXT),
        "validFrom": INSTANT,
    },
    "ContradictRequest": {
        "content": _text(MAX_TEXT),
        "value": _text(MAX_TEXT),
        "reason": _text(MAX_TEXT),
        "validFrom": INSTANT,
    },
}
# Rules across fields: an agent key (the default kind) names its agent.
WHOLE_RULES: dict[str, dict[str, Any]] = {
    "KeyRequest": {
        "anyOf": [
            {"required": ["kind"], "properties": {"kind": {"const": "master"}}},
            {
                "required": ["agentId"],
                "properties": {"agentId": {"type": "string", "minLength": 1}},
            },
        ]
    },
}


def _with_rules(components: dict[str, Any]) -> dict[str, Any]:
    for name, fields in RULES.items():
        properties = components[name]["properties"]
        for field_name, rule in fields.items():
            schema = properties[field_name]
            branches = schema.get("anyOf", [schema])
            for branch in branches:
                if branch.get("type") != "null":
                    branch.update(rule)
    for name, rule in WHOLE_RULES.items():
        components[name].update(rule)
    return components


def statuses(method: str, path: str, op: Op) -> list[int]:
    """Every status an operation may answer with besides its success, from what it does:
    the route's own (`op.errors`), authentication and rate limits, an Idempotency-Key,
    a body, query parameters. One table, so the document cannot drift from the
    middleware that answers them."""
    # Any call may be shed or find a dependency away (503).
    found = set(op.errors) | {503}
    if op.auth:
        found |= {401, 429}
    if method in IDEMPOTENT_METHODS:
        found |= {400, 409}  # a malformed Idempotency-Key; one reused, or still running
    if op.body is not None or method in IDEMPOTENT_METHODS:
        # Malformed JSON, too large, breaks the schema; the input guard's refusals (NUL,
        # depth, encoding) of any body, one too slow to arrive (MNEMO_BODY_TIMEOUT), and
        # one in a Content-Encoding (415).
        found |= {400, 408, 413, 415} | ({op.schema_error} if op.body is not None else set())
    if any("{" + p.name + "}" not in path for p in op.params):
        found.add(400)  # a query parameter out of its schema
    return sorted(found)


def build(routes: list[tuple[str, str]], version: str) -> dict[str, Any]:
    """The document for these (method, path) routes; every one must be described."""
    missing = [r for r in routes if r not in OPERATIONS]
    if missing:
        raise KeyError(f"routes without an OpenAPI description: {missing}")
    types = {t for op in OPERATIONS.values() for t in (op.body, op.answer) if t is not None}
    types.add(Problem)
    ordered = sorted(types, key=lambda t: t.__name__)
    _, components = msgspec.json.schema_components(
        ordered, ref_template="#/components/schemas/{name}"
    )
    components = _with_rules(components)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(routes):
        paths.setdefault(path, {})[method.lower()] = _operation(
            method, path, OPERATIONS[(method, path)]
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mnemo",
            "version": version,
            "description": (
                "Long-term memory for AI agents. Send `Authorization: Bearer <key>` (mk_ "
                "master or ak_ agent key). Every POST/PUT/PATCH/DELETE takes an "
                "Idempotency-Key; every answer carries x-correlation-id, x-request-id and "
                "X-RateLimit-* headers; errors are application/problem+json."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "mk_ or ak_ key"}
            },
        },
    }


def _ref(t: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{t.__name__}"}


def _operation(method: str, path: str, op: Op) -> dict[str, Any]:
    success: dict[str, Any] = {"description": op.summary}
    if op.answer is not None:
        success["content"] = {op.media_type: {"schema": _ref(op.answer)}}
    elif op.media_type != "application/json":
        success["content"] = {op.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in statuses(method, path, op):
        responses[str(status)] = {
            "description": STATUSES[status][1],
            "content": {"application/problem+json": {"schema": _ref(Problem)}},
        }
    operation: dict[str, Any] = {
        "operationId": method.lower() + "_" + re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_"),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
        "security": [{"bearer": []}] if op.auth else [],
    }
    parameters = [
        {
            "name": p.name,
            "in": "path" if "{" + p.name + "}" in path else "query",
            "required": p.required or "{" + p.name + "}" in path,
            "description": p.description,
            **(
                {"content": {"application/json": {"schema": _ref(p.json)}}}
                if p.json is not None
                else {"schema": p.schema}
            ),
        }
        for p in op.params
    ]
    if method in {"POST", "PUT", "PATCH", "DELETE"}:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "1-255 printable ASCII; the answer is replayed for 24 h "
                "(only with a live key: without one it is neither checked nor used)",
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            }
        )
    parameters.append(
        {
            "name": "x-correlation-id",
            "in": "header",
            "required": False,
            "description": "ties this call to others in the audit chain",
            "schema": {"type": "string"},
        }
    )
    operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    return operation
