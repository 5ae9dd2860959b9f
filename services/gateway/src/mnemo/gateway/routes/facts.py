"""/v1/facts: a user's synthesized facts (current, as of a time, changed since a time), and
what a caller does to one fact: validate it, supersede it with new content, or contradict
it (both kept, flagged). Changes are request/reply to synthesis, which appends them as
events with the caller as actor, in this request's correlation (so the audit shows them)."""

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, get, post

from mnemo.contracts import ChangeFact, FactChange, FactList, FactsQuery, FactView
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.retries import retry_seed
from mnemo.gateway.routes.context import time_param
from mnemo.gateway.secrets import redacted
from mnemo.gateway.validation import about_param, as_json, decode_body, query_param

MAX_TEXT = 1000


class SupersedeRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    """`content`: the new fact's statement; `value` (default: content) its value;
    `validFrom` (default: now) when it starts holding and the old one stops."""

    content: str
    value: str | None = None
    valid_from: datetime | None = None


class ContradictRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    """`content`: a contradicting fact, kept beside this one (both flagged); `reason`: why."""

    content: str | None = None
    value: str | None = None
    reason: str | None = None
    valid_from: datetime | None = None


@get("/v1/facts")
async def list_facts(request: Request) -> Response[bytes]:
    deps = deps_of(request)
    principal = await authorize(request, "facts")
    user_id = query_param(request, "userId", required=True) or ""
    tenant = principal.tenant_id
    query = FactsQuery(
        tenant_id=tenant,
        user_id=user_id,
        as_of=time_param(request, "asOf"),
        as_of_knowledge=time_param(request, "asOfKnowledge"),
        changed_since=time_param(request, "changedSince"),
        agent_id=agent_scope(principal, query_param(request, "agentId")),
        about=about_param(request),
    )
    found = await deps.ask(request, "synthesis", "facts", query, FactList, tenant)
    assert isinstance(found, FactList)
    body = {"facts": [fact_json(f) for f in found.facts]}
    return Response(as_json(body), media_type="application/json")


@post("/v1/facts/{fact_id:str}/validate", status_code=200)
async def validate_fact(request: Request, fact_id: str) -> Response[bytes]:
    principal = await authorize(request, "facts")
    # No body needed; one that is sent must at least be JSON.
    if await request.body():
        await decode_body(request, dict)
    return await _change(request, principal, fact_id, "validate")


@post("/v1/facts/{fact_id:str}/supersede", status_code=200)
async def supersede_fact(request: Request, fact_id: str) -> Response[bytes]:
    principal = await authorize(request, "facts")
    body = await decode_body(request, SupersedeRequest)
    return await _change(
        request,
        principal,
        fact_id,
        "supersede",
        content=_text(body.content, "content"),
        value=_text(body.value, "value"),
        valid_from=_zoned(body.valid_from),
    )


@post("/v1/facts/{fact_id:str}/contradict", status_code=200)
async def contradict_fact(request: Request, fact_id: str) -> Response[bytes]:
    principal = await authorize(request, "facts")
    body = (
        await decode_body(request, ContradictRequest)
        if await request.body()
        else ContradictRequest()
    )
    return await _change(
        request,
        principal,
        fact_id,
        "contradict",
        content=_text(body.content, "content"),
        value=_text(body.value, "value"),
        reason=_text(body.reason, "reason"),
        valid_from=_zoned(body.valid_from),
    )


async def _change(
    request: Request, principal: Principal, fact_id: str, change: str, **fields: Any
) -> Response[bytes]:
    deps = deps_of(request)
    if len(fact_id) > 128:
        raise Problem(404, "NOT_FOUND", f"no fact {fact_id[:40]!r}…", field="factId")
    command = redacted(
        ChangeFact(
            tenant_id=principal.tenant_id,
            fact_id=fact_id,
            change=change,
            actor=principal.actor,
            agent_id=agent_scope(principal, None),
            retry_key=await retry_seed(request, principal),
            **fields,
        ),
        "content",
        "value",
        "reason",
    )
    done = await deps.ask(
        request, "synthesis", "change_fact", command, FactChange, principal.tenant_id
    )
    assert isinstance(done, FactChange)
    body = {
        "fact": fact_json(done.fact),
        "newFact": fact_json(done.new_fact) if done.new_fact else None,
        "eventIds": done.event_ids,
    }
    return Response(as_json(body), media_type="application/json")


def _text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise Problem(400, "INVALID_REQUEST", f"{field} must not be empty", field=field)
    if len(value) > MAX_TEXT:
        raise Problem(
            400, "INVALID_REQUEST", f"{field} is longer than {MAX_TEXT} characters", field=field
        )
    return value


def _zoned(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        raise Problem(
            400, "INVALID_REQUEST", "validFrom needs a timezone (e.g. Z)", field="validFrom"
        )
    return when


def fact_json(fact: FactView) -> dict[str, Any]:
    return {
        "id": fact.fact_id,
        "userId": fact.user_id,
        "attribute": fact.attribute,
        "value": fact.value,
        "statement": fact.statement,
        "kind": fact.kind,
        "category": fact.category,
        "confidence": fact.confidence,
        "validFrom": fact.valid_from,
        "validTo": fact.valid_to,
        "recordedAt": fact.recorded_at,
        "status": fact.status,
        "supersededBy": fact.superseded_by,
        "validated": fact.validated,
        "contradicted": fact.contradicted,
        "contradictedBy": fact.contradicted_by,
        "extractor": fact.extractor,
        "agentId": fact.agent_id,
        "about": fact.about,
        "evidence": [
            {
                "memoryId": e.memory_id,
                "span": list(e.span) if e.span else None,
                "occurredAt": e.occurred_at,
                "agentId": e.agent_id,
            }
            for e in fact.evidence
        ],
    }
