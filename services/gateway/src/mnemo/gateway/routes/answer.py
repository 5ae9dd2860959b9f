"""POST /v1/answer: a question answered from a user's memories and facts (as of the asked
times), with what the answer rests on. mnemo.gateway.answering does the work."""

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, post

from mnemo.contracts import SearchQuery
from mnemo.contracts.limits import MAX_ID_CHARS, MAX_QUERY_CHARS, instant_problem
from mnemo.gateway import answering
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.facts import fact_json
from mnemo.gateway.routes.search import hit_json
from mnemo.gateway.routes.search_filters import ingested_by
from mnemo.gateway.validation import as_json, decode_body
from mnemo.redaction import redact

MAX_ANSWER_SOURCES = 20


class AnswerRequest(msgspec.Struct, rename="camel"):
    user_id: str
    question: str
    # How many memories (and, apart, facts) the answer may rest on.
    limit: int = 5
    agent_id: str | None = None
    as_of: datetime | None = None
    as_of_knowledge: datetime | None = None


def _invalid(message: str, field: str) -> Problem:
    return Problem(400, "INVALID_REQUEST", message, field=field)


@post("/v1/answer", status_code=200)
async def answer(request: Request) -> Response[bytes]:
    principal = await authorize(request, "answer")
    body = await decode_body(request, AnswerRequest)
    if not body.user_id or len(body.user_id) > MAX_ID_CHARS:
        raise _invalid(f"userId must be 1-{MAX_ID_CHARS} characters", "userId")
    if not body.question.strip():
        raise _invalid("question must not be empty", "question")
    if len(body.question) > MAX_QUERY_CHARS:
        raise _invalid(f"question is longer than {MAX_QUERY_CHARS} characters", "question")
    if not 1 <= body.limit <= MAX_ANSWER_SOURCES:
        raise _invalid(f"limit must be between 1 and {MAX_ANSWER_SOURCES}", "limit")
    for name, when in (("asOf", body.as_of), ("asOfKnowledge", body.as_of_knowledge)):
        if when is None:
            continue
        if when.tzinfo is None:
            raise _invalid(f"{name} needs a timezone", name)
        if problem := instant_problem(when):
            raise _invalid(f"{name} {problem}", name)
    # The question as redacted is what is searched, answered (a model's answer may quote
    # it) and echoed: an answer that echoes input echoes the redacted form.
    question = redact(body.question).text
    search = SearchQuery(
        tenant_id=principal.tenant_id,
        user_id=body.user_id,
        query=question,
        # More than are kept: memories outdated by later facts go last, then the rest.
        limit=min(body.limit * 3, 50),
        agent_id=agent_scope(principal, body.agent_id, "agentId"),
        recorded_before=ingested_by(body.as_of, body.as_of_knowledge),
    )
    found = await answering.answer(
        request,
        search,
        subject=body.user_id,
        question=question,
        limit=body.limit,
        as_of=body.as_of,
        as_of_knowledge=body.as_of_knowledge,
    )
    reply: dict[str, Any] = {
        "question": question,
        "answer": found.answer,
        "confidence": found.confidence,
        "method": found.method,
        "facts": [fact_json(f) for f in found.facts],
        "memories": [hit_json(h) for h in found.memories],
        "asOf": body.as_of,
        "asOfKnowledge": body.as_of_knowledge,
    }
    return Response(as_json(reply), media_type="application/json")
