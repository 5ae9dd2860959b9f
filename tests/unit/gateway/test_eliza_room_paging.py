"""ElizaOS pages a room's memories back in time: `before` is the createdAt (ms) of the
oldest it shows. Each memory must come exactly once, however its time falls within its
millisecond: one that happened at …100.9 ms was shown as …101 (rounded), and
`before=…101` gave it back again (with `limit=1`, the same page for ever); a createdAt sent
far from 1970 came back a millisecond off (a float's division)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from litestar import Litestar
from litestar.testing import TestClient

from mnemo.contracts import MemoryPage, MemoryView
from mnemo.gateway.compat import eliza_memories
from mnemo.gateway.compat.eliza import eliza_router
from mnemo.gateway.compat.eliza_mapping import _iso, memory_json

AGENT = "5d3c1a9e-2b7f-4e61-8c0a-9f4e2d1b6a37"
ROOM = "0b9e4a52-6f0d-4c8e-9a53-3f1f2b7c1d10"
START = datetime(2026, 12, 7, 18, 0, 0, 100_000, tzinfo=UTC)


def _memory(n: int, at: datetime) -> MemoryView:
    return MemoryView(
        memory_id=f"m{n}",
        user_id="u",
        content=f"memory {n}",
        source_type="api_text",
        source_id=None,
        session_id=ROOM,
        agent_id=AGENT,
        metadata={},
        occurred_at=at,
        recorded_at=at,
    )


def _pages(monkeypatch, stored: list[MemoryView]) -> list[str]:
    """Every memory id a client paging one by one with `before` is shown, in order."""

    async def agent_of(_request, agent_id, _action):
        return SimpleNamespace(tenant_id="acme"), agent_id

    async def ask(_request, _service, _name, query, *_rest):
        # As retrieval's SQL: occurred_at < occurred_before, newest first.
        bound = query.occurred_before
        found = [m for m in stored if bound is None or m.occurred_at < bound]
        found.sort(key=lambda m: m.occurred_at, reverse=True)
        return MemoryPage(memories=found[: query.limit], total=len(found), limit=1, offset=0)

    monkeypatch.setattr(eliza_memories, "agent_of", agent_of)
    monkeypatch.setattr(eliza_memories, "deps_of", lambda _request: SimpleNamespace(ask=ask))
    shown: list[str] = []
    before = 2**53
    path = f"/api/memory/agents/{AGENT}/rooms/{ROOM}/memories"
    with TestClient(Litestar(route_handlers=[eliza_router])) as client:
        for _ in range(2 * len(stored) + 2):
            answer = client.get(path, params={"limit": 1, "before": before})
            assert answer.status_code == 200, answer.text
            page = answer.json()["data"]["memories"]
            if not page:
                break
            shown.append(page[0]["id"])
            before = page[0]["createdAt"]
    return shown


def test_each_memory_of_a_room_is_paged_once_whatever_its_microseconds(monkeypatch):
    offsets = (0, 900, 1_499, 2_600, 3_500, 4_999)  # microseconds past START (…100.000 ms)
    stored = [_memory(n, START + timedelta(microseconds=us)) for n, us in enumerate(offsets)]
    shown = _pages(monkeypatch, stored)
    assert len(shown) == len(set(shown)), shown
    # One a millisecond, newest first (a millisecond cursor cannot tell m0 from m1, which
    # share theirs, as ElizaOS's own cannot).
    assert shown[:5] == ["m5", "m4", "m3", "m2", "m1"], shown


def test_a_created_at_sent_is_shown_as_sent():
    for millis in (0, 1_700_000_000_123, 16_725_225_600_001, 253_370_764_799_999):
        at = datetime.fromisoformat(_iso(millis))
        assert memory_json(_memory(0, at))["createdAt"] == millis
