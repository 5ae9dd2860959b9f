"""GET /v1/agents/{agentId}/packs/latest: a pack within its budget, stored and found again."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import nats

from mnemo.contracts import Topology

from .test_errors import assert_problem
from .test_redaction import fake_aws_key, fake_github_token
from .waiting import eventually


def test_a_pack_holds_knowledge_and_memories_within_its_budget(api, user_id):
    agent = "packer-" + uuid.uuid4().hex[:6]
    lines = [
        "I work at Initech.",
        "My manager is Bill Lumbergh.",
        "I love long bike rides along the river on Sundays.",
    ] + [f"Note {i}: the quarterly report draft number {i} needs review." for i in range(30)]
    for i, line in enumerate(lines):
        sent = api.post(
            "/v1/ingest",
            json={
                "userId": user_id,
                "agentId": agent,
                "content": line,
                "sessionId": "old" if i < 20 else "now",
                "metadata": {"timestamp": f"2024-05-{1 + i // 2:02d}T10:{i % 60:02d}:00Z"},
            },
        )
        assert sent.status_code == 202
    path = f"/v1/agents/{agent}/packs/latest"

    def ready():
        r = api.get(path, params={"userId": user_id})
        body = r.json() if r.status_code == 200 else {}
        # All three facts the first lines state: a pack compiled before the last of them
        # landed is rightly another pack, and "found again" below would race with it.
        return body.get("knowledgeCount") == 3 and body["sessionMemoryCount"] == 13 and body

    pack = eventually(ready)
    assert pack["tokenCount"] <= pack["maxTokens"] == 4000
    assert any("Initech" in k["content"] for k in pack["content"]["knowledge"])
    assert "Initech" in pack["content"]["context"]
    assert pack["content"]["temporal_context"]["formatted"].startswith("Last interaction:")
    assert api.get(path, params={"userId": user_id}).json()["id"] == pack["id"]

    small = api.get(path, params={"userId": user_id, "maxTokens": 150, "query": "bike rides"})
    small = small.json()
    assert small["tokenCount"] <= 150
    assert small["sessionMemoryCount"] + small["longTermMemoryCount"] < 33
    assert small["id"] != pack["id"]

    assert_problem(api.get(path, params={"userId": user_id, "preset": "chatty"}), 400, "preset")
    assert_problem(api.get(path, params={"userId": user_id, "maxTokens": 5}), 400, "maxTokens")
    assert_problem(api.get(f"/v1/agents/nobody-{agent}/packs/latest"), 404)


def test_a_job_change_through_the_api_ends_in_the_pack_and_the_facts(api, user_id):
    """Issue #5's scenario end to end: the new employer current, the old one superseded
    with both dates, the manager a person entity, and a pack within its budget."""
    agent = "career-" + uuid.uuid4().hex[:6]
    token = uuid.uuid4().hex[:6]
    old, new, manager = f"Initrode{token}", f"Globex{token}", f"Sarah{token}"
    for content, when in (
        (f"I work at {old}.", "2026-03-01T09:00:00Z"),
        (f"I just joined {new}! My manager is {manager}.", "2026-06-01T09:00:00Z"),
    ):
        body = {
            "userId": user_id,
            "agentId": agent,
            "content": content,
            "metadata": {"timestamp": when},
        }
        assert api.post("/v1/ingest", json=body).status_code == 202

    def facts() -> dict[str, dict]:
        found = api.get("/v1/facts", params={"userId": user_id, "changedSince": "2000-01-01"})
        return {f["value"]: f for f in found.json()["facts"]}

    both = eventually(lambda: (f := facts()) and {old, new} <= set(f) and f)
    assert both[old]["status"] == "superseded" and both[old]["supersededBy"] == both[new]["id"]
    assert both[old]["validFrom"].startswith("2026-03-01")
    assert both[old]["validTo"].startswith("2026-06-01")
    assert both[new]["status"] == "current" and both[new]["kind"] == "static"
    people = api.get("/v1/entities", params={"userId": user_id, "type": "person"}).json()
    assert [(e["name"], e["relationship"]) for e in people["entities"]] == [(manager, "manager")]

    # Retrieval lists the memories on its own time: the pack is 404 until it has some.
    pack = eventually(
        lambda: (
            (
                r := api.get(
                    f"/v1/agents/{agent}/packs/latest", params={"userId": user_id, "maxTokens": 300}
                )
            ).status_code
            == 200
            and r.json()["sessionMemoryCount"] == 2
            and r.json()
        )
    )
    knowledge = [k["content"] for k in pack["content"]["knowledge"]]
    assert f"Works at {new}" in knowledge and f"Works at {old}" not in knowledge
    assert pack["tokenCount"] <= 300
    assert {
        "identity",
        "session_memories",
        "knowledge",
        "long_term_memories",
        "temporal_context",
        "context",
    } <= set(pack["content"])


def test_packs_compiled_at_once_for_one_agent_all_answer(stack, api, user_id):
    """Each pack is an event of the agent's pack stream: several compiled at the same moment
    (different queries, so different packs) all go in, none is a 502."""
    agent = "rush-" + uuid.uuid4().hex[:6]
    sent = api.post(
        "/v1/ingest", json={"userId": user_id, "agentId": agent, "content": "I drink green tea."}
    )
    assert sent.status_code == 202
    path = f"/v1/agents/{agent}/packs/latest"
    eventually(lambda: api.get(path, params={"userId": user_id}).status_code == 200)

    def compile_one(i: int) -> int:
        with stack.client() as client:
            return client.get(path, params={"userId": user_id, "query": f"tea {i}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(compile_one, range(16))) == [200] * 16


def test_a_memory_recorded_again_under_its_id_makes_another_pack(api, user_id):
    """A pack is what it says: the same sourceId sent again once its memory was deleted
    records new words under the same id, and the pack shows them, never the deleted ones."""
    agent = "repack-" + uuid.uuid4().hex[:6]
    item = {"userId": user_id, "agentId": agent, "sourceId": "p1", "sessionId": "s1"}
    first = api.post("/v1/ingest", json={**item, "content": "The locker code reads GOLDFINCH77."})
    memory_id = first.json()["id"]
    path = f"/v1/agents/{agent}/packs/latest"
    old = eventually(
        lambda: (r := api.get(path, params={"userId": user_id})).status_code == 200 and r.json()
    )
    assert "GOLDFINCH77" in old["content"]["context"]
    assert api.delete(f"/v1/memories/{memory_id}").status_code == 200
    api.post("/v1/ingest", json={**item, "content": "Nothing much to say here."})
    eventually(
        lambda: (
            [
                m["content"]
                for m in api.get("/v1/memories", params={"userId": user_id}).json()["memories"]
            ]
            == ["Nothing much to say here."]
        )
    )
    new = api.get(path, params={"userId": user_id}).json()
    assert new["id"] != old["id"]
    assert "GOLDFINCH77" not in str(new["content"]) and "Nothing much" in new["content"]["context"]


def test_a_secret_in_a_packs_query_is_kept_nowhere(stack, api, user_id):
    """A pack keeps the query it was compiled for (`pack.compiled`, which the bus holds in
    the clear for the stream's age): a key pasted into the query is redacted first, on
    every surface that asks for a pack (native, Elephantasm, MEMANTO's summarize)."""
    agent = "secretive-" + uuid.uuid4().hex[:6]
    github, aws = fake_github_token(), fake_aws_key()
    sent = {"userId": user_id, "agentId": agent, "content": "I drink green tea every morning."}
    assert api.post("/v1/ingest", json=sent).status_code == 202
    path = f"/v1/agents/{agent}/packs/latest"
    eventually(lambda: api.get(path, params={"userId": user_id}).status_code == 200)
    correlation = "corr-" + uuid.uuid4().hex
    asked = api.get(
        path,
        params={"userId": user_id, "query": f"tea {github} {aws}"},
        headers={"x-correlation-id": correlation},
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["query"] == "tea [REDACTED:github_token] [REDACTED:aws_access_key]"

    event = eventually(lambda: pack_event(stack, correlation), timeout=60)
    assert b"tea [REDACTED:github_token]" in event
    assert github.encode() not in event and aws.encode() not in event


def pack_event(stack, correlation: str) -> bytes | None:
    """The last `pack.compiled` the relay published for the stack's tenant, if the request
    with this correlation id caused it."""

    async def read() -> bytes | None:
        nc = await nats.connect(stack.env["MNEMO_NATS_URL"])
        try:
            topology = Topology(root=stack.env["MNEMO_BUS_ROOT"])
            subject = topology.evt_subject(stack.env["MNEMO_DEV_TENANT"], "pack.compiled")
            msg = await nc.jetstream().get_last_msg(topology.evt_stream, subject)
            return msg.data if correlation.encode() in (msg.data or b"") else None
        finally:
            await nc.close()

    return asyncio.run(read())
