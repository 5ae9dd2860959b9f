"""Domain event data. Each type is tagged with its event_type; the envelope carries it."""

from datetime import datetime
from typing import Any

import msgspec


class _EventData(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class ChunkSpan(msgspec.Struct, frozen=True, kw_only=True):
    """One searchable piece of a memory: content[start:end]."""

    index: int
    start: int
    end: int


class MemoryRecorded(_EventData, tag="memory.recorded", frozen=True, kw_only=True):
    """Something an agent sent was accepted into a subject's memory (after redaction).

    `chunks` split the content for search (none: the whole content is one chunk);
    `redactions` counts the secrets replaced by placeholders, by kind.
    """

    memory_id: str
    user_id: str
    content: str
    source_type: str = "api_text"
    source_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = {}
    chunks: list[ChunkSpan] = []
    redactions: dict[str, int] = {}
    batch_id: str | None = None
    batch_user_items: int = 1

    def chunk_spans(self) -> list[ChunkSpan]:
        return self.chunks or [ChunkSpan(index=0, start=0, end=len(self.content))]


# What synthesis sorts facts into (the `category` of a fact).
FACT_CATEGORIES = (
    "preferences",
    "identity",
    "work",
    "relations",
    "places",
    "plans",
    "activities",
)

# What an entity in a subject's world can be (the `type` of an entity).
ENTITY_TYPES = ("person", "organization", "tool", "place", "pet", "product", "event")


class ExtractedFact(msgspec.Struct, frozen=True, kw_only=True):
    """One fact about the subject, with the span of the memory it came from.

    `single`: the attribute holds one value at a time (employer, location, manager...),
    so a different value later supersedes this one; otherwise values accumulate.
    """

    fact_id: str
    attribute: str
    value: str
    statement: str
    kind: str  # "static" (stable trait) or "dynamic" (current context)
    confidence: float
    span: tuple[int, int]
    category: str = "identity"
    single: bool = False


class FactExtracted(_EventData, tag="fact.extracted", frozen=True, kw_only=True):
    """Synthesis found a new fact about the subject in a recorded memory; it is true from
    the memory's occurred_at (valid time) until a fact.superseded ends it.

    A fact stated through the API (supersede or contradict with new content) has
    extractor "api", the envelope's actor says who, and `memory_id` is the memory of the
    fact it replaces or contradicts."""

    memory_id: str
    user_id: str
    fact: ExtractedFact
    extractor: str
    agent_id: str | None = None  # the agent whose memory said it
    # Whom the fact describes: the memory's speaker when it names one (metadata.author),
    # as two people sharing one userId (a conversation, a meeting) are two people; None:
    # the subject (userId) themselves, as before speakers were read.
    about: str | None = None


class FactCorroborated(_EventData, tag="fact.corroborated", frozen=True, kw_only=True):
    """A fact already known was said again: one more piece of evidence (memory and span)
    and a higher confidence, not a second fact."""

    memory_id: str
    user_id: str
    fact_id: str
    span: tuple[int, int]
    confidence: float
    agent_id: str | None = None
    # What read it in the memory (None in events before extractors were named here).
    extractor: str | None = None


class FactSuperseded(_EventData, tag="fact.superseded", frozen=True, kw_only=True):
    """A fact stopped being true at `valid_to` (valid time); nothing is deleted.

    `reason` "replaced": a conflicting value of a one-value attribute took over
    (`superseded_by` names that fact); "negated": the subject said it no longer holds
    (`span` of memory_id says where). A fact learnt late that a later one had already
    replaced is bounded the same way, right after its fact.extracted.
    """

    memory_id: str
    user_id: str
    fact_id: str
    valid_to: datetime
    reason: str = "replaced"
    superseded_by: str | None = None
    span: tuple[int, int] | None = None


class ExtractedEntity(msgspec.Struct, frozen=True, kw_only=True):
    """A person, organization, tool or place in the subject's world. `entity_id` is the
    same for every mention of one name and type by one subject. `value` is its name as
    said (called value, like a fact's, so that the audit withholds it)."""

    entity_id: str
    value: str
    type: str  # one of ENTITY_TYPES
    relationship: str  # to the subject: "manager", "employer", "uses", "lives in", ...
    confidence: float
    span: tuple[int, int] | None = None


class EntityExtracted(_EventData, tag="entity.extracted", frozen=True, kw_only=True):
    """Synthesis saw an entity in a recorded memory, related to the subject as stated; the
    latest mention (valid time) says the current relationship."""

    memory_id: str
    user_id: str
    entity: ExtractedEntity
    extractor: str
    agent_id: str | None = None
    about: str | None = None  # whose world it is in: as FactExtracted.about


class MemorySynthesized(_EventData, tag="memory.synthesized", frozen=True, kw_only=True):
    """Synthesis finished its pass over one recorded memory.

    `extractor` names what read it (the built-in rules, or an LLM model); when an LLM was
    configured but its answer could not be used, `fallback_reason` says why ("budget",
    "unavailable: ...", "invalid: ...") and the built-in extractor read it instead.
    """

    memory_id: str
    user_id: str
    fact_ids: list[str] = []
    extractor: str
    entity_ids: list[str] = []
    superseded_fact_ids: list[str] = []
    fallback_reason: str | None = None


class MemoryRefined(_EventData, tag="memory.refined", frozen=True, kw_only=True):
    """The second phase of synthesis: a language model read a memory that the built-in
    rules had already synthesized, and its facts corroborated, added to or superseded
    theirs (the events before this one, caused by the memory's `memory.synthesized`).

    `extractor` names the model; when its answer could not be used, `fallback_reason`
    says why ("budget", "unavailable: ...", "invalid: ...") and the rules' facts stand.
    """

    memory_id: str
    user_id: str
    extractor: str
    fact_ids: list[str] = []
    entity_ids: list[str] = []
    superseded_fact_ids: list[str] = []
    corroborated_fact_ids: list[str] = []
    fallback_reason: str | None = None


class FactValidated(_EventData, tag="fact.validated", frozen=True, kw_only=True):
    """Someone (the envelope's actor) confirmed a fact: it is as sure as `confidence`."""

    user_id: str
    fact_id: str
    confidence: float = 1.0


class FactContradicted(_EventData, tag="fact.contradicted", frozen=True, kw_only=True):
    """Someone (the envelope's actor) said a fact is contradicted, by another fact
    (`by_fact_id`, stated beside it) or by what they said (`statement`). Both are kept
    and flagged; neither ends. Sealed: the statement is the caller's words."""

    user_id: str
    fact_id: str
    by_fact_id: str | None = None
    statement: str | None = None


class SubjectSynthesized(_EventData, tag="subject.synthesized", frozen=True, kw_only=True):
    """A synthesis pass over one subject finished: once per single ingest, and once per
    user per batch, after all of that user's memories in the batch were synthesized."""

    user_id: str
    memory_ids: list[str]
    batch_id: str | None = None


class MemoryForgotten(_EventData, tag="memory.forgotten", frozen=True, kw_only=True):
    """Everything of one subject was forgotten: its data keys are shredded, so its sealed
    events can never be read again, and every projection drops what it holds of it."""

    user_id: str
    removed: dict[str, int] = {}
    # Data keys shredded: one with nothing counted in `removed` still held bytes to erase
    # (a key made for a command a mark dropped, or an append the count did not see).
    keys: int = 0


class MemoryDeleted(_EventData, tag="memory.deleted", frozen=True, kw_only=True):
    """One memory was deleted: every projection drops it (the read models, the search
    index). Recorded in one transaction with the shredding of the memory's own key (and so
    of every version of it): its sealed recording stays in the log, and can never be read
    again (one recorded before memories had keys of their own waits for its subject's
    forget). A revision's deletion (`replaced_by`) hands the key on instead."""

    memory_id: str
    user_id: str
    agent_id: str | None = None
    # Set when a revision deleted it: the memory that holds its next version.
    replaced_by: str | None = None


class MemoryWithdrawn(_EventData, tag="memory.withdrawn", frozen=True, kw_only=True):
    """Synthesis no longer counts what a deleted memory said: the facts and entities only
    it gave leave the subject's timeline and read models, what it ended holds again, and a
    fact another memory also said stays on that memory's evidence. Appended to the
    subject's facts stream once the memory's `memory.deleted` is seen."""

    memory_id: str
    user_id: str
    agent_id: str | None = None
    # The memory stream's version of the `memory.deleted` this follows: a recording of the
    # memory after it (the same sourceId sent again once it was deleted) is a new one,
    # read anew, and what it says counts. None (before this field): never read again.
    deleted_version: int | None = None


class AgentWithdrawn(_EventData, tag="agent.withdrawn", frozen=True, kw_only=True):
    """An agent was deleted: nothing it gave the subject's timeline before this event counts
    any more: its facts (those stated through the API too, which a deleted memory leaves
    standing), their corroborations and its entities; what they ended holds again. So an
    agent made again with the id starts with none of them. Appended to the subject's facts
    stream for each subject holding any, before the agent's `agent.deleted`."""

    user_id: str
    agent_id: str


class TenantCreated(_EventData, tag="tenant.created", frozen=True, kw_only=True):
    """A tenant (an organisation: it owns keys, agents and data) came into being."""

    name: str
    email: str | None = None


class AgentCreated(_EventData, tag="agent.created", frozen=True, kw_only=True):
    """An agent of the tenant was registered."""

    agent_id: str
    name: str
    description: str | None = None
    metadata: dict[str, Any] = {}


class AgentUpdated(_EventData, tag="agent.updated", frozen=True, kw_only=True):
    """An agent's new name, description and metadata (the whole new state)."""

    agent_id: str
    name: str
    description: str | None = None
    metadata: dict[str, Any] = {}


class AgentDeleted(_EventData, tag="agent.deleted", frozen=True, kw_only=True):
    """An agent was removed; its keys are revoked by `key.revoked` events beside this one."""

    agent_id: str


class KeyIssued(_EventData, tag="key.issued", frozen=True, kw_only=True):
    """An API key was issued. Only its HMAC-SHA256 `digest` is kept, never the key."""

    key_id: str
    kind: str  # master | agent
    agent_id: str | None = None
    label: str | None = None
    prefix: str
    digest: str


class KeyRevoked(_EventData, tag="key.revoked", frozen=True, kw_only=True):
    """An API key stops working, on every gateway."""

    key_id: str
    digest: str


class PackCompiled(_EventData, tag="pack.compiled", frozen=True, kw_only=True):
    """A memory pack as compiled (sealed with the subject's key when it has one: it quotes
    what the subject said). `basis` names what it was compiled from."""

    agent_id: str
    user_id: str | None = None
    query: str | None = None
    preset: str
    max_tokens: int
    token_count: int
    session_memory_count: int
    knowledge_count: int
    long_term_memory_count: int
    has_identity: bool
    content: dict[str, Any]
    basis: str


EventData = (
    MemoryRecorded
    | FactExtracted
    | FactCorroborated
    | FactSuperseded
    | EntityExtracted
    | MemorySynthesized
    | MemoryRefined
    | FactValidated
    | FactContradicted
    | SubjectSynthesized
    | MemoryForgotten
    | MemoryDeleted
    | MemoryWithdrawn
    | AgentWithdrawn
    | TenantCreated
    | AgentCreated
    | AgentUpdated
    | AgentDeleted
    | KeyIssued
    | KeyRevoked
    | PackCompiled
)

EVENT_TYPES: dict[str, type[EventData]] = {
    "memory.recorded": MemoryRecorded,
    "fact.extracted": FactExtracted,
    "fact.corroborated": FactCorroborated,
    "fact.superseded": FactSuperseded,
    "entity.extracted": EntityExtracted,
    "memory.synthesized": MemorySynthesized,
    "memory.refined": MemoryRefined,
    "fact.validated": FactValidated,
    "fact.contradicted": FactContradicted,
    "subject.synthesized": SubjectSynthesized,
    "memory.forgotten": MemoryForgotten,
    "memory.deleted": MemoryDeleted,
    "memory.withdrawn": MemoryWithdrawn,
    "agent.withdrawn": AgentWithdrawn,
    "tenant.created": TenantCreated,
    "agent.created": AgentCreated,
    "agent.updated": AgentUpdated,
    "agent.deleted": AgentDeleted,
    "key.issued": KeyIssued,
    "key.revoked": KeyRevoked,
    "pack.compiled": PackCompiled,
}
