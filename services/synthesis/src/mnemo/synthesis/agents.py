"""An agent deleted: what it gave each subject's timeline stops counting.

Deleting an agent's memories withdraws what they said (`memory.withdrawn`), but a fact the
agent stated through the API (supersede, contradict) stands beyond the memory it was
stated on, and would come back to an agent made again with the id, to be read and changed
with its keys. Asked by the gateway before the agent goes (so a deletion cut short is
finished by asking again), this appends `agent.withdrawn` to every subject's facts stream
that holds anything of the agent (see `timeline.counted`), and projects it at once.
"""

import asyncpg

from mnemo.bus import request_cause
from mnemo.contracts import (
    AgentWithdrawn,
    Dropped,
    NewEvent,
    QueryError,
    WithdrawAgent,
    new_id,
    utcnow,
)
from mnemo.eventlog import EventStore, SubjectKeyChanged, WrongExpectedVersion
from mnemo.synthesis.handlers import SERVICE, ReadModelHandlers, facts_stream, subject_key
from mnemo.synthesis.timelines import Timelines
from mnemo.telemetry import get_logger

log = get_logger(__name__)

_ATTEMPTS = 5

# Every subject whose read models hold something of the agent: a fact, a piece of
# evidence or an entity mention (what they were projected from is in the subject's stream).
_SUBJECTS = """
SELECT user_id FROM synthesis.facts WHERE tenant_id = $1 AND agent_id = $2
UNION SELECT user_id FROM synthesis.fact_evidence WHERE tenant_id = $1 AND agent_id = $2
UNION SELECT user_id FROM synthesis.entity_mentions WHERE tenant_id = $1 AND agent_id = $2
"""


class AgentWithdrawal:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: EventStore,
        timelines: Timelines,
        read_models: ReadModelHandlers,
    ) -> None:
        self._pool = pool
        self._store = store
        self._timelines = timelines
        self._read_models = read_models

    async def withdraw(self, request: WithdrawAgent) -> Dropped | QueryError:
        rows = await self._pool.fetch(_SUBJECTS, request.tenant_id, request.agent_id)
        withdrawn = 0
        for row in rows:
            if not await self._subject(request, row["user_id"]):
                return QueryError(code="conflict", message="the facts kept changing; try again")
            withdrawn += 1
        log.info("agent_withdrawn", subjects=withdrawn)
        return Dropped(removed=withdrawn)

    async def _subject(self, request: WithdrawAgent, user_id: str) -> bool:
        """Withdraw the agent from one subject's timeline (nothing to do when it holds
        nothing of the agent: asked again, or forgotten meanwhile); False if the stream kept
        moving."""
        cause, correlation = request_cause()
        stream = facts_stream(request.tenant_id, user_id)
        subject = subject_key(request.tenant_id, user_id)
        for _ in range(_ATTEMPTS):
            timeline, version, key_id = await self._timelines.load(
                stream, subject, request.tenant_id, user_id
            )
            if version < 0 or not timeline.holds_agent(request.agent_id):
                # Folded already without it; the read model may not be yet (its consumer
                # behind): project the subject as it counts.
                await self._read_models.reproject(request.tenant_id, user_id)
                return True
            event = NewEvent(
                event_id=new_id(),
                tenant_id=request.tenant_id,
                occurred_at=utcnow(),
                correlation_id=correlation,
                causation_id=cause,
                actor=request.actor,
                service=SERVICE,
                data=AgentWithdrawn(user_id=user_id, agent_id=request.agent_id),
            )
            try:
                stored = await self._store.append(
                    stream, [event], expected_version=version, sealed_with=key_id
                )
            except WrongExpectedVersion:
                continue  # a memory or a change got in first: look again
            except SubjectKeyChanged:
                return True  # forgotten meanwhile: nothing of the subject is left
            # Not kept: the timeline is folded again without the agent. Projected now, so
            # the answer's reads already miss it (the read-model consumer finds it done).
            await self._read_models.apply(stored)
            return True
        return False
