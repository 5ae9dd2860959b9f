"""Wiring: settings -> host -> consumers of recorded memories and of what synthesis derived,
the profile, entities and facts queries and fact changes. `rebuild` refills the read models
from the log."""

import contextlib

from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from mnemo.bus import ConsumerSpec
from mnemo.contracts import (
    AnswerQuery,
    ChangeFact,
    EntitiesQuery,
    FactChainsQuery,
    FactsQuery,
    ForgetSubject,
    PackQuery,
    ProfileQuery,
    WithdrawAgent,
)
from mnemo.eventlog import EventStore
from mnemo.host import Host
from mnemo.settings import load_settings
from mnemo.synthesis.agents import AgentWithdrawal
from mnemo.synthesis.budget import LLMBudget
from mnemo.synthesis.curation import FactCuration
from mnemo.synthesis.fact_chains import FactChainViews
from mnemo.synthesis.fact_views import FactViews
from mnemo.synthesis.handlers import (
    SERVICE,
    ReadModelHandlers,
    SynthesisHandlers,
    built_in,
)
from mnemo.synthesis.llm import LLMExtractor
from mnemo.synthesis.packs import Answerer, PackCompiler
from mnemo.synthesis.passes import SQL, PassTracker
from mnemo.synthesis.settings import SynthesisSettings
from mnemo.synthesis.timelines import Timelines
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# What the read models are made of, in the log and on the bus.
READ_MODEL_EVENTS = (
    "fact.extracted",
    "fact.superseded",
    "fact.corroborated",
    "fact.validated",
    "fact.contradicted",
    "entity.extracted",
    "memory.synthesized",
    "memory.forgotten",
    "memory.withdrawn",
    "agent.withdrawn",
)


async def main() -> None:
    settings = load_settings(SynthesisSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"synthesis": SQL})
    assert host.pool is not None
    store = EventStore(host.pool)
    timelines = Timelines(host.pool, store)
    llm: LLMExtractor | None = None
    if settings.llm_url and settings.llm_model:
        llm = LLMExtractor(
            settings.llm_url,
            settings.llm_model,
            LLMBudget(host.pool, settings.llm_tenant_budget),
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
            concurrency=settings.llm_concurrency,
            retries=settings.llm_retries,
            batch=settings.llm_batch,
            batch_chars=settings.llm_batch_chars,
        )
        # Shown in /v1/health; a model server that is down leaves synthesis "ok" (the
        # rules' facts stand).
        host.health_check("llm", llm.ping, optional=True)
        log.info("llm_extractor", model=settings.llm_model, budget=settings.llm_tenant_budget)
    # Two phases: the rules read every memory at once; the LLM, when there is one, reads
    # it again in the background, on a consumer of its own (its pace never holds back the
    # first phase, indexing or ingest), and /v1/health shows how many it has yet to read.
    refiner = llm if settings.llm_extract else None
    handlers = SynthesisHandlers(store, PassTracker(host.pool), timelines, built_in, refiner)
    topology = host.topology
    reading = host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-memories",
            stream=topology.evt_stream,
            # A memory deleted is withdrawn from its subject's facts in the same order.
            filter_subjects=[
                topology.evt_subject("*", "memory.recorded"),
                topology.evt_subject("*", "memory.deleted"),
            ],
        ),
        handlers.memory_recorded,
        handlers.memories_recorded,
    )
    host.backlog("rules", reading)  # memories the first phase has yet to read
    # The model reads the memories recorded while it is configured to: from when it is
    # first configured (not the whole log's past), and not, when it comes back, those of
    # the time it was off (its durable goes when it is turned off; the rules' facts stand).
    refining_durable = f"{SERVICE}-llm"
    if llm is not None and settings.llm_extract:
        refining = host.consume(
            ConsumerSpec(
                durable=refining_durable,
                stream=topology.evt_stream,
                filter_subjects=[topology.evt_subject("*", "memory.synthesized")],
                # A few at a time, kept in progress while asked; one subject's go to the
                # model together, up to MNEMO_LLM_BATCH a call.
                batch=max(4, settings.llm_batch),
                ack_wait=max(settings.consumer_ack_wait, settings.llm_timeout),
                deliver_policy=DeliverPolicy.NEW,
                # A background phase: its spans link to the request's trace.
                linked=True,
            ),
            handlers.memory_synthesized,
            handlers.memories_synthesized,
        )
        host.backlog("llm", refining)
    else:
        assert host.publisher is not None
        with contextlib.suppress(NotFoundError):
            await host.publisher.js.delete_consumer(topology.evt_stream, refining_durable)
    read_models = ReadModelHandlers(host.pool)
    host.consume(
        ConsumerSpec(
            # A new durable (the old "-profiles" one followed fewer types): it starts from
            # the beginning of the stream, and applying is idempotent.
            durable=f"{SERVICE}-read-models",
            stream=topology.evt_stream,
            filter_subjects=[topology.evt_subject("*", t) for t in READ_MODEL_EVENTS],
            # One append (a new fact, the old one's ending, a manager named) is applied in
            # one transaction: a profile never shows half of it.
            whole_appends=True,
        ),
        read_models.event,
        read_models.events,
    )
    # After withdrawals of deleted memories: the read models' tables, coalesced.
    host.background(read_models.compaction.run)
    host.query("profile", ProfileQuery, read_models.profile, concurrent=True)
    host.query("entities", EntitiesQuery, read_models.entity_graph, concurrent=True)
    host.query("drop_subject", ForgetSubject, read_models.drop_subject)
    views = FactViews(host.pool)
    host.query("facts", FactsQuery, views.listing, concurrent=True)
    host.query("fact_chains", FactChainsQuery, FactChainViews(views).chains, concurrent=True)
    curation = FactCuration(store, timelines, views, read_models)
    host.query("change_fact", ChangeFact, curation.change)
    withdrawal = AgentWithdrawal(host.pool, store, timelines, read_models)
    host.query("withdraw_agent", WithdrawAgent, withdrawal.withdraw)
    assert host.nc is not None
    packs = PackCompiler(store, read_models.facts, host.nc, topology, settings.query_timeout)
    host.query("pack", PackQuery, packs.pack, concurrent=True)
    host.query("answer", AnswerQuery, Answerer(llm).answer, concurrent=True)
    await host.serve_forever()


async def rebuild() -> None:
    """Empty the facts and entities read models and refill them from the log."""
    settings = load_settings(SynthesisSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"synthesis": SQL})
    assert host.pool is not None
    read_models = ReadModelHandlers(host.pool)
    store = EventStore(host.pool)
    await read_models.clear()
    position, applied = 0, 0
    while True:
        page, last = await store.read_all(after=position, limit=1000)
        if last == position:
            break
        wanted = [e for e in page if e.event_type in READ_MODEL_EVENTS]
        await read_models.apply(wanted)
        applied += len(wanted)
        position = last
    log.info("synthesis_rebuilt", events=applied, position=position)
    print(
        f"rebuilt the facts and entities from the log: {applied} events up to position {position}"
    )
    await host.close()
