"""What one caller names can never become what another named: ids are told apart whatever
they hold, a surface's bookkeeping is written by that surface only, one UUID is one ElizaOS
entity whatever its case, and an Idempotency-Key fixes ids for the calling key alone."""

import uuid

import httpx
import pytest

from .test_accounts import Tenant, as_key, sign_up
from .test_errors import assert_problem
from .waiting import eventually


@pytest.fixture(scope="module")
def tenant(stack) -> Tenant:
    with stack.client() as api:
        return sign_up(api, "apart-" + uuid.uuid4().hex[:6])


def _contents(client: httpx.Client, user: str) -> list[str]:
    page = client.get("/v1/memories", params={"userId": user, "limit": 50})
    assert page.status_code == 200, page.text
    return sorted(m["content"] for m in page.json()["memories"])


def test_a_user_id_holding_the_separator_takes_no_other_agents_memory(stack, tenant):
    """A memory's id derives from tenant, agent (when named), user and sourceId joined by a
    separator a user id may hold: the master key's memory of user `<agent>\\x1fbob` had the
    id of the agent's memory of user `bob` with the same sourceId, and whichever came
    second was answered 202 and dropped as a duplicate."""
    bob = "bob-" + uuid.uuid4().hex[:6]
    crafted = f"{tenant.agent_id}\x1f{bob}"
    with as_key(stack, tenant.master) as master, as_key(stack, tenant.agent_key) as agent:
        planted = master.post(
            "/v1/ingest", json={"userId": crafted, "content": "planted", "sourceId": "s5"}
        )
        assert planted.status_code == 202, planted.text
        eventually(lambda: _contents(master, crafted) == ["planted"])
        real = agent.post(
            "/v1/ingest", json={"userId": bob, "content": "bob's own words", "sourceId": "s5"}
        )
        assert real.status_code == 202, real.text
        assert real.json()["id"] != planted.json()["id"]
        eventually(lambda: _contents(agent, bob) == ["bob's own words"])
        assert agent.get(f"/v1/memories/{real.json()['id']}").status_code == 200
        assert _contents(master, crafted) == ["planted"]


def test_only_the_mem0_surface_writes_its_bookkeeping(stack, tenant):
    """The Mem0 surface shows a memory's id, user, agent, app and run from the `mem0` key
    of its metadata: sent through another surface, an agent's memory showed as another
    agent's, under another memory's id (a master deleting it by that id deleted the other
    agent's). Every other surface refuses the key, naming the field as it calls it."""
    forged = {"mem0": {"id": str(uuid.uuid4()), "agent_id": "someone-else"}}
    with as_key(stack, tenant.agent_key) as agent:
        native = agent.post("/v1/ingest", json={"userId": "u", "content": "x", "metadata": forged})
        assert_problem(native, 400, "metadata.mem0")
        batch = agent.post(
            "/v1/ingest/batch",
            json={"items": [{"userId": "u", "content": "x", "metadata": forged}]},
        )
        assert_problem(batch, 400, "items[0].metadata.mem0")
        event = agent.post(
            "/api/events",
            json={
                "anima_id": tenant.agent_id,
                "event_type": "message.in",
                "content": "x",
                "meta": forged,
            },
        )
        assert event.status_code in (400, 422), event.text
        assert "mem0" in event.text
        mem0 = agent.post(
            "/mem0/v3/memories/add/",
            json={"messages": "I like tea", "user_id": "u-mem0", "infer": False},
        )
        assert mem0.status_code == 200, mem0.text
        shown = mem0.json()["results"][0]["id"]
        assert eventually(lambda: agent.get(f"/mem0/v1/memories/{shown}/").status_code == 200)


def test_one_uuid_is_one_elizaos_agent_and_entity_whatever_its_case(stack, tenant):
    """ElizaOS compares UUIDs whatever their case: an entity written in upper case was
    missed by a forget naming it in lower case, and an agent's path in upper case made a
    second agent."""
    with as_key(stack, tenant.master) as master:
        agent = master.post("/v1/agents", json={"name": "eliza-case"}).json()["id"]
        entity = str(uuid.uuid4())
        upper_agent, upper_entity = agent.upper(), entity.upper()
        made = master.post(
            f"/api/agents/{upper_agent}/memories",
            json={"content": {"text": "said in upper case"}, "entityId": upper_entity},
        )
        assert made.status_code == 201, made.text

        def listed(agent_id: str, entity_id: str) -> list[str]:
            answer = master.get(f"/api/agents/{agent_id}/memories", params={"entityId": entity_id})
            assert answer.status_code == 200, answer.text
            return [m["content"]["text"] for m in answer.json()["data"]["memories"]]

        eventually(lambda: listed(agent, entity) == ["said in upper case"])
        assert listed(upper_agent, upper_entity) == ["said in upper case"]
        names = [a["id"] for a in master.get("/v1/agents", params={"limit": 200}).json()["agents"]]
        assert upper_agent not in names and agent in names
        gone = master.delete(f"/api/agents/{agent}/memories", params={"entityId": entity})
        assert gone.status_code == 200, gone.text
        eventually(lambda: listed(upper_agent, upper_entity) == [])


def test_an_elephantasm_event_made_by_an_idempotency_key_is_the_calling_keys(stack, tenant):
    """An event sent without a dedupe_key took one from the Idempotency-Key and the path
    alone: the anima's agent key sending its own event with the key the master key had
    used was refused 409 (the retry ids of every other write are the calling key's)."""
    key = "order-" + uuid.uuid4().hex[:6]
    answers = []
    for secret, words in ((tenant.master, "from the master key"), (tenant.agent_key, "mine")):
        with as_key(stack, secret) as client:
            body = {"anima_id": tenant.agent_id, "event_type": "message.in", "content": words}
            answers.append(client.post("/api/events", json=body, headers={"Idempotency-Key": key}))
    assert [a.status_code for a in answers] == [201, 201], answers[1].text
    assert answers[0].json()["dedupe_key"] != answers[1].json()["dedupe_key"]
