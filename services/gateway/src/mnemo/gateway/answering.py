"""Answering a question from a subject's memory: `POST /v1/answer` and MEMANTO's `answer`.

What the answer may rest on, as of the asked times (`asOf`, valid time; `asOfKnowledge`,
what Mnemo knew then): the facts that hold and share words with the question, then the
memories search finds — with each memory whose every fact has since ended (superseded,
negated, contradicted) put after the rest, so "I live in Lisbon" never outranks the later
"I live in Madrid now" that superseded it. Synthesis's LLM adapter answers from these
passages when one is configured; otherwise (or when it cannot: down, budget, a malformed
answer) the sentence sharing most words with the question is the answer ("extractive").
"""

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from litestar import Request

from mnemo.contracts import (
    AnswerQuery,
    AnswerResult,
    FactList,
    FactsQuery,
    FactView,
    SearchHit,
    SearchQuery,
    SearchResult,
    valid_at,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# Every fact anything happened to: ended ones too, to know which memories they outdate.
_EVER = datetime(1970, 1, 1, tzinfo=UTC)

_STOP = frozenset(
    {
        "a", "an", "and", "are", "at", "be", "did", "do", "does", "for", "from", "has",
        "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
        "the", "their", "there", "this", "to", "was", "we", "were", "what", "when", "where",
        "which", "who", "why", "will", "with", "you", "your",
    }
)  # fmt: skip
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> set[str]:
    """The text's content words, a plural or third-person "s" taken off ("lives" and
    "live" are one word)."""
    found = set()
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        if word in _STOP:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return found


def extractive_answer(question: str, passages: list[str]) -> tuple[str | None, float, int]:
    """The sentence of the passages that shares most words with the question, its share of
    the question's words, and the passage it is in (-1: none shares a word)."""
    wanted = words(question)
    best, score, at = None, 0.0, -1
    for i, passage in enumerate(passages):
        for sentence in SENTENCE.split(passage):
            overlap = len(wanted & words(sentence)) / max(len(wanted), 1)
            if overlap > score:
                best, score, at = sentence.strip(), overlap, i
    return best, round(score, 3), at


@dataclass
class Answered:
    answer: str | None
    confidence: float
    method: str  # llm:<model>, extractive, or none (nothing to answer from)
    facts: list[FactView] = field(default_factory=list)
    memories: list[SearchHit] = field(default_factory=list)


def _fact_passage(fact: FactView) -> str:
    return f"{fact.statement} (a fact, holding since {fact.valid_from.date().isoformat()})."


def _memory_passage(hit: SearchHit) -> str:
    """A memory as the model reads it: when it happened and who said it, then what was
    said (a question about time is answered from the memory's date)."""
    when = hit.metadata.get("timestamp")
    day = str(when)[:10] if isinstance(when, str) and when else hit.ingested_at.date().isoformat()
    author = hit.metadata.get("author")
    said = f"{author} said: " if isinstance(author, str) and author else ""
    return f"({day}) {said}{hit.content}"


def outdated(facts: list[FactView]) -> set[str]:
    """The memories every fact of which has ended: evidence of an ended fact and of no
    holding one."""
    held = {e.memory_id for f in facts if _holds(f) for e in f.evidence}
    ended = {e.memory_id for f in facts if not _holds(f) for e in f.evidence}
    return ended - held


def _relevant_facts(
    question: str, facts: list[FactView], hits: list[SearchHit], limit: int
) -> list[FactView]:
    """The facts that hold and bear on the question: those sharing a word with it, and
    those drawn from a memory the search found for it (found by meaning: "what do I do for
    a living?" shares no word with "Works as a nurse"). Most shared words first, then by
    the rank of the best found memory they were drawn from."""
    wanted = words(question)
    rank = {hit.memory_id: i for i, hit in enumerate(hits)}
    scored = []
    for fact in facts:
        if not _holds(fact):
            continue
        shared = len(wanted & words(f"{fact.statement} {fact.value}"))
        found = min((rank[e.memory_id] for e in fact.evidence if e.memory_id in rank), default=None)
        if shared or found is not None:
            scored.append((-shared, len(hits) if found is None else found, fact))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [fact for _, _, fact in scored][:limit]


def _holds(fact: FactView) -> bool:
    return fact.status == "current" and not fact.contradicted


async def answer(
    request: Request,
    search: SearchQuery,
    *,
    subject: str,
    question: str,
    limit: int,
    as_of: datetime | None = None,
    as_of_knowledge: datetime | None = None,
) -> Answered:
    """Answer `question` from what `search` finds and the facts about `subject` that held
    at `as_of` (valid time) as known at `as_of_knowledge`, from the search's agent's
    memories only when it names one."""
    deps = deps_of(request)
    tenant = search.tenant_id
    facts_query = FactsQuery(
        tenant_id=tenant,
        user_id=subject,
        as_of=as_of,
        as_of_knowledge=as_of_knowledge,
        changed_since=_EVER,
        agent_id=search.agent_id,
    )
    found, known = await asyncio.gather(
        deps.ask(request, "retrieval", "search", search, SearchResult, tenant),
        deps.ask(request, "synthesis", "facts", facts_query, FactList, tenant),
    )
    assert isinstance(found, SearchResult) and isinstance(known, FactList)
    # A fact that starts after asOf (default now) is not yet so then.
    then = valid_at(as_of)
    facts = [f for f in known.facts if f.valid_from <= then]
    old = outdated(facts)
    hits = sorted(found.results, key=lambda h: h.memory_id in old)[:limit]
    relevant = _relevant_facts(question, facts, hits, limit)
    # The model reads each with its date and speaker; the extractive answer is a sentence
    # of the facts' statements and the memories' words as they are.
    passages = [_fact_passage(f) for f in relevant] + [_memory_passage(h) for h in hits]
    plain = [f.statement for f in relevant] + [h.content for h in hits]
    if not passages:
        return Answered(answer=None, confidence=0.0, method="none")
    text, confidence, at = extractive_answer(question, plain)
    used = [at] if at >= 0 else []
    method = "extractive"
    try:
        llm = await deps.ask(
            request,
            "synthesis",
            "answer",
            AnswerQuery(tenant_id=tenant, question=question, passages=passages),
            AnswerResult,
            tenant,
            timeout=deps.settings.answer_timeout,
        )
    except Problem as problem:
        # No LLM configured, or it could not answer: the extractive answer stands.
        log.info("answer_without_llm", status=problem.status, code=problem.code)
    else:
        assert isinstance(llm, AnswerResult)
        text, confidence, method = llm.answer, llm.confidence, llm.method
        used = [i for i in llm.used if 0 <= i < len(passages)]
    if not used:  # the answer names nothing it rests on: show all it was given
        used = list(range(len(passages)))
    n = len(relevant)
    return Answered(
        answer=text,
        confidence=confidence,
        method=method,
        facts=[relevant[i] for i in used if i < n],
        memories=[hits[i - n] for i in used if i >= n],
    )
