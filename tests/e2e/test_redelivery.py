"""Redelivery changes nothing: every read model is written idempotently.

A consumer whose ack is lost (killed after its commit, before the ack) gets the message
again. Here the worst case: a service's durable consumers are deleted while it is stopped,
so that it is handed again every message its streams hold (commands, events, signals). The
memories, facts (with their evidence, validation and contradictions), entities, search
hits, profile and audit chains are then what they were: nothing recorded, indexed,
synthesised or audited twice, nothing lost.

On a stack of this module's own (it overrides the session's `stack`): handed again, the
session's streams would be every earlier test's messages, their forgets' compactions
included, minutes of work that would also run under the tests after this one.
"""

import asyncio
import collections
import uuid

import nats
import pytest

from .conftest import own_stack
from .waiting import eventually

stack = own_stack("redeliver")  # see the module's docstring


async def _consumers(url: str, root: str) -> list[tuple[str, str, int, int, int]]:
    """(stream, consumer, waiting, unacknowledged, delivered) of every consumer of the bus
    root."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        found = []
        for stream in await js.streams_info():
            if stream.config.name.upper().startswith(root.upper()):
                for info in await js.consumers_info(stream.config.name):
                    delivered = info.delivered.consumer_seq if info.delivered else 0
                    found.append(
                        (
                            stream.config.name,
                            info.name,
                            info.num_pending,
                            info.num_ack_pending,
                            delivered or 0,
                        )
                    )
        return found
    finally:
        await nc.close()


async def _delete(url: str, names: list[tuple[str, str]]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for stream, consumer in names:
            await js.delete_consumer(stream, consumer)
    finally:
        await nc.close()


def _settled(stack, expected: list[tuple[str, str]] = ()) -> bool:
    """Every consumer has handled what its stream holds (and those `expected` are there)."""
    found = asyncio.run(_consumers(stack.env["MNEMO_NATS_URL"], stack.env["MNEMO_BUS_ROOT"]))
    if not set(expected) <= {(stream, name) for stream, name, *_ in found}:
        return False
    return all(waiting == 0 and unacked == 0 for _, _, waiting, unacked, _ in found)


def _steady(stack, api, users, correlations, expected=()) -> dict:
    """What the API shows once every consumer is idle and two looks in a row agree (a
    relay's publication or a synthesis pass may still be on its way between them)."""
    last: list[dict] = []

    def look() -> dict | None:
        if not _settled(stack, expected):
            return None
        seen = _state(api, users, correlations)
        agreed = bool(last) and last[-1] == seen
        last.append(seen)
        return seen if agreed else None

    return eventually(look, timeout=240, every=1.0)


def _state(api, users: list[str], correlations: list[str]) -> dict:
    seen: dict = {}
    for user in users:
        page = api.get("/v1/memories", params={"userId": user, "limit": 100}).json()
        seen["memories", user] = (page["total"], sorted(m["id"] for m in page["memories"]))
        facts = api.get("/v1/facts", params={"userId": user}).json()["facts"]
        seen["facts", user] = sorted(
            (f["id"], f["status"], len(f["evidence"]), f["validated"], sorted(f["contradictedBy"]))
            for f in facts
        )
        ever = {"userId": user, "changedSince": "2000-01-01T00:00:00Z"}
        seen["every fact", user] = sorted(
            f["id"] for f in api.get("/v1/facts", params=ever).json()["facts"]
        )
        seen["entities", user] = api.get("/v1/entities", params={"userId": user}).json()
        hits = api.get("/v1/search", params={"userId": user, "q": "playing ball", "limit": 20})
        seen["search", user] = sorted(h["id"] for h in hits.json()["results"])
        context = api.get("/v1/context", params={"userId": user}).json()
        seen["context", user] = (sorted(context["static"]), sorted(context["dynamic"]))
    for correlation in correlations:
        chain = api.get("/v1/audit/events", params={"correlation_id": correlation, "limit": 500})
        counted = collections.Counter(e["message_id"] for e in chain.json()["events"])
        seen["audit", correlation] = sorted(counted.items())
    return seen


@pytest.mark.parametrize("service", ["ingest", "synthesis", "retrieval", "audit"])
def test_a_service_handed_everything_again_changes_nothing(stack, api, service):
    tag = uuid.uuid4().hex[:6]
    users = [f"again-{service}-{tag}-{n}" for n in range(2)]
    correlations = [
        f"again-{tag}-{step}" for step in ("a", "b", "validate", "contradict", "delete")
    ]
    for batch in range(2):
        items = [
            {
                "userId": users[i % 2],
                "content": f"I love playing zq{batch}x{i}{tag}ball. I work at Firm{batch}{i}{tag}.",
            }
            for i in range(6)
        ]
        sent = api.post(
            "/v1/ingest/batch",
            json={"items": items},
            headers={"x-correlation-id": correlations[batch]},
        )
        assert sent.status_code == 202
    facts = eventually(
        lambda: (
            len(f := api.get("/v1/facts", params={"userId": users[0]}).json()["facts"]) >= 4 and f
        ),
        timeout=120,
    )
    changes = (
        (f"/v1/facts/{facts[0]['id']}/validate", None),
        (f"/v1/facts/{facts[1]['id']}/contradict", {"content": "Works at Nowhere"}),
    )
    for (path, body), correlation in zip(changes, correlations[2:4], strict=True):
        changed = api.post(path, json=body, headers={"x-correlation-id": correlation})
        assert changed.status_code == 200, changed.text
    listed = eventually(lambda: len(m := memories_of(api, users[1])) == 6 and m, timeout=120)
    deleted = api.delete(
        f"/v1/memories/{listed[0]['id']}", headers={"x-correlation-id": correlations[4]}
    )
    assert deleted.status_code == 200
    before = _steady(stack, api, users, correlations)
    assert before["memories", users[0]][0] == 6 and before["memories", users[1]][0] == 5

    stack.stop(service)
    found = asyncio.run(_consumers(stack.env["MNEMO_NATS_URL"], stack.env["MNEMO_BUS_ROOT"]))
    own = [(stream, name) for stream, name, *_ in found if name.startswith(service + "-")]
    assert own, found
    asyncio.run(_delete(stack.env["MNEMO_NATS_URL"], own))
    stack.start(service)
    stack.wait_healthy()
    after = _steady(stack, api, users, correlations, own)
    # Handed everything again: at least the twelve items this test sent, or their effects.
    found = asyncio.run(_consumers(stack.env["MNEMO_NATS_URL"], stack.env["MNEMO_BUS_ROOT"]))
    assert sum(n for stream, name, _, _, n in found if (stream, name) in own) >= 12, found
    assert {k: after[k] for k in before if after[k] != before[k]} == {}


def memories_of(api, user: str) -> list[dict]:
    return api.get("/v1/memories", params={"userId": user, "limit": 100}).json()["memories"]
