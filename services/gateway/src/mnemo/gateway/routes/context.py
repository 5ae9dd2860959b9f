"""GET /v1/context: the synthesized profile (static, dynamic) and, with q, relevant chunks."""

import asyncio
import calendar
import re
from datetime import UTC, date, datetime, time

from litestar import Request, Response, get

from mnemo.contracts import Profile, ProfileQuery, SearchQuery, SearchResult
from mnemo.contracts.limits import MAX_QUERY_CHARS, instant_problem
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.search_filters import filters_param, fraction_param, ingested_by
from mnemo.gateway.validation import about_param, as_json, int_param, query_param

# What `relevant` searches: every memory of the userId, or (with sessionId) one session's.
SCOPES = ("user", "session")
# ASCII digits, to the end (`\d` takes any script's digits, `$` a last newline).
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def time_param(request: Request, name: str) -> datetime | None:
    """An instant: ISO 8601 with a zone, or a whole day ("2024-05-31") or month ("2024-05"),
    which mean the end of that day or month in UTC (so the day itself is included); always
    within the range every store can hold (mnemo.contracts.limits)."""
    if request.query_params.get(name) == "":
        raise Problem(
            400, "INVALID_REQUEST", f"{name!r} is empty: send a time or leave it out", field=name
        )
    raw = query_param(request, name, max_len=64)
    if raw is None:
        return None
    when = _instant(raw, name)
    if problem := instant_problem(when):
        raise Problem(400, "INVALID_REQUEST", f"{name!r} {problem}", field=name)
    return when


def _instant(raw: str, name: str) -> datetime:
    if not raw.isascii() or raw != raw.strip():
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be ISO 8601", field=name)
    # `t` and `z` as ISO 8601 (and a JSON body's time) allow them.
    raw = raw.upper()
    try:
        if month := _MONTH.match(raw):
            year, number = int(month.group(1)), int(month.group(2))
            if not 1 <= number <= 12:
                raise ValueError(raw)
            last_day = calendar.monthrange(year, number)[1]
            return datetime.combine(date(year, number, last_day), time.max, tzinfo=UTC)
        if _DAY.match(raw):
            # time.max, not the next midnight less a microsecond: 9999-12-31 has no next day.
            return datetime.combine(date.fromisoformat(raw), time.max, tzinfo=UTC)
    except (ValueError, OverflowError):
        raise Problem(400, "INVALID_REQUEST", f"{name!r} is not a real date", field=name) from None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be ISO 8601", field=name) from None


@get("/v1/context")
async def context(request: Request) -> Response[bytes]:
    """The profile, and with `q` the relevant chunks: narrowed as the anansi-memory SDK
    asks (`sessionId`, `scope`, `threshold`, `alpha`, `filters` as a JSON object); the
    profile is the subject's whatever the session."""
    deps = deps_of(request)
    principal = await authorize(request, "context")
    user_id = query_param(request, "userId", required=True) or ""
    q = query_param(request, "q", max_len=MAX_QUERY_CHARS)
    limit = int_param(request, "limit", default=5, low=1, high=20)
    filters = filters_param(request)
    as_of = time_param(request, "asOf") or filters.as_of
    as_of_knowledge = time_param(request, "asOfKnowledge") or filters.as_of_knowledge
    tenant = principal.tenant_id
    agent_id = agent_scope(principal, query_param(request, "agentId") or filters.agent_id)
    session_id = query_param(request, "sessionId") or filters.session_id
    scope = query_param(request, "scope", choices=SCOPES) or "user"
    if scope == "session" and session_id is None:
        raise Problem(
            400, "INVALID_REQUEST", "scope 'session' needs a sessionId", field="sessionId"
        )
    threshold = fraction_param(request, "threshold")
    alpha = fraction_param(request, "alpha")
    profile_query = ProfileQuery(
        tenant_id=tenant,
        user_id=user_id,
        as_of=as_of,
        as_of_knowledge=as_of_knowledge,
        agent_id=agent_id,
        about=about_param(request),
    )
    asks = [deps.ask(request, "synthesis", "profile", profile_query, Profile, tenant)]
    if q:
        search = SearchQuery(
            tenant_id=tenant,
            user_id=user_id,
            query=q,
            limit=limit,
            agent_id=agent_id,
            source_type=filters.source_type,
            session_id=session_id,
            threshold=threshold,
            alpha=0.5 if alpha is None else alpha,
            recorded_before=ingested_by(as_of, as_of_knowledge),
        )
        asks.append(deps.ask(request, "retrieval", "search", search, SearchResult, tenant))
    answers = await asyncio.gather(*asks)
    profile = answers[0]
    assert isinstance(profile, Profile)
    relevant = []
    if q:
        found = answers[1]
        assert isinstance(found, SearchResult)
        relevant = [
            {
                "content": hit.content,
                "similarity": hit.similarity,
                "metadata": {**hit.metadata, "id": hit.memory_id, "ingestedAt": hit.ingested_at},
            }
            for hit in found.results
        ]
    body = {"static": profile.static, "dynamic": profile.dynamic, "relevant": relevant}
    return Response(as_json(body), media_type="application/json")
