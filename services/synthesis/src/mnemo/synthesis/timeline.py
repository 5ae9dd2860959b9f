"""A subject's facts in valid time, and what a new memory does to them.

Folded from the subject's fact events (so it is rebuilt from the log, never stored on its
own), a `Timeline` decides, for what the extractor found in one memory, which events to
append: a new fact, the same fact corroborated, an older fact superseded by a conflicting
one, a fact ended by a negation. Memories may arrive in any order of occurred_at: a fact
said late about the past is slotted in, bounded by what was already known to follow it.
"""

from dataclasses import dataclass
from datetime import datetime

import msgspec

from mnemo.contracts import (
    AgentWithdrawn,
    EntityExtracted,
    Envelope,
    EventData,
    ExtractedEntity,
    ExtractedFact,
    FactContradicted,
    FactCorroborated,
    FactExtracted,
    FactSuperseded,
    FactValidated,
    MemoryRefined,
    MemorySynthesized,
    MemoryWithdrawn,
    derived_id,
)
from mnemo.contracts.speakers import same_person
from mnemo.synthesis import values
from mnemo.synthesis.attributes import ATTRIBUTES, OPPOSITES
from mnemo.synthesis.extractor import Extraction, Finding, Mention, Negation


@dataclass
class Fact:
    fact_id: str
    attribute: str
    value: str
    statement: str
    confidence: float
    valid_from: datetime
    valid_to: datetime | None = None
    evidence: int = 1
    memory_id: str = ""
    agent_id: str | None = None
    kind: str = "static"
    category: str = "identity"
    single: bool = False
    contradicted: bool = False
    about: str | None = None  # whom it describes (FactExtracted.about)

    def holds_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    @property
    def current(self) -> bool:
        return self.valid_to is None


Derived = tuple[str, EventData]  # (event id, event data)


class Timeline:
    """One subject's facts, and the memories already synthesized into them."""

    def __init__(self, subject: str) -> None:
        self.subject = subject  # stable per tenant and user: entity ids derive from it
        self.facts: dict[str, Fact] = {}
        self.memories: set[str] = set()
        self.refined: set[str] = set()  # read again by the second phase (an LLM)
        # Deleted memories: what they said no longer counts (see `counted`), and no
        # recording of them up to their deletion (the stream version, None: any) is read
        # again; one recorded again after it is (the same sourceId sent again).
        self.withdrawn: dict[str, int | None] = {}
        # The agents whose memories gave it a fact, a corroboration or an entity (as it
        # counts: a deleted agent's are folded out).
        self.agents: set[str] = set()
        # Deleted agents, by when their withdrawal was stored: a memory of one recorded by
        # then belongs to the deleted agent, and is neither read nor withdrawn when it comes
        # late (an agent made again with the id would otherwise get its facts, or see
        # events about it, after it was made).
        self.retired: dict[str, datetime] = {}

    @classmethod
    def folded(cls, subject: str, events: list[Envelope]) -> "Timeline":
        """The timeline of a subject's facts stream, as it counts now."""
        timeline = cls(subject)
        for event in counted(events):
            if isinstance(event.data, AgentWithdrawn):
                # The log's clock, as the memories' recorded_at it is compared with.
                timeline.retire(event.data.agent_id, event.recorded_at)
            timeline.apply(event.data, event.occurred_at)
        return timeline

    def retire(self, agent_id: str, at: datetime) -> None:
        self.retired[agent_id] = max(at, self.retired.get(agent_id, at))

    def of_deleted_agent(self, agent_id: str | None, recorded_at: datetime) -> bool:
        """Whether a memory (or its deletion) recorded then belongs to a deleted agent."""
        retired = self.retired.get(agent_id) if agent_id else None
        return retired is not None and recorded_at <= retired

    # ------------------------------------------------------------------ folding

    def holds_agent(self, agent_id: str) -> bool:
        return agent_id in self.agents

    def apply(self, data: EventData, occurred_at: datetime) -> None:
        if isinstance(data, FactExtracted | FactCorroborated | EntityExtracted) and data.agent_id:
            self.agents.add(data.agent_id)
        if isinstance(data, FactExtracted):
            f = data.fact
            self.facts[f.fact_id] = Fact(
                f.fact_id,
                f.attribute,
                f.value,
                f.statement,
                f.confidence,
                occurred_at,
                memory_id=data.memory_id,
                agent_id=data.agent_id,
                kind=f.kind,
                category=f.category,
                single=f.single,
                about=data.about,
            )
        elif isinstance(data, FactSuperseded):
            fact = self.facts.get(data.fact_id)
            # Valid time only ever shrinks: a later insertion bounds it earlier.
            if fact and (fact.valid_to is None or data.valid_to < fact.valid_to):
                fact.valid_to = data.valid_to
        elif isinstance(data, FactCorroborated):
            if fact := self.facts.get(data.fact_id):
                fact.confidence = max(fact.confidence, data.confidence)
                fact.evidence += 1
        elif isinstance(data, FactValidated):
            if fact := self.facts.get(data.fact_id):
                fact.confidence = max(fact.confidence, data.confidence)
        elif isinstance(data, FactContradicted):
            if fact := self.facts.get(data.fact_id):
                fact.contradicted = True
        elif isinstance(data, MemorySynthesized):
            self.memories.add(data.memory_id)
            self.withdrawn.pop(data.memory_id, None)  # recorded again after its deletion
        elif isinstance(data, MemoryRefined):
            self.refined.add(data.memory_id)
        elif isinstance(data, MemoryWithdrawn):
            self.withdrawn[data.memory_id] = data.deleted_version
            self.memories.discard(data.memory_id)
            self.refined.discard(data.memory_id)

    def read_before(self, memory_id: str, version: int) -> bool:
        """Whether this recording of the memory (its stream version) was read already:
        synthesized, or recorded before a deletion that withdrew it."""
        if memory_id in self.memories:
            return True
        if memory_id not in self.withdrawn:
            return False
        deleted = self.withdrawn[memory_id]
        return deleted is None or version < deleted

    def holding(self, at: datetime | None = None) -> list[Fact]:
        """The facts true at `at` (default: those not ended), oldest first."""
        found = [f for f in self.facts.values() if (f.current if at is None else f.holds_at(at))]
        return sorted(found, key=lambda f: (f.valid_from, f.fact_id))

    # ------------------------------------------------------------------ deciding

    def decide(
        self,
        *,
        cause: str,
        memory_id: str,
        user_id: str,
        at: datetime,
        found: Extraction,
        agent_id: str | None = None,
        about: str | None = None,
    ) -> list[Derived]:
        """The events that synthesizing this memory appends, applied to the timeline too.
        What was found describes `about` (None: the subject): it is weighed against that
        person's facts only.

        Ids derive from `cause` (the memory's event id), so the same memory decided
        again against the same timeline yields the same events.
        """
        if about is not None:  # one person, one spelling: the first their facts had
            own = (f for f in self.facts.values() if f.agent_id == agent_id)
            about = next((f.about for f in own if same_person(f.about, about)), about)
        step = _Step(self, cause, memory_id, user_id, at, agent_id, found.extractor, about)
        items: list[Finding | Negation] = [*found.facts, *found.negations]
        for item in sorted(items, key=lambda i: i.span):
            if isinstance(item, Finding):
                step.fact(item)
            else:
                step.negation(item)
        for mention in found.mentions:
            step.mention(mention)
        return step.out


class _Step:
    def __init__(
        self,
        tl: Timeline,
        cause: str,
        memory_id: str,
        user_id: str,
        at: datetime,
        agent_id: str | None,
        extractor: str,
        about: str | None = None,
    ) -> None:
        self.tl = tl
        self.about = about
        self.extractor = extractor
        self.cause = cause
        self.memory_id = memory_id
        self.user_id = user_id
        self.at = at
        self.agent_id = agent_id
        self.out: list[Derived] = []

    def emit(self, event_id: str, data: EventData) -> None:
        self.out.append((event_id, data))
        self.tl.apply(data, self.at)

    def ours(self, fact: Fact) -> bool:
        """Whether a memory of this agent may weigh on `fact`: only its own agent's (or,
        without an agent, the agent-less ones). Agents that share a user's name share a
        subject stream, not their facts: one agent's memory never supersedes, corroborates
        or ends another's fact, nor learns of it through a former relationship."""
        return fact.agent_id == self.agent_id

    def mine(self) -> list[Fact]:
        """This agent's facts of the person this memory speaks about."""
        return [
            x for x in self.tl.facts.values() if self.ours(x) and same_person(x.about, self.about)
        ]

    def fact(self, f: Finding) -> None:
        mine = self.mine()
        same = [
            x
            for x in mine
            if x.attribute == f.attribute and values.key(x.value) == values.key(f.value)
        ]
        if covering := next((x for x in same if x.holds_at(self.at) or x.current), None):
            self.corroborate(covering, f)
            return
        fact_id = derived_id(self.cause, "fact", f.attribute, values.key(f.value))
        spec = ATTRIBUTES[f.attribute]
        self.emit(
            fact_id,
            FactExtracted(
                memory_id=self.memory_id,
                user_id=self.user_id,
                fact=ExtractedFact(
                    fact_id=fact_id,
                    attribute=f.attribute,
                    value=f.value,
                    statement=f.statement,
                    kind=f.kind,
                    confidence=f.confidence,
                    span=f.span,
                    category=spec.category,
                    single=spec.single,
                ),
                extractor=self.extractor,
                agent_id=self.agent_id,
                about=self.about,
            ),
        )
        rivals = [
            x
            for x in mine
            if x.fact_id != fact_id
            and (
                (spec.single and x.attribute == f.attribute)
                or (
                    x.attribute == OPPOSITES.get(f.attribute)
                    and values.key(x.value) == values.key(f.value)
                )
            )
        ]
        for old in rivals:
            if old.holds_at(self.at):
                self.end(old, self.at, "replaced", by=fact_id)
        if spec.single:
            # Said late about the past: the value already known to follow takes over.
            following = [x for x in rivals if x.valid_from > self.at]
            if following:
                nxt = min(following, key=lambda x: x.valid_from)
                self.end(self.tl.facts[fact_id], nxt.valid_from, "replaced", by=nxt.fact_id)

    def corroborate(self, fact: Fact, f: Finding) -> None:
        confidence = round(min(0.99, 1 - (1 - fact.confidence) * (1 - f.confidence / 2)), 2)
        self.emit(
            derived_id(self.cause, "fact.corroborated", fact.fact_id),
            FactCorroborated(
                memory_id=self.memory_id,
                user_id=self.user_id,
                fact_id=fact.fact_id,
                span=f.span,
                confidence=confidence,
                agent_id=self.agent_id,
                extractor=self.extractor,
            ),
        )

    def negation(self, n: Negation) -> None:
        for fact in self.tl.holding(self.at):
            if not self.ours(fact) or not same_person(fact.about, self.about):
                continue
            if n.attribute is not None and fact.attribute != n.attribute:
                continue
            if n.value is None:
                if n.attribute is None or not ATTRIBUTES[fact.attribute].single:
                    continue
            elif not values.same(fact.value, n.value):
                continue
            self.end(fact, self.at, "negated", by=None, span=n.span)

    def end(
        self,
        fact: Fact,
        valid_to: datetime,
        reason: str,
        by: str | None,
        span: tuple[int, int] | None = None,
    ) -> None:
        if fact.valid_to is not None and fact.valid_to <= valid_to:
            return
        self.emit(
            derived_id(self.cause, "fact.superseded", fact.fact_id, valid_to.isoformat()),
            FactSuperseded(
                memory_id=self.memory_id,
                user_id=self.user_id,
                fact_id=fact.fact_id,
                valid_to=valid_to,
                reason=reason,
                superseded_by=by,
                span=span,
            ),
        )
        spec = ATTRIBUTES[fact.attribute]
        named = spec.entity_type == "tool" or _named(fact.value)
        if spec.entity_type and spec.former and valid_to <= self.at and named:
            self.entity(
                Mention(fact.value, spec.entity_type, spec.former, fact.confidence, span or (0, 0)),
                span,
            )

    def mention(self, m: Mention) -> None:
        relationship = m.relationship
        # A mention of something this memory placed in the past ("I worked at Acme until
        # I joined Globex", learnt after Globex) relates it as it was, not as it is.
        mine = self.mine()
        for fact in mine:
            spec = ATTRIBUTES[fact.attribute]
            if (
                spec.entity_type == m.type
                and spec.relationship == m.relationship
                and values.key(fact.value) == values.key(m.name)
                and fact.valid_to is not None
                and not any(x.current and values.key(x.value) == values.key(m.name) for x in mine)
            ):
                relationship = spec.former
        self.entity(
            Mention(m.name, m.type, relationship, m.confidence, m.span),
            m.span,
        )

    def entity(self, m: Mention, span: tuple[int, int] | None) -> None:
        entity_id = derived_id(self.tl.subject, "entity", m.type, values.key(m.name))
        event_id = derived_id(self.cause, "entity", entity_id, m.relationship)
        if any(eid == event_id for eid, _ in self.out):
            return
        self.emit(
            event_id,
            EntityExtracted(
                memory_id=self.memory_id,
                user_id=self.user_id,
                entity=ExtractedEntity(
                    entity_id=entity_id,
                    value=m.name,
                    type=m.type,
                    relationship=m.relationship,
                    confidence=m.confidence,
                    span=span,
                ),
                extractor=self.extractor,
                agent_id=self.agent_id,
                about=self.about,
            ),
        )


def counted(events: list[Envelope]) -> list[Envelope]:
    """A subject's facts-stream events as they count once deleted memories are withdrawn
    (`memory.withdrawn`): what synthesis drew from a withdrawn memory is left out (its
    facts, their corroborations, the endings it caused, its entities, and the former
    relationship a later memory drew from one of its facts), so what it ended holds again;
    a fact it gave that a later memory also said is that memory's fact from then on (its
    `fact.corroborated` becomes the fact's `fact.extracted`). A fact stated through the API
    stays, unless its agent was deleted: `agent.withdrawn` leaves out everything the agent
    gave before it, stated facts too. The one reading of withdrawals: the timeline that
    decides and the read models that answer both fold this."""
    # Each deleted memory and agent, to the position of its last withdrawal: what it gave
    # before does not count; what it gives after (the memory recorded again, an agent
    # made again with the id) does.
    withdrawn = {
        e.data.memory_id: i for i, e in enumerate(events) if isinstance(e.data, MemoryWithdrawn)
    }
    retired = {
        e.data.agent_id: i for i, e in enumerate(events) if isinstance(e.data, AgentWithdrawn)
    }
    if not withdrawn and not retired:
        return events

    def gone(i: int, agent_id: str | None) -> bool:
        return agent_id is not None and retired.get(agent_id, -1) > i

    def said(i: int, memory_id: str) -> bool:
        """Said by a memory withdrawn after it."""
        return withdrawn.get(memory_id, -1) > i

    out: list[Envelope] = []
    orphans: dict[str, Envelope] = {}  # fact id -> its fact.extracted, its memory withdrawn
    live: set[str] = set()
    # The former relationships ("Acme, former employer") drawn from endings left out, by
    # the decision that drew them (its cause). Such a mention carries the memory that
    # ended the fact, but its words are the ended fact's: it goes with that fact.
    unsaid: set[tuple[str, str, str, str]] = set()
    for i, event in enumerate(events):
        data = event.data
        if isinstance(data, FactExtracted):
            if (said(i, data.memory_id) and data.extractor != "api") or gone(i, data.agent_id):
                orphans[data.fact.fact_id] = event
                continue
            live.add(data.fact.fact_id)
        elif isinstance(data, FactCorroborated):
            if said(i, data.memory_id) or gone(i, data.agent_id):
                continue
            first = orphans.pop(data.fact_id, None)
            if first is not None:
                # Said again by a memory that stays: from then on, that memory's fact.
                assert isinstance(first.data, FactExtracted)
                fact = msgspec.structs.replace(first.data.fact, span=data.span)
                again = msgspec.structs.replace(
                    first.data,
                    memory_id=data.memory_id,
                    fact=fact,
                    agent_id=data.agent_id,
                    extractor=data.extractor or first.data.extractor,
                )
                out.append(msgspec.structs.replace(event, event_type="fact.extracted", data=again))
                live.add(data.fact_id)
                continue
            if data.fact_id not in live:
                continue
        elif isinstance(data, FactSuperseded):
            if said(i, data.memory_id):
                continue
            if data.fact_id not in live:
                ended = orphans.get(data.fact_id)
                if ended is not None and (former := _former(event.causation_id, ended)):
                    unsaid.add(former)
                continue
            if data.superseded_by is not None and data.superseded_by in orphans:
                continue  # ended by a fact that no longer counts
        elif isinstance(data, FactValidated | FactContradicted):
            if data.fact_id not in live:
                continue
        elif isinstance(data, EntityExtracted):
            if said(i, data.memory_id) or gone(i, data.agent_id):
                continue
            entity = data.entity
            mention = (event.causation_id, entity.type, values.key(entity.value))
            if (*mention, entity.relationship) in unsaid:
                continue
        out.append(event)
    return out


def _former(cause: str, extracted: Envelope) -> tuple[str, str, str, str] | None:
    """The former relationship a decision (`cause`) that ended this fact drew from its
    value (`_Step.end`), if its attribute names one."""
    assert isinstance(extracted.data, FactExtracted)
    fact = extracted.data.fact
    spec = ATTRIBUTES.get(fact.attribute)
    if spec is None or not spec.entity_type or not spec.former:
        return None
    return (cause, spec.entity_type, values.key(fact.value), spec.former)


def _named(value: str) -> bool:
    return bool(value) and (value[0].isupper() or value[0].isdigit())
