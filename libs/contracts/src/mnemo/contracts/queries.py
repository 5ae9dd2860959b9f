"""Request/reply messages for the query services (retrieval, audit, health)."""

from datetime import datetime
from typing import Any

import msgspec


class QueryError(msgspec.Struct, frozen=True, kw_only=True):
    """A query that could not be answered: `code` is machine-readable, `message` for people."""

    code: str
    message: str
    field: str | None = None


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    # None: every user's memories of `agent_id` (which must then be set).
    user_id: str | None = None
    query: str
    limit: int = 10
    source_type: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    # Only the memories ingested with this sourceId.
    source_id: str | None = None
    # Results scoring below this are left out.
    threshold: float | None = None
    # vector | keyword | hybrid; alpha weighs dense against keyword in hybrid (1 = dense only).
    mode: str = "hybrid"
    alpha: float = 0.5
    # asOf: only memories that happened by then; asOfKnowledge: only those known by then.
    occurred_before: datetime | None = None
    recorded_before: datetime | None = None


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    memory_id: str
    content: str
    similarity: float
    source_type: str
    ingested_at: datetime
    metadata: dict[str, Any] = {}
    source_id: str | None = None
    # Whose memory it is: an agent-wide search (no user_id asked) spans several users.
    user_id: str | None = None
    # When it happened (valid time), as the memory's listing shows it; None from a point
    # stored before the payload held it.
    occurred_at: datetime | None = None


class SearchResult(msgspec.Struct, frozen=True, kw_only=True):
    results: list[SearchHit]


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Audited steps of one tenant: one correlation's chain (in causal order) or, without
    one, everything in time order; narrowed by time range, actor and type; paginated."""

    tenant_id: str
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    type: str | None = None
    # For an agent-scoped caller: only chains started by requests made with its keys,
    # since its agent was made (a deleted agent of the same id is another's history).
    agent_id: str | None = None
    agent_since: datetime | None = None
    limit: int = 500
    offset: int = 0


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a chain: who (service) did what (kind, type) when, and what caused it."""

    message_id: str
    kind: str  # request | command | event | signal
    type: str
    service: str
    timestamp: datetime
    correlation_id: str
    causation_id: str | None
    subject: str
    recorded_by: str
    audited_at: datetime
    data: dict[str, Any] = {}
    # The W3C trace id of the message (from its traceparent): where to look in traces.
    trace_id: str | None = None


class AuditResult(msgspec.Struct, frozen=True, kw_only=True):
    correlation_id: str | None
    events: list[AuditEntry]
    total: int = 0
    next_offset: int | None = None


class HealthReport(msgspec.Struct, frozen=True, kw_only=True):
    """A service's view of its own dependencies: name -> "ok" or an error text; and the
    backlogs it shows (work waiting, by name: messages not yet handled)."""

    service: str
    status: str
    checks: dict[str, str]
    backlog: dict[str, int] = {}


class ListMemoriesQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A page of one user's (or one agent's) memories, newest first, optionally filtered."""

    tenant_id: str
    # None: every user's memories of `agent_id` (which must then be set).
    user_id: str | None = None
    limit: int = 20
    offset: int = 0
    source_type: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    q: str | None = None
    # Only memories that happened before this time, newest first by when they happened
    # (ElizaOS pages a room's memories back in time this way); else by when recorded.
    occurred_before: datetime | None = None


class GetMemoryQuery(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    memory_id: str
    # Set for an agent-scoped caller: another agent's memory is not found.
    agent_id: str | None = None


class MemoryView(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded memory as the API shows it."""

    memory_id: str
    user_id: str
    content: str
    source_type: str
    source_id: str | None
    session_id: str | None
    agent_id: str | None
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    # Synthesis has made its pass over it (facts, entities, profile).
    synthesized: bool = False


class MemoryPage(msgspec.Struct, frozen=True, kw_only=True):
    memories: list[MemoryView]
    total: int
    limit: int
    offset: int


class ForgetSubject(msgspec.Struct, frozen=True, kw_only=True):
    """Forget everything of one subject (request/reply, so the caller learns what went)."""

    tenant_id: str
    user_id: str
    actor: str


class ForgetResult(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    removed: dict[str, int]
    event_id: str


class WithdrawAgent(msgspec.Struct, frozen=True, kw_only=True):
    """Before an agent is deleted: synthesis stops counting what it gave every subject
    (`agent.withdrawn`); the reply's `removed` is how many subjects it was withdrawn from."""

    tenant_id: str
    agent_id: str
    actor: str


class Dropped(msgspec.Struct, frozen=True, kw_only=True):
    """What a read model dropped at once for a forget or a delete (rows or points)."""

    removed: int


class ProfileQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A subject's synthesized profile as it was (asOf) or as it was known (asOfKnowledge)."""

    tenant_id: str
    user_id: str
    as_of: datetime | None = None
    as_of_knowledge: datetime | None = None
    # For an agent-scoped caller: only what was learnt from that agent's memories.
    agent_id: str | None = None
    # Only the facts about this person (mnemo.contracts.speakers.is_about); None: all.
    about: str | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    static: list[str]
    dynamic: list[str]


class EntitiesQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A subject's entity graph, optionally one type, as it was (asOf) or was known
    (asOfKnowledge). Answered with `not_found` until the subject has been synthesized."""

    tenant_id: str
    user_id: str
    type: str | None = None  # one of ENTITY_TYPES
    as_of: datetime | None = None
    as_of_knowledge: datetime | None = None
    # For an agent-scoped caller: only what was learnt from that agent's memories.
    agent_id: str | None = None
    # Only the entities this person mentioned (mnemo.contracts.speakers.is_about).
    about: str | None = None


class EntityView(msgspec.Struct, frozen=True, kw_only=True):
    """One entity as its latest mention relates it to the subject."""

    entity_id: str
    name: str
    type: str
    relationship: str
    confidence: float
    mentions: int
    first_seen: datetime
    last_seen: datetime


class EntityGraph(msgspec.Struct, frozen=True, kw_only=True):
    entities: list[EntityView]


class FactsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A subject's facts: those holding at `as_of` (valid time) as known at
    `as_of_knowledge` (transaction time), both default now; with `changed_since`, every
    fact (holding or ended) that anything happened to after that time."""

    tenant_id: str
    user_id: str
    as_of: datetime | None = None
    as_of_knowledge: datetime | None = None
    changed_since: datetime | None = None
    # For an agent-scoped caller: only what was learnt from that agent's memories.
    agent_id: str | None = None
    # Only the facts about this person (a speaker's name, compared without case); None:
    # every fact of the subject, whomever it describes.
    about: str | None = None


class FactEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """One time a fact was said: the memory, the span of it and when."""

    memory_id: str
    span: tuple[int, int] | None
    occurred_at: datetime
    agent_id: str | None = None


class FactView(msgspec.Struct, frozen=True, kw_only=True):
    """A fact as the API shows it. `status`: current, superseded or negated (as of the
    query's times); `validated` and `contradicted` are flags set through the API."""

    fact_id: str
    user_id: str
    attribute: str
    value: str
    statement: str
    kind: str
    category: str
    confidence: float
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    status: str
    superseded_by: str | None = None
    validated: bool = False
    contradicted: bool = False
    contradicted_by: list[str] = []
    extractor: str | None = None
    agent_id: str | None = None
    evidence: list[FactEvidence] = []
    about: str | None = None  # whom it describes (None: the subject themselves)


class FactList(msgspec.Struct, frozen=True, kw_only=True):
    facts: list[FactView]


# What a caller can do to a fact.
FACT_CHANGES = ("validate", "supersede", "contradict")


class ChangeFact(msgspec.Struct, frozen=True, kw_only=True):
    """Validate, supersede (with `content`, the new fact's statement; `value` defaults to
    it) or contradict (with `content`: a contradicting fact kept beside it; with `reason`:
    why) one fact. `valid_from`: when the new fact starts holding (default now).
    Appended as events with `actor` as their actor, in the request's correlation."""

    tenant_id: str
    fact_id: str
    change: str  # one of FACT_CHANGES
    actor: str
    # For an agent-scoped caller: another agent's fact is not found.
    agent_id: str | None = None
    content: str | None = None
    value: str | None = None
    reason: str | None = None
    valid_from: datetime | None = None
    # What fixes the change's ids (from the request's Idempotency-Key): a retry whose kept
    # answer is gone is answered the change it made, not made a second time. None: the
    # request's own id does (each sending is a change of its own).
    retry_key: str | None = None


class FactChange(msgspec.Struct, frozen=True, kw_only=True):
    """The fact as changed, the fact stated beside or after it (if any), and the ids of
    the events that record the change."""

    fact: FactView
    new_fact: FactView | None = None
    event_ids: list[str] = []


class DeleteMemory(msgspec.Struct, frozen=True, kw_only=True):
    """Delete one memory; with `agent_id`, only if it is that agent's. A revision's names
    the event that recorded the version replacing it (`successor_event_id`): a read model
    shows that one first, so no read in between finds neither."""

    tenant_id: str
    memory_id: str
    agent_id: str | None = None
    actor: str
    successor_event_id: str | None = None


class DeletedMemory(msgspec.Struct, frozen=True, kw_only=True):
    memory_id: str
    user_id: str
    event_id: str
    # The version deleted, when the memory asked for lives on in another (revised).
    version_id: str | None = None


class DeleteAgentMemories(msgspec.Struct, frozen=True, kw_only=True):
    """Delete an agent's memories (with `user_id`: those of that user only), at most `most`
    in one call. `memory_ids`: those (a read model listed them); none named: those the log
    holds for the agent, whether or not a read model has them yet."""

    tenant_id: str
    agent_id: str
    actor: str
    user_id: str | None = None
    memory_ids: list[str] | None = None
    most: int = 100


class MetadataEquality(msgspec.Struct, frozen=True, kw_only=True):
    """A memory's metadata holds `value` at `path` (keys, outermost first; a missing key
    holds null)."""

    path: list[str]
    value: Any = None


class DeleteScopeMemories(msgspec.Struct, frozen=True, kw_only=True):
    """Delete every memory the log holds of the user, agent and session named (at least
    one) whose metadata holds each of `metadata`, whether or not a read model has it yet,
    at most `most` in one call. The first call (`after` None) marks the command stream: a
    memory command of the scope accepted until then and recorded later is dropped. The
    next go on from the log position the last answer gave."""

    tenant_id: str
    actor: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    metadata: list[MetadataEquality] = []
    after: int | None = None
    most: int = 100


class DeletedMemories(msgspec.Struct, frozen=True, kw_only=True):
    """The memories a `DeleteAgentMemories` (or `DeleteScopeMemories`) deleted (or found
    deleted); `more`: the log holds more of them than one call deletes; `after`: where in
    the log the next call goes on (`DeleteScopeMemories`)."""

    deleted: list[DeletedMemory]
    more: bool = False
    after: int | None = None


class DropMemories(msgspec.Struct, frozen=True, kw_only=True):
    """Drop deleted memories from a read model now (reads after the delete)."""

    tenant_id: str
    memory_ids: list[str]


class AnswerQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Answer `question` from `passages` only (the caller found them), with the LLM
    adapter; answered `unavailable` when none is configured or it cannot be used."""

    tenant_id: str
    question: str
    passages: list[str]


class AnswerResult(msgspec.Struct, frozen=True, kw_only=True):
    answer: str
    confidence: float
    # Indices into the passages the answer rests on.
    used: list[int]
    method: str
