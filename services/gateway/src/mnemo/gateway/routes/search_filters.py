"""The `filters` object of a search, as the anansi-memory SDK sends it: in the body of
POST /v1/search, and JSON-encoded in the `filters` query parameter of GET /v1/context.

`filters.asOf` and `filters.asOfKnowledge` mean what `asOf` and `asOfKnowledge` mean
everywhere on this surface (`ingested_by`).
"""

import math
from datetime import datetime

import msgspec
from litestar import Request

from mnemo.contracts.limits import MAX_ID_CHARS
from mnemo.gateway.guard import Refused, unreadable_json
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import SOURCE_TYPES
from mnemo.gateway.validation import DECIMAL, check_values, field_of


class SearchFilters(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    source_type: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    as_of: datetime | None = None
    as_of_knowledge: datetime | None = None


def ingested_by(as_of: datetime | None, as_of_knowledge: datetime | None) -> datetime | None:
    """The bound on the memories (chunks) a search under `asOf` / `asOfKnowledge` returns:
    those ingested on or before it (seed 001, for search and context alike: "only chunks
    ingested on or before this timestamp"). Both name a moment Mnemo could only have known
    what it had ingested by then, so the earlier one holds. Facts and entities are where the
    two differ: `asOf` is valid time there (what held then, as the anansi-memory SDK says),
    `asOfKnowledge` what Mnemo knew then.
    """
    known = [when for when in (as_of, as_of_knowledge) if when is not None]
    return min(known) if known else None


def check_filters(filters: SearchFilters, prefix: str = "filters") -> SearchFilters:
    """A filter instant needs a zone (no reading of a local time would be right); a
    sourceType is one of the kinds, an id 1-256 characters, as where they are stored (a
    filter no memory could match is the caller's mistake, said, not an empty answer)."""
    for name, when in (("asOf", filters.as_of), ("asOfKnowledge", filters.as_of_knowledge)):
        if when is not None and when.tzinfo is None:
            field = f"{prefix}.{name}"
            raise Problem(400, "INVALID_REQUEST", f"{field} needs a timezone", field=field)
    if filters.source_type is not None and filters.source_type not in SOURCE_TYPES:
        field = f"{prefix}.sourceType"
        kinds = ", ".join(sorted(SOURCE_TYPES))
        raise Problem(400, "INVALID_REQUEST", f"{field} must be one of: {kinds}", field=field)
    check_id_text(filters.session_id, f"{prefix}.sessionId")
    check_id_text(filters.agent_id, f"{prefix}.agentId")
    return filters


def check_id_text(value: str | None, field: str) -> None:
    """An id sent in a body: 1-256 characters, as one sent in a query parameter."""
    if value is not None and not 1 <= len(value) <= MAX_ID_CHARS:
        raise Problem(
            400, "INVALID_REQUEST", f"{field} must be 1-{MAX_ID_CHARS} characters", field=field
        )


def check_fraction(value: float | None, field: str) -> None:
    """A number from 0 to 1 (a threshold, a weight), when sent."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise Problem(400, "INVALID_REQUEST", f"{field} must be between 0 and 1", field=field)


def filters_param(request: Request, name: str = "filters") -> SearchFilters:
    """The query parameter `name` as a JSON-encoded filters object (none: no filter)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return SearchFilters()
    try:
        filters = msgspec.json.decode(raw.encode(), type=SearchFilters)
    except msgspec.ValidationError as exc:
        at = field_of(str(exc))
        field = f"{name}.{at}" if at else name
        raise Problem(400, "INVALID_REQUEST", f"{name}: {exc}", field=field) from None
    except msgspec.DecodeError as exc:
        try:  # JSON msgspec cannot read (a lone surrogate, 1e400): named where it is
            unreadable_json(raw, str(exc))
        except Refused as refused:
            field = f"{name}.{refused.field}" if refused.field != "body" else name
            detail = refused.detail.replace(refused.field, field, 1)
            raise Problem(400, refused.code, detail, field=field) from None
        raise Problem(
            400, "INVALID_REQUEST", f"{name!r} must be a JSON object", field=name
        ) from None
    check_values(filters, name)
    return check_filters(filters, name)


def fraction_param(request: Request, name: str) -> float | None:
    """A number from 0 to 1 (a threshold, a weight), or None when not sent. Sent empty, it
    is a 400, as every number parameter is (not "not sent"); ASCII decimal text only."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not DECIMAL.fullmatch(raw):
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be a number", field=name)
    value = float(raw)
    check_fraction(value, name)
    return value
