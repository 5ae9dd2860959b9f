"""The `filters` object of a search, as the anansi-memory SDK sends it: in the body of
POST /v1/search, and JSON-encoded in the `filters` query parameter of GET /v1/context.

`filters.asOf` and `filters.asOfKnowledge` mean what `asOf` and `asOfKnowledge` mean
everywhere on this surface (`ingested_by`).
"""

import math
from datetime import datetime

import msgspec
from litestar import Request

from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import check_values, field_of


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
    """A filter instant needs a zone (no reading of a local time would be right)."""
    for name, when in (("asOf", filters.as_of), ("asOfKnowledge", filters.as_of_knowledge)):
        if when is not None and when.tzinfo is None:
            field = f"{prefix}.{name}"
            raise Problem(400, "INVALID_REQUEST", f"{field} needs a timezone", field=field)
    return filters


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
    except msgspec.DecodeError:
        raise Problem(
            400, "INVALID_REQUEST", f"{name!r} must be a JSON object", field=name
        ) from None
    check_values(filters, name)
    return check_filters(filters, name)


def fraction_param(request: Request, name: str) -> float | None:
    """A number from 0 to 1 (a threshold, a weight), or None when not sent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be a number", field=name) from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be between 0 and 1", field=name)
    return value
