"""Tenants, agents and scoped keys over running services: sign-up, key management,
revocation seen by two gateways, the cross-tenant and cross-agent isolation matrix, and
the audit chain of a request made with an agent key."""

import subprocess
import sys
import uuid
from dataclasses import dataclass

import httpx
import pytest

from .test_errors import assert_problem
from .waiting import eventually


@dataclass
class Tenant:
    tenant_id: str
    master: str
    agent_id: str
    agent_key: str
    agent_key_id: str


def sign_up(api: httpx.Client, name: str) -> Tenant:
    response = api.post(
        "/v1/agent/sign-up",
        json={"human_email": f"{name}@example.com", "username": name},
        headers={"Authorization": ""},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["apiKey"].startswith("ak_") and body["masterKey"]["key"].startswith("mk_")
    assert body["agentKey"]["key"] == body["apiKey"]
    return Tenant(
        tenant_id=body["tenant"]["id"],
        master=body["masterKey"]["key"],
        agent_id=body["agent"]["id"],
        agent_key=body["apiKey"],
        agent_key_id=body["agentKey"]["id"],
    )


def as_key(stack, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=15
    )


@pytest.fixture(scope="module")
def acme(stack):
    with stack.client() as api:
        return sign_up(api, "acme-" + uuid.uuid4().hex[:6])


def test_sign_up_gives_working_keys_and_the_agent_key_writes_as_its_agent(stack, acme):
    user = "u-" + uuid.uuid4().hex[:8]
    with as_key(stack, acme.agent_key) as agent:
        sent = agent.post("/v1/ingest", json={"userId": user, "content": "I keep bees"})
        assert sent.status_code == 202, sent.text
        page = eventually(
            lambda: (r := agent.get("/v1/memories", params={"userId": user}).json())["total"] and r
        )
    assert page["memories"][0]["agentId"] == acme.agent_id
    with as_key(stack, acme.master) as admin:
        listed = admin.get("/v1/agents").json()
        assert [a["id"] for a in listed["agents"]] == [acme.agent_id]
        # The development tenant cannot see any of it.
    with stack.client() as other:
        assert other.get("/v1/memories", params={"userId": user}).json()["total"] == 0


def test_keys_are_listed_without_secrets_and_record_their_last_use(stack, acme):
    with as_key(stack, acme.master) as admin:
        made = admin.post("/v1/keys", json={"kind": "master", "label": "ci"})
        assert made.status_code == 201, made.text
        key = made.json()
        assert key["key"].startswith("mk_") and key["prefix"] == key["key"][:12]
        with as_key(stack, key["key"]) as fresh:
            assert fresh.get("/v1/keys").status_code == 200

        def listed() -> dict | None:
            keys = {k["id"]: k for k in admin.get("/v1/keys").json()["keys"]}
            entry = keys.get(key["id"])
            return entry if entry and entry["lastUsedAt"] else None

        entry = eventually(listed)
    assert "key" not in entry
    assert entry["label"] == "ci" and entry["kind"] == "master" and entry["revokedAt"] is None


def test_a_revoked_key_stops_working_on_every_gateway(stack, acme):
    with as_key(stack, acme.master) as admin:
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": acme.agent_id}).json()
    with stack.extra_gateway(stack.api_key) as second:
        headers = {"Authorization": f"Bearer {key['key']}"}
        assert second.get("/v1/agents", headers=headers).status_code == 200
        with as_key(stack, key["key"]) as first:
            assert first.get("/v1/agents").status_code == 200
            with as_key(stack, acme.master) as admin:
                revoked = admin.delete(f"/v1/keys/{key['id']}")
            assert revoked.status_code == 200 and revoked.json()["revokedAt"]
            eventually(lambda: first.get("/v1/agents").status_code == 401, timeout=5)
            eventually(
                lambda: second.get("/v1/agents", headers=headers).status_code == 401, timeout=5
            )
            assert_problem(first.get("/v1/agents"), 401)


def test_agents_crud_and_deleting_an_agent_revokes_its_keys(stack, acme):
    agent_id = "helper-" + uuid.uuid4().hex[:6]
    with as_key(stack, acme.master) as admin:
        made = admin.post(
            "/v1/agents", json={"id": agent_id, "name": "Helper", "metadata": {"tier": 1}}
        )
        assert made.status_code == 201, made.text
        assert made.json()["metadata"] == {"tier": 1}
        again = admin.post("/v1/agents", json={"id": agent_id, "name": "Helper"})
        assert_problem(again, 409)
        renamed = admin.patch(f"/v1/agents/{agent_id}", json={"name": "Helper Two"})
        assert renamed.json()["name"] == "Helper Two"
        assert renamed.json()["metadata"] == {"tier": 1}
        assert admin.get(f"/v1/agents/{agent_id}").json()["name"] == "Helper Two"
        page = admin.get("/v1/agents", params={"limit": 1, "offset": 1}).json()
        assert page["total"] >= 2 and len(page["agents"]) == 1
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()
        with as_key(stack, key["key"]) as agent:
            assert agent.get(f"/v1/agents/{agent_id}").status_code == 200
            assert_problem(agent.post("/v1/agents", json={"name": "x"}), 403)
            assert_problem(agent.get("/v1/keys"), 403)
            assert admin.delete(f"/v1/agents/{agent_id}").status_code == 200
            eventually(lambda: agent.get("/v1/agents").status_code == 401, timeout=5)
        assert_problem(admin.get(f"/v1/agents/{agent_id}"), 404)
        unknown = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id})
        assert_problem(unknown, 404)


def test_bad_requests_name_their_field(stack, acme):
    with as_key(stack, acme.master) as admin:
        assert_problem(admin.post("/v1/agents", json={"name": ""}), 400, "name")
        assert_problem(admin.post("/v1/agents", json={"id": "a b", "name": "x"}), 400, "agentId")
        assert_problem(admin.post("/v1/keys", json={"kind": "agent"}), 400, "agentId")
        assert_problem(admin.post("/v1/keys", json={"kind": "root"}), 400, "kind")
    with stack.client() as api:
        bad = api.post("/v1/agent/sign-up", json={"username": "x", "human_email": "nope"})
        assert_problem(bad, 400, "human_email")
        assert_problem(api.post("/v1/agent/sign-up", json={}), 422, "username")
    with as_key(stack, acme.master) as admin:
        assert_problem(admin.post("/v1/agents", json={"name": 5}), 422, "name")
        assert_problem(admin.patch(f"/v1/agents/{acme.agent_id}", json={"metadata": []}), 422)


def test_missing_or_unknown_keys_are_401(stack):
    with httpx.Client(base_url=stack.base_url, timeout=15) as anonymous:
        assert_problem(anonymous.get("/v1/agents"), 401)
        for key in ("mk_" + "x" * 43, "ak_" + "y" * 43, "not-a-key"):
            response = anonymous.get("/v1/agents", headers={"Authorization": f"Bearer {key}"})
            assert_problem(response, 401)


def test_create_tenant_from_the_command_line(stack):
    env = {**stack.env, "MNEMO_HOME": str(stack.home)}
    result = subprocess.run(
        [sys.executable, "-m", "mnemo.runtime", "admin", "create-tenant", "--name", "cli-co"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    key = next(
        line.split()[-1] for line in result.stdout.splitlines() if line.startswith("Master key:")
    )
    assert key.startswith("mk_")
    with as_key(stack, key) as admin:
        made = admin.post("/v1/agents", json={"name": "first"})
        assert made.status_code == 201
        assert [a["id"] for a in admin.get("/v1/agents").json()["agents"]] == [made.json()["id"]]


# --- isolation -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(stack, acme):
    """Tenant acme with two agents (A1 holds a memory, A2 is a neighbour) and tenant other."""
    other = None
    with stack.client() as api:
        other = sign_up(api, "other-" + uuid.uuid4().hex[:6])
    with as_key(stack, acme.master) as admin:
        second = admin.post("/v1/agents", json={"name": "neighbour"}).json()
        neighbour = admin.post("/v1/keys", json={"kind": "agent", "agentId": second["id"]})
    user = "shared-" + uuid.uuid4().hex[:6]
    with as_key(stack, acme.agent_key) as owner:
        sent = owner.post(
            "/v1/ingest",
            json={
                "userId": user,
                "content": "I work at Initech and my manager is Bill Lumbergh",
                "sessionId": "s1",
            },
        )
        assert sent.status_code == 202
        memory_id = sent.json()["id"]
        correlation = sent.headers["x-correlation-id"]
        eventually(
            lambda: owner.get("/v1/search", params={"userId": user, "q": "Initech"}).json()[
                "results"
            ]
        )
        # Synthesized too, so that the profile would have something to leak.
        eventually(lambda: owner.get("/v1/context", params={"userId": user}).json()["static"])
    return {
        "user": user,
        "memory_id": memory_id,
        "correlation": correlation,
        "strangers": {"other tenant": other.master, "other agent": neighbour.json()["key"]},
        "other": other,
    }


STRANGERS = ["other tenant", "other agent"]


@pytest.mark.parametrize("who", STRANGERS)
def test_resources_of_others_are_404(stack, acme, world, who):
    with as_key(stack, world["strangers"][who]) as stranger:
        calls = [
            stranger.get(f"/v1/memories/{world['memory_id']}"),
            stranger.get(f"/v1/agents/{acme.agent_id}"),
            stranger.patch(f"/v1/agents/{acme.agent_id}", json={"name": "mine now"}),
        ]
        if who == "other tenant":
            calls += [
                stranger.delete(f"/v1/agents/{acme.agent_id}"),
                stranger.delete(f"/v1/keys/{acme.agent_key_id}"),
            ]
        else:
            calls += [
                stranger.post(
                    "/v1/ingest",
                    json={"userId": world["user"], "content": "x", "agentId": acme.agent_id},
                ),
                stranger.get("/v1/memories", params={"userId": world["user"]} | _agent(acme)),
                stranger.get(
                    "/v1/search", params={"userId": world["user"], "q": "Initech"} | _agent(acme)
                ),
                stranger.get("/v1/events/stream", params=_agent(acme)),
            ]
        calls += [
            stranger.get(
                f"/v1/agents/{acme.agent_id}/packs/latest", params={"userId": world["user"]}
            ),
            stranger.get("/v1/entities", params={"userId": world["user"]}),
        ]
        for response in calls:
            assert_problem(response, 404)
            assert "Initech" not in response.text
        # The compatibility surfaces answer in their own shapes, with the same 404.
        for path in (
            f"/api/animas/{acme.agent_id}",
            f"/api/animas/{acme.agent_id}/memory-packs/latest",
            f"/api/v2/agents/{acme.agent_id}",
            f"/api/v2/agents/{acme.agent_id}/activate",
        ):
            response = (stranger.post if path.endswith("activate") else stranger.get)(path)
            assert response.status_code == 404, (path, response.text)
            assert "Initech" not in response.text


def _agent(tenant: Tenant) -> dict[str, str]:
    return {"agentId": tenant.agent_id}


@pytest.mark.parametrize("who", STRANGERS)
def test_queries_of_others_return_nothing(stack, acme, world, who):
    user = world["user"]
    with as_key(stack, world["strangers"][who]) as stranger:
        listed = stranger.get("/v1/memories", params={"userId": user})
        assert listed.status_code == 200 and listed.json()["total"] == 0
        got = stranger.get("/v1/search", params={"userId": user, "q": "Initech manager"})
        assert got.status_code == 200 and got.json()["results"] == []
        posted = stranger.post("/v1/search", json={"userId": user, "query": "Initech"})
        assert posted.status_code == 200 and posted.json()["results"] == []
        context = stranger.get("/v1/context", params={"userId": user, "q": "where work"})
        assert context.status_code == 200
        assert context.json() == {"static": [], "dynamic": [], "relevant": []}
        audit = stranger.get("/v1/audit/events", params={"correlation_id": world["correlation"]})
        assert audit.status_code == 200 and audit.json()["events"] == []
        if who == "other tenant":
            eliza = stranger.get(f"/api/agents/{acme.agent_id}/memories")
            assert eliza.status_code == 200 and eliza.json()["data"]["memories"] == []
        else:
            assert stranger.get(f"/api/agents/{acme.agent_id}/memories").status_code == 404
    # ... and the owner still has it all.
    with as_key(stack, world["strangers"]["other tenant"]) as other_admin:
        forgot = other_admin.delete("/v1/user", params={"userId": user})
        assert forgot.json()["removed"]["memories"] == 0


def test_an_agent_key_cannot_forget_a_user(stack, world):
    with as_key(stack, world["strangers"]["other agent"]) as neighbour:
        assert_problem(neighbour.delete("/v1/user", params={"userId": world["user"]}), 403)


def test_the_audit_chain_shows_the_agent_key_that_made_the_request(stack, acme, world):
    def chain(client: httpx.Client) -> list[dict] | None:
        events = client.get(
            "/v1/audit/events", params={"correlation_id": world["correlation"]}
        ).json()["events"]
        return events if any(e["kind"] == "event" for e in events) else None

    actor = f"agent:{acme.agent_id}/key:{acme.agent_key_id}"
    with as_key(stack, acme.master) as admin:
        events = eventually(lambda: chain(admin))
    request = next(e for e in events if e["kind"] == "request")
    assert request["data"]["actor"] == actor
    recorded = next(e for e in events if e["type"] == "memory.recorded")
    assert recorded["data"]["actor"] == actor
    # The agent itself sees its own chain too.
    with as_key(stack, acme.agent_key) as agent:
        assert chain(agent)


def test_a_revoked_key_gets_no_replayed_answer(stack, acme):
    with as_key(stack, acme.master) as admin:
        key = admin.post("/v1/keys", json={"kind": "master", "label": "replay"}).json()
    headers = {"Idempotency-Key": "replay-" + uuid.uuid4().hex}
    body = {"userId": "replayed", "content": "kept for retries"}
    with as_key(stack, key["key"]) as holder:
        first = holder.post("/v1/ingest", json=body, headers=headers)
        assert first.status_code == 202
        assert (
            holder.post("/v1/ingest", json=body, headers=headers).headers["Idempotent-Replayed"]
            == "true"
        )
        with as_key(stack, acme.master) as admin:
            assert admin.delete(f"/v1/keys/{key['id']}").status_code == 200
        eventually(
            lambda: holder.post("/v1/ingest", json=body, headers=headers).status_code == 401,
            timeout=5,
        )
