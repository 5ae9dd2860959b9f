"""What a caller does to a fact through the API: validate it, supersede it with a new fact,
or contradict it (both kept, flagged).

Each change is decided on the subject's timeline and appended to the subject's facts
stream at the version it was decided on, as the memories' facts are (so a change and a
memory being synthesized never interleave on a stale timeline); the events carry the
caller as actor and the request's correlation id, so the audit chain shows them.
"""

from datetime import datetime

from mnemo.bus import request_cause
from mnemo.contracts import (
    FACT_CHANGES,
    ChangeFact,
    EventData,
    ExtractedFact,
    FactChange,
    FactContradicted,
    FactExtracted,
    FactSuperseded,
    FactValidated,
    NewEvent,
    QueryError,
    derived_id,
    utcnow,
    valid_at,
)
from mnemo.eventlog import NO_STREAM, EventStore, SubjectKeyChanged, WrongExpectedVersion
from mnemo.synthesis import values
from mnemo.synthesis.fact_views import FactViews, status_at
from mnemo.synthesis.handlers import SERVICE, ReadModelHandlers, facts_stream, subject_key
from mnemo.synthesis.timeline import Fact
from mnemo.synthesis.timelines import Timelines
from mnemo.telemetry import get_logger

log = get_logger(__name__)

API_EXTRACTOR = "api"
MAX_CONTENT = 1000
_ATTEMPTS = 5


class Refused(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error = QueryError(code=code, message=message, field=field)


class FactCuration:
    def __init__(
        self,
        store: EventStore,
        timelines: Timelines,
        views: FactViews,
        read_models: ReadModelHandlers,
    ) -> None:
        self._store = store
        self._timelines = timelines
        self._views = views
        self._read_models = read_models

    async def change(self, request: ChangeFact) -> FactChange | QueryError:
        try:
            _check(request)
        except Refused as refused:
            return refused.error
        user_id = await self._views.owner(request.tenant_id, request.fact_id, request.agent_id)
        if user_id is None:
            return QueryError(
                code="not_found", message=f"no fact {request.fact_id!r}", field="factId"
            )
        cause, correlation = request_cause()
        # The seed of the change's ids: the request's Idempotency-Key's when it has one.
        seed = request.retry_key or cause
        stream = facts_stream(request.tenant_id, user_id)
        for _ in range(_ATTEMPTS):
            timeline, version, key_id = await self._timelines.load(
                stream, subject_key(request.tenant_id, user_id), request.tenant_id, user_id
            )
            fact = timeline.facts.get(request.fact_id)
            if fact is None:  # forgotten since the read model saw it
                return QueryError(
                    code="not_found", message=f"no fact {request.fact_id!r}", field="factId"
                )
            if request.retry_key is not None:
                done = await self._made(request, fact, user_id, seed)
                if done is not None:
                    self._timelines.keep(stream, timeline, version, key_id)
                    return done
            if request.change == "contradict" and request.content is not None:
                said = await self._said_already(request, fact, user_id)
                if said is not None:
                    self._timelines.keep(stream, timeline, version, key_id)
                    return said
            try:
                decided = _decide(request, fact, user_id, seed)
            except Refused as refused:
                self._timelines.keep(stream, timeline, version, key_id)
                return refused.error
            events = [
                NewEvent(
                    event_id=event_id,
                    tenant_id=request.tenant_id,
                    occurred_at=at,
                    correlation_id=correlation,
                    causation_id=cause,
                    actor=request.actor,
                    service=SERVICE,
                    data=data,
                )
                for event_id, data, at in decided
            ]
            try:
                # Under the key the fact was read with: a forget meanwhile makes the change
                # refused, rather than its words sealed under a key of the subject's next life.
                stored = await self._store.append(
                    stream,
                    events,
                    expected_version=version if version >= 0 else NO_STREAM,
                    sealed_with=key_id,
                )
            except WrongExpectedVersion:
                continue  # a memory or another change got in first: decide again
            except SubjectKeyChanged:
                return QueryError(
                    code="not_found", message=f"no fact {request.fact_id!r}", field="factId"
                )
            for env in stored:
                timeline.apply(env.data, env.occurred_at)
            self._timelines.keep(stream, timeline, version + len(stored), key_id)
            # Read your own change: project it now (the read-model consumer will find it done).
            await self._read_models.apply(stored)
            log.info("fact_changed", change=request.change, fact_id=request.fact_id)
            return await self._answer(request, user_id, stored)
        return QueryError(code="conflict", message="the facts kept changing; try again")

    async def _made(
        self, request: ChangeFact, fact: Fact, user_id: str, seed: str
    ) -> FactChange | None:
        """The answer to this change if a run of it with the same retry key made it already
        (its answer lost), else None. Its events' ids derive from the key: the change's own
        event on this fact is in the log; or, asked of the fact it stated (a Mem0 update
        revises the chain's last fact, which the first run made), that fact is this one."""
        past = {"validate": "validated", "supersede": "superseded", "contradict": "contradicted"}
        main = derived_id(seed, f"fact.{past[request.change]}", fact.fact_id)
        stored = await self._store.read_events([main])
        if stored:
            ended = stored[0].data
            stated = getattr(ended, "superseded_by", None) or getattr(ended, "by_fact_id", None)
            if stated is not None:  # every event of the change, as its first answer listed
                ids = [stated, main]
                if request.change == "contradict":
                    ids.append(derived_id(seed, "fact.contradicted", stated))
                stored = await self._store.read_events(ids)
            return await self._answer(request, user_id, stored, [stated] if stated else [])
        if request.content is not None and fact.fact_id == _stated_id(request, fact, seed):
            views = await self._views.views(request.tenant_id, user_id, fact_ids=[fact.fact_id])
            if views:
                view = status_at(views[0][0], valid_at(None))
                return FactChange(fact=view, new_fact=view, event_ids=[])
        return None

    async def _said_already(
        self, request: ChangeFact, fact: Fact, user_id: str
    ) -> FactChange | None:
        """The answer to a contradiction stated already: the fact is contradicted by a
        current fact of the same value (the same request sent again after a lost answer,
        without an Idempotency-Key, stated it a second time: two facts of the same words)."""
        assert request.content is not None
        value = values.key((request.value or request.content.strip()).strip())
        now = valid_at(None)
        found = await self._views.views(request.tenant_id, user_id, fact_ids=[fact.fact_id])
        if not found:
            return None
        this = status_at(found[0][0], now)
        if not this.contradicted_by:
            return None
        others = await self._views.views(request.tenant_id, user_id, fact_ids=this.contradicted_by)
        for view, _ in others:
            other = status_at(view, now)
            if other.status == "current" and values.key(other.value) == value:
                return FactChange(fact=this, new_fact=other, event_ids=[])
        return None

    async def _answer(
        self, request: ChangeFact, user_id: str, stored: list, stated: list[str] | None = None
    ) -> FactChange:
        new_ids = (
            stated
            if stated is not None
            else [e.data.fact.fact_id for e in stored if isinstance(e.data, FactExtracted)]
        )
        now = valid_at(None)  # statuses as GET /v1/facts shows them: as of now
        found = {
            v.fact_id: status_at(v, now)
            for v, _ in await self._views.views(
                request.tenant_id, user_id, fact_ids=[request.fact_id, *new_ids]
            )
        }
        return FactChange(
            fact=found[request.fact_id],
            new_fact=found.get(new_ids[0]) if new_ids else None,
            event_ids=[e.event_id for e in stored],
        )


def _check(request: ChangeFact) -> None:
    if request.change not in FACT_CHANGES:
        raise Refused("invalid", f"change must be one of {', '.join(FACT_CHANGES)}", "change")
    for name, text in (("content", request.content), ("reason", request.reason)):
        if text is not None and not text.strip():
            raise Refused("invalid", f"{name} must not be empty", name)
        if text is not None and len(text) > MAX_CONTENT:
            raise Refused("invalid", f"{name} is longer than {MAX_CONTENT} characters", name)
    if request.change == "supersede" and request.content is None:
        raise Refused("invalid", "supersede needs the new fact's content", "content")


def _decide(
    request: ChangeFact, fact: Fact, user_id: str, cause: str
) -> list[tuple[str, EventData, datetime]]:
    """(event id, data, valid time) of what the change appends."""
    now = utcnow()
    if request.change == "validate":
        data = FactValidated(user_id=user_id, fact_id=fact.fact_id)
        return [(derived_id(cause, "fact.validated", fact.fact_id), data, now)]
    at = request.valid_from or now
    out: list[tuple[str, EventData, datetime]] = []
    new_fact: str | None = None
    if request.content is not None:
        if at < fact.valid_from:
            raise Refused(
                "invalid",
                f"validFrom must not be before the fact's own validFrom "
                f"({fact.valid_from.isoformat()})",
                "validFrom",
            )
        new_fact, stated = _stated(request, fact, user_id, cause)
        out.append((new_fact, stated, at))
    if request.change == "supersede":
        assert new_fact is not None
        if fact.valid_to is not None and fact.valid_to <= at:
            raise Refused(
                "conflict",
                f"the fact already ended at {fact.valid_to.isoformat()}; nothing to supersede",
                "factId",
            )
        ended = FactSuperseded(
            memory_id=fact.memory_id,
            user_id=user_id,
            fact_id=fact.fact_id,
            valid_to=at,
            reason="superseded",
            superseded_by=new_fact,
        )
        out.append((derived_id(cause, "fact.superseded", fact.fact_id), ended, at))
        return out
    # contradict: flag the fact (and the contradicting one, when stated); neither ends.
    flagged = FactContradicted(
        user_id=user_id, fact_id=fact.fact_id, by_fact_id=new_fact, statement=request.reason
    )
    out.append((derived_id(cause, "fact.contradicted", fact.fact_id), flagged, now))
    if new_fact is not None:
        back = FactContradicted(user_id=user_id, fact_id=new_fact, by_fact_id=fact.fact_id)
        out.append((derived_id(cause, "fact.contradicted", new_fact), back, now))
    return out


def _stated(request: ChangeFact, fact: Fact, user_id: str, cause: str) -> tuple[str, FactExtracted]:
    """The fact the caller states: same attribute, kind, category and person as the one
    it replaces or contradicts; its statement is what they wrote."""
    assert request.content is not None
    content = request.content.strip()
    value = (request.value or content).strip()
    fact_id = _stated_id(request, fact, cause)
    return fact_id, FactExtracted(
        memory_id=fact.memory_id,
        user_id=user_id,
        fact=ExtractedFact(
            fact_id=fact_id,
            attribute=fact.attribute,
            value=value,
            statement=content,
            kind=fact.kind,
            category=fact.category,
            single=fact.single,
            confidence=1.0,
            span=(0, 0),
        ),
        extractor=API_EXTRACTOR,
        agent_id=request.agent_id or fact.agent_id,
        about=fact.about,  # a correction of a person's fact is about that person
    )


def _stated_id(request: ChangeFact, fact: Fact, cause: str) -> str:
    """The id of the fact a change with content states about `fact`."""
    assert request.content is not None
    value = (request.value or request.content.strip()).strip()
    return derived_id(cause, "fact", fact.attribute, values.key(value))
