"""Isolation probes beside the matrix (test_isolation_matrix.py), for what it does not ask:

- an Idempotency-Key's kept answer, on every surface whose path names no agent (so that a
  stranger can send the very same request): never replayed to another key, another
  agent's, another tenant's, or a second key of the same agent;
- ids taken from another agent or tenant (memory, fact, agent, key, correlation) answer
  exactly as ids that never existed: the same status and the same body, so that no answer
  tells a stranger that the id is someone's;
- an agent made again with a deleted one's id reads nothing of it back in time either:
  `asOf`, `asOfKnowledge`, `changedSince`, MEMANTO's as-of and changed-since recalls, and
  Mem0's get and history of its memories and facts.
"""

import datetime
import json
import re
import uuid
from collections.abc import Callable

import httpx
import pytest

from .test_accounts import Tenant, as_key, sign_up
from .waiting import eventually

CONTENT = "I work at Initech and my manager is Bill Lumbergh"
MARKERS = ("Initech", "Lumbergh")
QUESTION = "where does the user work and who is the manager"


class Owner:
    """acme's agent A1 with a memory of `user`, synthesized into facts; a neighbour agent
    of acme with its own key; a second key of A1; another tenant."""

    def __init__(self, stack) -> None:
        with stack.client() as api:
            self.acme: Tenant = sign_up(api, "acme-" + uuid.uuid4().hex[:6])
            self.other: Tenant = sign_up(api, "other-" + uuid.uuid4().hex[:6])
        with as_key(stack, self.acme.master) as admin:
            neighbour = admin.post("/v1/agents", json={"name": "neighbour"}).json()["id"]
            made = admin.post("/v1/keys", json={"kind": "agent", "agentId": neighbour})
            self.neighbour_key = made.json()["key"]
            second = admin.post("/v1/keys", json={"kind": "agent", "agentId": self.agent})
            self.second_key = second.json()["key"]
        self.user = "u-" + uuid.uuid4().hex[:8]
        with as_key(stack, self.acme.agent_key) as owner:
            sent = owner.post("/v1/ingest", json={"userId": self.user, "content": CONTENT})
            assert sent.status_code == 202, sent.text
            self.memory_id = sent.json()["id"]
            self.correlation = sent.headers["x-correlation-id"]
            facts = eventually(
                lambda: owner.get("/v1/facts", params={"userId": self.user}).json()["facts"]
            )
            self.fact_id = facts[0]["id"]
            eventually(
                lambda: owner.get("/v1/search", params={"userId": self.user, "q": QUESTION}).json()[
                    "results"
                ]
            )

    @property
    def agent(self) -> str:
        return self.acme.agent_id

    def secrets(self) -> tuple[str, ...]:
        return (*MARKERS, self.memory_id, self.fact_id)


@pytest.fixture(scope="module")
def owner(stack) -> Owner:
    return Owner(stack)


def _mcp_search(user: str) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"userId": user, "query": QUESTION}},
    }


# (method, path, body) of requests that name no agent in their path, each sent by the
# owner with an Idempotency-Key and then, with the same key and body, by each stranger.
def _requests(user: str) -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/v1/ingest", {"userId": user, "content": "kept for the owner's retries"}),
        ("POST", "/v1/ingest/batch", {"items": [{"userId": user, "content": "kept, batched"}]}),
        ("POST", "/v1/search", {"userId": user, "query": QUESTION}),
        ("POST", "/v1/answer", {"userId": user, "question": QUESTION}),
        (
            "POST",
            "/mem0/v3/memories/add/",
            {"messages": "kept by Mem0", "user_id": user, "infer": False},
        ),
        ("POST", "/mem0/v3/memories/", {"filters": {"user_id": user}}),
        ("POST", "/mem0/v3/memories/search/", {"query": QUESTION, "filters": {"user_id": user}}),
        ("POST", "/mem0/v1/summary/", {"filters": {"user_id": user}}),
        ("POST", "/mcp", _mcp_search(user)),
    ]


_MCP = {"Accept": "application/json, text/event-stream"}


def test_no_other_caller_gets_a_kept_answer_on_any_surface(stack, owner):
    prefix = "iso-" + uuid.uuid4().hex
    requests = _requests(owner.user)
    firsts = []
    with as_key(stack, owner.acme.agent_key) as a1:
        for index, (method, path, body) in enumerate(requests):
            headers = {"Idempotency-Key": f"{prefix}-{index}", **_MCP}
            first = a1.request(method, path, json=body, headers=headers)
            assert first.status_code < 300, (path, first.text)
            again = a1.request(method, path, json=body, headers=headers)
            assert again.headers.get("idempotent-replayed") == "true", path
            firsts.append(first)
    strangers = {
        "a second key of the same agent": owner.second_key,
        "another agent": owner.neighbour_key,
        "the tenant's master key": owner.acme.master,
        "another tenant": owner.other.master,
        "another tenant's agent": owner.other.agent_key,
    }
    for who, key in strangers.items():
        with as_key(stack, key) as stranger:
            for index, ((method, path, body), first) in enumerate(
                zip(requests, firsts, strict=True)
            ):
                headers = {"Idempotency-Key": f"{prefix}-{index}", **_MCP}
                got = stranger.request(method, path, json=body, headers=headers)
                assert got.status_code < 300, (who, path, got.text)
                assert "idempotent-replayed" not in got.headers, (who, path)
                if who in READERS:
                    continue  # they may read A1's memories: an answer of their own
                # Nothing of A1's: its content, its memory and fact, nor the ids its own
                # answer gave (an ingest's new memory).
                owners = set(_UUID.findall(first.text)) - set(_UUID.findall(json.dumps(body)))
                for secret in (*owner.secrets(), *owners):
                    assert secret not in got.text, (who, path, secret, got.text[:300])


# Keys that may read A1's memories (the same agent's, the tenant's master key).
READERS = ("a second key of the same agent", "the tenant's master key")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


_STAMPS = re.compile(r'"(timestamp|audited_at)":"[^"]*"')


def _same_as_unknown(
    who: str, label: str, call: Callable[[str], httpx.Response], real: str, unknown: str
) -> None:
    """`call` with someone else's id answers as with an id nobody has."""
    theirs, nobodys = call(real), call(unknown)
    assert theirs.status_code == nobodys.status_code, (who, label, theirs.text, nobodys.text)
    shown = _STAMPS.sub("", theirs.text.replace(real, "<id>"))
    assert shown == _STAMPS.sub("", nobodys.text.replace(unknown, "<id>")), (who, label)


def test_another_callers_ids_answer_as_ids_that_never_existed(stack, owner):
    new = lambda: str(uuid.uuid4())  # noqa: E731
    for who, key in (
        ("another agent", owner.neighbour_key),
        ("another tenant", owner.other.master),
    ):
        with as_key(stack, key) as c:
            calls: list[tuple[str, Callable[[str], httpx.Response], str, str]] = [
                ("memory", lambda i: c.get(f"/v1/memories/{i}"), owner.memory_id, new()),
                ("delete", lambda i: c.delete(f"/v1/memories/{i}"), owner.memory_id, new()),
                ("validate", lambda i: c.post(f"/v1/facts/{i}/validate"), owner.fact_id, new()),
                (
                    "supersede",
                    lambda i: c.post(f"/v1/facts/{i}/supersede", json={"content": "moved"}),
                    owner.fact_id,
                    new(),
                ),
                ("mem0 memory", lambda i: c.get(f"/mem0/v1/memories/{i}/"), owner.memory_id, new()),
                ("mem0 fact", lambda i: c.get(f"/mem0/v1/memories/{i}/"), owner.fact_id, new()),
                (
                    "mem0 update",
                    lambda i: c.put(f"/mem0/v1/memories/{i}/", json={"text": "mine"}),
                    owner.memory_id,
                    new(),
                ),
                (
                    "mem0 history",
                    lambda i: c.get(f"/mem0/v1/memories/{i}/history/"),
                    owner.memory_id,
                    new(),
                ),
                ("agent", lambda i: c.get(f"/v1/agents/{i}"), owner.agent, new()),
                (
                    "pack",
                    lambda i: c.get(f"/v1/agents/{i}/packs/latest", params={"userId": owner.user}),
                    owner.agent,
                    new(),
                ),
                ("anima", lambda i: c.get(f"/api/animas/{i}"), owner.agent, new()),
                ("memanto agent", lambda i: c.get(f"/api/v2/agents/{i}"), owner.agent, new()),
                (
                    "elizaos memory",
                    lambda i: c.delete(f"/api/agents/{owner.agent}/memories/{i}"),
                    owner.memory_id,
                    new(),
                ),
                (
                    "key",
                    lambda i: c.delete(f"/v1/keys/{i}"),
                    owner.acme.agent_key_id,
                    "key_" + uuid.uuid4().hex[:20],
                ),
                (
                    "audit chain",
                    lambda i: c.get("/v1/audit/events", params={"correlation_id": i}),
                    owner.correlation,
                    new(),
                ),
            ]
            for label, call, real, unknown in calls:
                _same_as_unknown(who, label, call, real, unknown)


def test_an_agent_made_again_reads_nothing_of_the_deleted_one_at_any_time(stack, owner):
    agent_id = "again-" + uuid.uuid4().hex[:8]
    user = "u-" + uuid.uuid4().hex[:8]
    with as_key(stack, owner.acme.master) as admin:
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "first"}).is_success
        first = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()
    with as_key(stack, first["key"]) as agent:
        sent = agent.post("/v1/ingest", json={"userId": user, "content": CONTENT})
        memory_id = sent.json()["id"]
        facts = eventually(lambda: agent.get("/v1/facts", params={"userId": user}).json()["facts"])
        eventually(
            lambda: agent.get("/v1/search", params={"userId": user, "q": QUESTION}).json()[
                "results"
            ]
        )
    # A moment when the first agent's memory and facts were there (just after the last
    # fact was known; the deletion below comes later), not a fixed sleep around now.
    known = max(datetime.datetime.fromisoformat(f["recordedAt"]) for f in facts)
    then = (known + datetime.timedelta(milliseconds=1)).isoformat()
    with as_key(stack, owner.acme.master) as admin:
        assert admin.delete(f"/v1/agents/{agent_id}").status_code == 200
        assert admin.post("/v1/agents", json={"id": agent_id, "name": "second"}).is_success
        second = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id}).json()
    with as_key(stack, second["key"]) as agent:
        token = agent.post(f"/api/v2/agents/{agent_id}/activate").json()["session_token"]
        session = {"X-Session-Token": token}
        back = f"/api/v2/agents/{agent_id}/recall"
        reads = [
            agent.get("/v1/facts", params={"userId": user, "asOf": then}),
            agent.get("/v1/facts", params={"userId": user, "asOfKnowledge": then}),
            agent.get("/v1/facts", params={"userId": user, "changedSince": "2000-01-01T00:00:00Z"}),
            agent.get("/v1/context", params={"userId": user, "q": QUESTION, "asOf": then}),
            agent.get("/v1/context", params={"userId": user, "q": QUESTION, "asOfKnowledge": then}),
            agent.get("/v1/search", params={"userId": user, "q": QUESTION, "asOf": then}),
            agent.post("/v1/answer", json={"userId": user, "question": QUESTION}),
            agent.get(f"{back}/as-of", params={"query": QUESTION, "as_of": then}, headers=session),
            agent.get(f"{back}/changed-since", params={"since": "2000-01-01"}, headers=session),
            agent.get(f"{back}/current", params={"user_id": user}, headers=session),
            agent.get(f"/api/v2/agents/{agent_id}/export", headers=session),
            agent.post("/mem0/v3/memories/", json={"filters": {"user_id": user}}),
            agent.post("/mem0/v1/summary/", json={"filters": {"user_id": user}}),
        ]
        for read in reads:
            assert read.status_code == 200, (read.request.url, read.text)
            for secret in (*MARKERS, memory_id, *(f["id"] for f in facts)):
                assert secret not in read.text, (read.request.url, read.text[:300])
        for gone in (memory_id, *(f["id"] for f in facts)):
            for path in (f"/mem0/v1/memories/{gone}/", f"/mem0/v1/memories/{gone}/history/"):
                assert agent.get(path).status_code == 404, path
            assert agent.get(f"/v1/memories/{gone}").status_code == 404
