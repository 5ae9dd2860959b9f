"""Tenants, agents and scoped keys over running services: sign-up, key management and
revocation seen by two gateways. The cross-tenant and cross-agent isolation matrix is
test_isolation_matrix.py."""

import subprocess
import sys
import uuid
from dataclasses import dataclass

import httpx
import pytest

from .test_errors import assert_problem
from .test_sse import SseReader
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
    # Instants are written one way everywhere (RFC 3339 in UTC, with Z).
    assert entry["lastUsedAt"].endswith("Z") and entry["createdAt"].endswith("Z")


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
            eventually(lambda: first.get("/v1/agents").status_code == 401, timeout=30)
            eventually(
                lambda: second.get("/v1/agents", headers=headers).status_code == 401, timeout=30
            )
            assert_problem(first.get("/v1/agents"), 401)


def test_a_stream_ends_when_its_key_is_revoked_or_its_agent_deleted(stack, acme):
    """An open event stream is no older grant than a request: once its key is revoked (or
    the key's agent deleted), the client is told so and the stream ends, instead of showing
    the tenant's events for as long as the connection lasts."""
    agent_id = "streamer-" + uuid.uuid4().hex[:6]

    def saw(reader: SseReader, user: str) -> bool:
        return any(e.get("json", {}).get("user_id") == user for e in reader.events)

    with as_key(stack, acme.master) as admin:
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "S"}).status_code == 201
        made = [
            admin.post("/v1/keys", json={"kind": "agent", "agentId": agent}).json()
            for agent in (acme.agent_id, agent_id)
        ]
        revoked_reader = SseReader(stack.base_url, made[0]["key"])
        deleted_reader = SseReader(stack.base_url, made[1]["key"])
        master_reader = SseReader(stack.base_url, acme.master)
        try:
            for agent, reader in ((acme.agent_id, revoked_reader), (agent_id, deleted_reader)):
                user = "s-" + uuid.uuid4().hex[:8]
                sent = {"userId": user, "agentId": agent, "content": "before the key goes"}
                assert admin.post("/v1/ingest", json=sent).status_code == 202
                eventually(lambda r=reader, u=user: saw(r, u), timeout=60)
            assert admin.delete(f"/v1/keys/{made[0]['id']}").status_code == 200
            assert admin.delete(f"/v1/agents/{agent_id}").status_code == 200
            for reader in (revoked_reader, deleted_reader):
                eventually(lambda r=reader: not r._thread.is_alive(), timeout=60)
                assert reader.events[-1]["event"] == "revoked", reader.events[-3:]
            # What happens after is not shown to them; the master key's stream goes on.
            user = "s-" + uuid.uuid4().hex[:8]
            after = {"userId": user, "agentId": acme.agent_id, "content": "after"}
            assert admin.post("/v1/ingest", json=after).status_code == 202
            eventually(lambda: saw(master_reader, user), timeout=60)
            assert not saw(revoked_reader, user) and not saw(deleted_reader, user)
            # And a reconnection with the key is refused.
            for key in made:
                with as_key(stack, key["key"]) as gone:
                    assert gone.get("/v1/events/stream").status_code == 401
        finally:
            for reader in (revoked_reader, deleted_reader, master_reader):
                reader.stop()


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
        # An id not of the pattern, the empty one too (it made an agent with a random id).
        for bad in ("", " x", "-x", "x" * 129):
            assert_problem(admin.post("/v1/agents", json={"id": bad, "name": "H"}), 400, "id")
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
            eventually(lambda: agent.get("/v1/agents").status_code == 401, timeout=30)
        assert_problem(admin.get(f"/v1/agents/{agent_id}"), 404)
        unknown = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id})
        assert_problem(unknown, 404)


def test_bad_requests_name_their_field(stack, acme):
    with as_key(stack, acme.master) as admin:
        assert_problem(admin.post("/v1/agents", json={"name": ""}), 400, "name")
        assert_problem(admin.post("/v1/agents", json={"id": "a b", "name": "x"}), 400, "id")
        assert_problem(admin.post("/v1/keys", json={"kind": "agent"}), 400, "agentId")
        assert_problem(admin.post("/v1/keys", json={"kind": "root"}), 400, "kind")
    with stack.client() as api:
        bad = api.post("/v1/agent/sign-up", json={"username": "x", "human_email": "nope"})
        assert_problem(bad, 400, "human_email")
        assert_problem(api.post("/v1/agent/sign-up", json={}), 422, "username")
    with as_key(stack, acme.master) as admin:
        assert_problem(admin.post("/v1/agents", json={"name": 5}), 422, "name")
        assert_problem(admin.patch(f"/v1/agents/{acme.agent_id}", json={"metadata": []}), 422)


def test_a_secret_in_an_agents_name_or_a_keys_label_is_redacted_and_in_its_id_refused(stack, acme):
    """Names and labels are the caller's text, redacted like content; an id (in a body or
    a path, as MEMANTO's activate takes it) that is a secret is refused, never stored."""
    token = "ghp_" + uuid.uuid4().hex + "abcd"
    agent_id = "named-" + uuid.uuid4().hex[:6]
    correlation = "redact-" + uuid.uuid4().hex[:8]
    with as_key(stack, acme.master) as admin:
        made = admin.post(
            "/v1/agents",
            json={"id": agent_id, "name": f"bot {token}"},
            headers={"x-correlation-id": correlation},
        )
        assert made.status_code == 201, made.text
        assert token not in made.text and "[REDACTED:" in made.json()["name"]
        key = admin.post(
            "/v1/keys",
            json={"kind": "agent", "agentId": agent_id, "label": f"ops {token}"},
            headers={"x-correlation-id": correlation},
        )
        assert key.status_code == 201 and token not in key.json()["label"]
        listed = admin.get("/v1/keys").text
        assert token not in listed
        audited = eventually(
            lambda: (
                (c := admin.get("/v1/audit/events", params={"correlation_id": correlation}))
                and len(c.json()["events"]) >= 4
                and c.text
            )
        )
        assert token not in audited
        refused = admin.post(f"/api/v2/agents/{token}/activate")
        assert refused.status_code == 400 and token not in refused.text
        assert admin.get(f"/v1/agents/{token}").status_code == 400
        # Glued to a word, as ids are made (`sess-…`, `…_old`): still the key.
        for glued in (f"sess-{token}", f"{token}_old", f"x_{token}-y"):
            sent = {"userId": "u", "sessionId": glued, "content": "hello"}
            refused = admin.post("/v1/ingest", json=sent)
            assert refused.status_code == 400 and token not in refused.text, refused.text
            assert admin.get(f"/v1/agents/{glued}").status_code == 400


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
            timeout=30,
        )


def test_an_agent_made_again_reads_no_history_of_the_deleted_one(stack, acme):
    """The audit and the event stream keep what a deleted agent did (the master's to
    read); a key of an agent made again with the id starts its history when that agent
    was made: no entry, no event of the deleted one (the correlation id is the caller's
    to choose, so asking the old one is no way in)."""
    agent_id = "again-" + uuid.uuid4().hex[:6]
    user = "u-" + uuid.uuid4().hex[:8]
    correlation = "old-life-" + uuid.uuid4().hex[:8]
    with as_key(stack, acme.master) as admin:
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "A"}).status_code == 201
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
        with as_key(stack, key) as agent:
            sent = agent.post(
                "/v1/ingest",
                json={"userId": user, "content": "the first life", "sourceId": "doc-1"},
                headers={"x-correlation-id": correlation},
            )
            assert sent.status_code == 202, sent.text
            old_memory = sent.json()["id"]
            eventually(lambda: agent.get("/v1/memories", params={"userId": user}).json()["total"])
            chain = {"correlation_id": correlation}
            assert eventually(lambda: agent.get("/v1/audit/events", params=chain).json()["events"])
        assert admin.delete(f"/v1/agents/{agent_id}").status_code == 200
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "A2"}).status_code == 201
        fresh = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
        # The master still reads the deleted agent's chain.
        assert admin.get("/v1/audit/events", params=chain).json()["events"]
    with as_key(stack, fresh) as agent:
        assert agent.get("/v1/audit/events", params=chain).json()["events"] == []
        # The memory's id follows from its sourceId: the new key can name it, never read it.
        history = agent.get(f"/mem0/v1/memories/{old_memory}/history/")
        assert history.status_code == 404 and "first life" not in history.text
        listed = agent.get("/v1/audit/events", params={"limit": 1000}).json()["events"]
        assert all(e["correlation_id"] != correlation for e in listed), listed
        reader = SseReader(stack.base_url, fresh, last_event_id=0)
        try:
            sent = agent.post("/v1/ingest", json={"userId": user, "content": "the second life"})
            new_memory = sent.json()["id"]
            eventually(lambda: any(e["json"]["memory_id"] == new_memory for e in reader.events))
        finally:
            reader.stop()
        seen = {e["json"]["memory_id"] for e in reader.events}
        assert old_memory not in seen, [
            (
                e["event"],
                e["json"].get("stream_id"),
                e["json"].get("recorded_at"),
                e["json"].get("data"),
            )
            for e in reader.events
            if e["json"].get("memory_id") == old_memory
        ]


def test_deleting_an_agent_deletes_its_memories_and_one_made_again_starts_empty(stack, acme):
    """An agent's memories go with it (every user's; another agent's memories of the same
    user stay), and so do the facts it stated through the API (which outlive a deleted
    memory), so an agent made again with the id reads nothing of the one deleted."""
    agent_id = "retired-" + uuid.uuid4().hex[:6]
    user = "u-" + uuid.uuid4().hex[:8]
    word = "zephyr" + uuid.uuid4().hex[:6]
    said = [f"{word} 0. I work at Acme{word}.", f"{word} 1", f"{word} 2. I live in Oslo."]
    with as_key(stack, acme.master) as admin:
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "R"}).status_code == 201
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
        with as_key(stack, key) as agent, as_key(stack, acme.agent_key) as other:
            sent_by = [(agent, user), (agent, "v-" + user), (other, user)]
            for (client, who), content in zip(sent_by, said, strict=True):
                sent = client.post("/v1/ingest", json={"userId": who, "content": content})
                assert sent.status_code == 202, sent.text
            for client, who in sent_by:
                eventually(
                    lambda c=client, w=who: (
                        c.get("/v1/memories", params={"userId": w}).json()["total"] >= 1
                    )
                )
            [fact] = eventually(
                lambda: agent.get("/v1/facts", params={"userId": user}).json()["facts"]
            )
            stated = agent.post(
                f"/v1/facts/{fact['id']}/supersede", json={"content": f"Works at Umbrella{word}"}
            )
            assert stated.status_code == 200, stated.text
            eventually(lambda: other.get("/v1/facts", params={"userId": user}).json()["facts"])
        deleted = admin.delete(f"/v1/agents/{agent_id}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["memoriesDeleted"] == 2
        theirs = admin.get("/v1/memories", params={"userId": user}).json()["memories"]
        assert [m["content"] for m in theirs] == [said[2]]
        # The other agent's fact stays; nothing the deleted one stated does, for anyone.
        left = admin.get("/v1/facts", params={"userId": user}).json()["facts"]
        assert [f["statement"] for f in left] == ["Lives in Oslo"], left
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "R2"}).status_code == 201
        fresh = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
    with as_key(stack, fresh) as agent:
        for who in (user, "v-" + user):
            assert agent.get("/v1/memories", params={"userId": who}).json()["total"] == 0
            found = agent.get("/v1/search", params={"userId": who, "q": word}).json()
            assert found["results"] == [], found
            assert agent.get("/v1/facts", params={"userId": who}).json()["facts"] == []
            context = agent.get("/v1/context", params={"userId": who})
            assert word not in context.text and "Umbrella" not in context.text, context.text


def test_an_agent_named_again_after_its_deletion_is_an_agent_with_only_what_came_after(stack, acme):
    """A replica that saw the agent a moment ago still believes in it when the agent is
    deleted on another: the memory it accepts then makes the agent again (as on first use),
    and the agent made again holds that memory only, never the deleted one's."""
    agent_id = "relabel-" + uuid.uuid4().hex[:6]
    user = "u-" + uuid.uuid4().hex[:8]

    def contents(client: httpx.Client) -> list[str]:
        listed = client.get("/v1/memories", params={"userId": user, "agentId": agent_id})
        return [m["content"] for m in listed.json().get("memories", [])]

    with as_key(stack, acme.master) as admin, stack.extra_gateway(stack.api_key) as other:
        second = httpx.Client(
            base_url=str(other.base_url),
            headers={"Authorization": f"Bearer {acme.master}"},
            timeout=15,
        )
        with second:
            before = {"userId": user, "agentId": agent_id, "content": "before the deletion"}
            assert second.post("/v1/ingest", json=before).status_code == 202
            eventually(lambda: contents(admin) == ["before the deletion"])
            assert admin.delete(f"/v1/agents/{agent_id}").status_code == 200
            after = {"userId": user, "agentId": agent_id, "content": "after the deletion"}
            assert second.post("/v1/ingest", json=after).status_code == 202
        eventually(lambda: admin.get(f"/v1/agents/{agent_id}").status_code == 200)
        eventually(lambda: contents(admin) == ["after the deletion"])
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
        with as_key(stack, key) as agent:
            assert contents(agent) == ["after the deletion"]


def test_deleting_an_agent_at_once_after_a_burst_deletes_what_the_read_model_had_not_yet(
    stack, acme
):
    """The agent is deleted the moment its memories are accepted, before the read models
    have them all: the deletion finds them in the log (the read model's listing alone left
    the late ones to an agent made again with the id). Afterwards, an agent made again
    with the id reads only its own."""
    agent_id = "burst-" + uuid.uuid4().hex[:6]
    user = "u-" + uuid.uuid4().hex[:8]
    with as_key(stack, acme.master) as admin:
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "B"}).status_code == 201
        key = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()["key"]
        with as_key(stack, key) as agent:
            for start in (0, 50):
                items = [
                    {"userId": user, "content": f"burst {i}"} for i in range(start, start + 50)
                ]
                sent = agent.post("/v1/ingest/batch", json={"items": items})
                assert sent.status_code == 202, sent.text
        deleted = admin.delete(f"/v1/agents/{agent_id}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["memoriesDeleted"] <= 100  # the rest dropped when recorded
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "B2"}).status_code == 201
        mark = {"userId": user, "agentId": agent_id, "content": "made again"}
        assert admin.post("/v1/ingest", json=mark).status_code == 202

        def contents() -> list[str]:
            listed = admin.get("/v1/memories", params={"userId": user, "agentId": agent_id})
            return [m["content"] for m in listed.json()["memories"]]

        # The read model follows the log in order: once the new memory is in, so is
        # every deletion before it.
        eventually(lambda: "made again" in contents())
        assert contents() == ["made again"]
