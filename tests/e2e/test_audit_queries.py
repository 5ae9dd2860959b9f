"""Audit queries: pagination in causal order, and filters by type, actor and time."""

import uuid
from datetime import UTC, datetime, timedelta

from .test_thin_path import chain
from .waiting import eventually


def audit(api, **params) -> dict:
    response = api.get("/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_filters_and_time_ranges(stack, api, user_id):
    started = datetime.now(UTC) - timedelta(seconds=1)
    correlation = "corr-" + uuid.uuid4().hex
    api.post(
        "/v1/ingest",
        json={"userId": user_id, "content": "I work at Initech"},
        headers={"x-correlation-id": correlation},
    )
    full = eventually(
        lambda: (
            (c := chain(api, correlation))
            # Every step read below: the audit takes commands, events and signals from
            # three consumers, so the command's entry may come after the last signal's.
            and {
                "http.request",
                "ingest.memory",
                "memory.recorded",
                "memory.indexed",
                "subject.synthesized",
            }
            <= {e["type"] for e in c["events"]}
            and c
        )
    )
    ids = [e["message_id"] for e in full["events"]]
    assert full["total"] == len(ids) and full["next_offset"] is None

    first = audit(api, correlation_id=correlation, limit=2)
    assert [e["message_id"] for e in first["events"]] == ids[:2]
    assert first["next_offset"] == 2
    rest = audit(api, correlation_id=correlation, limit=100, offset=first["next_offset"])
    assert [e["message_id"] for e in rest["events"]] == ids[2:]

    [recorded] = audit(api, correlation_id=correlation, type="memory.recorded")["events"]
    assert recorded["service"] == "ingest"
    # An event's place in its own stream, never in the log of every tenant (which would
    # tell how many other tenants' events came between two of this one's).
    assert recorded["data"]["stream_version"] == 0 and "global_position" not in recorded["data"]

    # The stack is shared: other tests' entries by the same key may fill a page, so every
    # page is read (bounded by the total).
    actor, offset, types = "key:dev", 0, set()
    while offset is not None:
        mine = audit(api, actor=actor, since=started.isoformat(), limit=1000, offset=offset)
        types |= {e["type"] for e in mine["events"] if e["correlation_id"] == correlation}
        offset = mine["next_offset"]
    assert {"http.request", "ingest.memory", "memory.recorded"} <= types
    before = audit(api, correlation_id=correlation, until=started.isoformat())
    assert before["events"] == [] and before["total"] == 0
