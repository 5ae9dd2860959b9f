"""The isolation matrix: every route of every surface (native /v1, ElizaOS, Elephantasm,
MEMANTO), called by a stranger on tenant acme's agent A1: the master key of another
tenant, and the key of A1's neighbour agent in acme. Neither may read or change A1's
data. The list of routes comes from the app's route table, so a new route without a case
here fails `test_every_route_has_a_case`.

Conventions (README "Tenants and keys"): another tenant's or another agent's resource is
404, as if it did not exist; what needs a master key is 403 for an agent key; a MEMANTO
session token is the principal's who opened it, so anybody else's token is 401; a list
or search of another tenant's subject is 200 and empty. Whatever the status, no answer
holds A1's content or ids, and at the end A1's data is as it was."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from mnemo.gateway.app import create_app
from mnemo.gateway.settings import GatewaySettings

from .test_accounts import Tenant, as_key, sign_up
from .waiting import eventually

STRANGERS = ["other tenant", "other agent"]
CONTENT = "I work at Initech and my manager is Bill Lumbergh"
# Words of the owner's content a stranger never sends, so an answer that holds one leaks.
CONTENT_MARKERS = ("Initech", "Lumbergh")
QUESTION = "where does the user work and who is the manager"
# Whom a stranger writes about: a subject of its own, so its reads of the owner's stay empty.
# UUIDs: they are ElizaOS entity and room ids too, which ElizaOS's API checks.
STRANGER_USER = str(uuid.uuid4())
ROOM = str(uuid.uuid4())


@dataclass
class World:
    acme: Tenant
    other: Tenant
    neighbour_id: str
    neighbour_key: str
    user: str
    memory_id: str
    correlation: str
    fact_id: str
    token: str
    strangers: dict[str, str] = field(default_factory=dict)

    @property
    def agent(self) -> str:
        return self.acme.agent_id

    def secrets(self) -> tuple[str, ...]:
        return (*CONTENT_MARKERS, self.memory_id, self.fact_id, self.token)


@pytest.fixture(scope="module")
def acme(stack):
    with stack.client() as api:
        return sign_up(api, "acme-" + uuid.uuid4().hex[:6])


@pytest.fixture(scope="module")
def world(stack, acme) -> World:
    """acme's agent A1 holds a memory (searchable, synthesized into a fact) and an open
    MEMANTO session; acme has a neighbour agent with its own key; `other` is a tenant."""
    with stack.client() as api:
        other = sign_up(api, "other-" + uuid.uuid4().hex[:6])
    with as_key(stack, acme.master) as admin:
        second = admin.post("/v1/agents", json={"name": "neighbour"}).json()
        neighbour = admin.post("/v1/keys", json={"kind": "agent", "agentId": second["id"]})
    user = str(uuid.uuid4())
    with as_key(stack, acme.agent_key) as owner:
        sent = owner.post(
            "/v1/ingest", json={"userId": user, "content": CONTENT, "sessionId": ROOM}
        )
        assert sent.status_code == 202
        memory_id = sent.json()["id"]
        correlation = sent.headers["x-correlation-id"]
        eventually(
            lambda: owner.get("/v1/search", params={"userId": user, "q": QUESTION}).json()[
                "results"
            ]
        )
        facts = eventually(
            lambda: [
                f
                for f in owner.get("/v1/facts", params={"userId": user}).json()["facts"]
                if f["status"] == "current"
            ]
        )
        opened = owner.post(f"/api/v2/agents/{acme.agent_id}/activate")
        assert opened.status_code == 200, opened.text
    w = World(
        acme=acme,
        other=other,
        neighbour_id=second["id"],
        neighbour_key=neighbour.json()["key"],
        user=user,
        memory_id=memory_id,
        correlation=correlation,
        fact_id=facts[0]["id"],
        token=opened.json()["session_token"],
    )
    w.strangers = {"other tenant": other.master, "other agent": w.neighbour_key}
    return w


# --- the cases -----------------------------------------------------------------------

Case = Callable[[World, str, httpx.Client], None]
CASES: dict[tuple[str, str], Case] = {}


def case(*routes: str) -> Callable[[Case], Case]:
    """Register a case for routes written as 'METHOD /path' exactly as the route table
    spells them (path parameters with their type, e.g. {agent_id:str})."""

    def register(fn: Case) -> Case:
        for route in routes:
            method, path = route.split(" ", 1)
            assert (method, path) not in CASES, route
            CASES[(method, path)] = fn
        return fn

    return register


Statuses = int | tuple[int, ...]


def expect(w: World, who: str, response: httpx.Response, *, tenant: Statuses, agent: Statuses):
    """The status the convention gives this stranger, and nothing of A1 in the answer."""
    wanted = tenant if who == "other tenant" else agent
    allowed = wanted if isinstance(wanted, tuple) else (wanted,)
    assert response.status_code in allowed, (who, response.request.url, response.text[:500])
    no_leak(w, response)
    return response


def no_leak(w: World, response: httpx.Response) -> None:
    """None of A1's content or ids in the answer, but for what the stranger sent itself (an
    error may name the id it was asked for)."""
    request = response.request
    sent = f"{request.url} {request.headers} {request.content.decode(errors='replace')}"
    for secret in w.secrets():
        if secret not in sent:
            assert secret not in response.text, (secret, request.url, response.text[:500])


def empty(w: World, who: str, response: httpx.Response) -> httpx.Response:
    return expect(w, who, response, tenant=200, agent=200)


# Public routes: no key needed and no tenant's data in them.


_PUBLIC = (
    "/v1/health", "/docs", "/docs/openapi.json", "/api/health", "/api/server/ping",
    "/api/server/health",
)  # fmt: skip


@case(*(f"GET {p}" for p in _PUBLIC))
def _public(w: World, who: str, c: httpx.Client) -> None:
    for path in _PUBLIC:
        empty(w, who, c.get(path))


# The console's pages and assets are the same for everyone and hold no data: its views
# fetch what they show from the API above with the signed-in key.
_CONSOLE = ("/console", "/console/live", "/console/facts", "/console/assets/api.js")


@case("GET /console", "GET /console/{view:str}", "GET /console/assets/{name:str}")
def _console(w: World, who: str, c: httpx.Client) -> None:
    for path in _CONSOLE:
        empty(w, who, c.get(path))


@case("GET /docs/assets/{name:str}")
def _docs_asset(w: World, who: str, c: httpx.Client) -> None:
    empty(w, who, c.get("/docs/assets/swagger-ui.css"))


@case("POST /v1/agent/sign-up")
def _sign_up(w: World, who: str, c: httpx.Client) -> None:
    name = "stranger-" + uuid.uuid4().hex[:6]
    made = c.post(
        "/v1/agent/sign-up", json={"human_email": f"{name}@example.com", "username": name}
    )
    expect(w, who, made, tenant=201, agent=201)
    assert made.json()["tenant"]["id"] not in (w.acme.tenant_id, w.other.tenant_id)


# --- native: accounts


@case("POST /v1/keys")
def _create_key(w: World, who: str, c: httpx.Client) -> None:
    made = c.post("/v1/keys", json={"kind": "agent", "agentId": w.agent})
    if who == "other tenant" and made.status_code == 201:
        # Its own ingest as an agent of that name registered one in its own tenant (agents
        # named in an ingest are registered on first use): the key is for that agent, and
        # reaches nothing of A1's.
        own_key = made.json()["key"]
        with httpx.Client(
            base_url=c.base_url, headers={"Authorization": f"Bearer {own_key}"}
        ) as own:
            assert own.get(f"/v1/memories/{w.memory_id}").status_code == 404
            assert w.memory_id not in own.get("/v1/memories", params={"userId": w.user}).text
        return
    expect(w, who, made, tenant=404, agent=403)


@case("GET /v1/keys")
def _list_keys(w: World, who: str, c: httpx.Client) -> None:
    listed = expect(w, who, c.get("/v1/keys"), tenant=200, agent=403)
    assert w.acme.agent_key_id not in listed.text


@case("DELETE /v1/keys/{key_id:str}")
def _revoke_key(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.delete(f"/v1/keys/{w.acme.agent_key_id}"), tenant=404, agent=403)


@case("POST /v1/agents")
def _create_agent(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.post("/v1/agents", json={"name": "mine"}), tenant=201, agent=403)
    taken = c.post("/v1/agents", json={"id": w.neighbour_id, "name": "mine"})
    expect(w, who, taken, tenant=201, agent=403)


@case("GET /v1/agents")
def _list_agents(w: World, who: str, c: httpx.Client) -> None:
    assert w.agent not in empty(w, who, c.get("/v1/agents")).text


@case("GET /v1/agents/{agent_id:str}")
def _get_agent(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.get(f"/v1/agents/{w.agent}"), tenant=404, agent=404)


@case("PATCH /v1/agents/{agent_id:str}")
def _update_agent(w: World, who: str, c: httpx.Client) -> None:
    renamed = c.patch(f"/v1/agents/{w.agent}", json={"name": "mine now"})
    expect(w, who, renamed, tenant=404, agent=404)


@case("DELETE /v1/agents/{agent_id:str}")
def _delete_agent(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.delete(f"/v1/agents/{w.agent}"), tenant=404, agent=404)


# --- native: memories, search, context


@case("POST /v1/ingest")
def _ingest(w: World, who: str, c: httpx.Client) -> None:
    body = {"userId": STRANGER_USER, "content": "x", "agentId": w.agent}
    sent = c.post("/v1/ingest", json=body)
    expect(w, who, sent, tenant=(202, 404), agent=404)
    _own_agent_gone(w, who, c)


@case("POST /v1/ingest/batch")
def _ingest_batch(w: World, who: str, c: httpx.Client) -> None:
    items = [{"userId": STRANGER_USER, "content": "x", "agentId": w.agent}]
    expect(w, who, c.post("/v1/ingest/batch", json={"items": items}), tenant=(202, 404), agent=404)
    _own_agent_gone(w, who, c)


@case("GET /v1/memories")
def _list_memories(w: World, who: str, c: httpx.Client) -> None:
    listed = empty(w, who, c.get("/v1/memories", params={"userId": w.user}))
    assert listed.json()["total"] == 0
    scoped = c.get("/v1/memories", params={"userId": w.user, "agentId": w.agent})
    expect(w, who, scoped, tenant=200, agent=404)


@case("GET /v1/memories/{memory_id:str}")
def _get_memory(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.get(f"/v1/memories/{w.memory_id}"), tenant=404, agent=404)


@case("DELETE /v1/memories/{memory_id:str}")
def _delete_memory(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.delete(f"/v1/memories/{w.memory_id}"), tenant=404, agent=404)


@case("DELETE /v1/memory", "DELETE /v1/user")
def _forget(w: World, who: str, c: httpx.Client) -> None:
    for path in ("/v1/memory", "/v1/user"):
        forgot = c.delete(path, params={"userId": w.user})
        expect(w, who, forgot, tenant=200, agent=403)
        if who == "other tenant":
            assert forgot.json()["removed"]["memories"] == 0


@case("GET /v1/search", "POST /v1/search")
def _search(w: World, who: str, c: httpx.Client) -> None:
    got = empty(w, who, c.get("/v1/search", params={"userId": w.user, "q": QUESTION}))
    assert got.json()["results"] == []
    posted = empty(w, who, c.post("/v1/search", json={"userId": w.user, "query": QUESTION}))
    assert posted.json()["results"] == []
    scoped = c.get("/v1/search", params={"userId": w.user, "q": QUESTION, "agentId": w.agent})
    expect(w, who, scoped, tenant=200, agent=404)
    body = {"userId": w.user, "query": QUESTION, "filters": {"agentId": w.agent}}
    expect(w, who, c.post("/v1/search", json=body), tenant=200, agent=404)


@case("POST /v1/answer")
def _answer(w: World, who: str, c: httpx.Client) -> None:
    got = empty(w, who, c.post("/v1/answer", json={"userId": w.user, "question": QUESTION}))
    assert got.json()["answer"] is None and got.json()["memories"] == []
    assert got.json()["facts"] == []
    scoped = {"userId": w.user, "question": QUESTION, "agentId": w.agent}
    expect(w, who, c.post("/v1/answer", json=scoped), tenant=200, agent=404)


@case("GET /v1/context")
def _context(w: World, who: str, c: httpx.Client) -> None:
    got = empty(w, who, c.get("/v1/context", params={"userId": w.user, "q": QUESTION}))
    assert got.json() == {"static": [], "dynamic": [], "relevant": []}
    scoped = c.get("/v1/context", params={"userId": w.user, "agentId": w.agent})
    expect(w, who, scoped, tenant=200, agent=404)


@case("GET /v1/entities")
def _entities(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.get("/v1/entities", params={"userId": w.user}), tenant=404, agent=404)
    scoped = c.get("/v1/entities", params={"userId": w.user, "agentId": w.agent})
    expect(w, who, scoped, tenant=404, agent=404)


@case("GET /v1/agents/{agent_id:str}/packs/latest")
def _pack(w: World, who: str, c: httpx.Client) -> None:
    got = c.get(f"/v1/agents/{w.agent}/packs/latest", params={"userId": w.user})
    expect(w, who, got, tenant=404, agent=404)


# --- native: facts


@case("GET /v1/facts")
def _facts(w: World, who: str, c: httpx.Client) -> None:
    assert empty(w, who, c.get("/v1/facts", params={"userId": w.user})).json()["facts"] == []
    scoped = c.get("/v1/facts", params={"userId": w.user, "agentId": w.agent})
    expect(w, who, scoped, tenant=200, agent=404)


@case(
    "POST /v1/facts/{fact_id:str}/validate",
    "POST /v1/facts/{fact_id:str}/supersede",
    "POST /v1/facts/{fact_id:str}/contradict",
)
def _change_fact(w: World, who: str, c: httpx.Client) -> None:
    base = f"/v1/facts/{w.fact_id}"
    expect(w, who, c.post(f"{base}/validate"), tenant=404, agent=404)
    replaced = c.post(f"{base}/supersede", json={"content": "works elsewhere now"})
    expect(w, who, replaced, tenant=404, agent=404)
    denied = c.post(f"{base}/contradict", json={"content": "never worked there"})
    expect(w, who, denied, tenant=404, agent=404)


# --- MCP (/mcp): each tool is a native call with the caller's key


def _tool(w: World, c: httpx.Client, name: str, **arguments: object) -> dict:
    """One tools/call over /mcp (stateless: no session to open first); the result."""
    sent = c.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        },
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert sent.status_code == 200, sent.text
    no_leak(w, sent)
    return sent.json()["result"]


def _tool_status(result: dict) -> int:
    return result["structuredContent"]["status"] if result.get("isError") else 200


@case("POST /mcp")
def _mcp(w: World, who: str, c: httpx.Client) -> None:
    found = _tool(w, c, "search", userId=w.user, query=QUESTION)
    assert found["structuredContent"]["results"] == []
    context = _tool(w, c, "get_context", userId=w.user, q=QUESTION)
    assert context["structuredContent"] == {"static": [], "dynamic": [], "relevant": []}
    assert _tool(w, c, "list_facts", userId=w.user)["structuredContent"]["facts"] == []
    scoped = _tool(w, c, "search", userId=w.user, query=QUESTION, filters={"agentId": w.agent})
    assert _tool_status(scoped) == (200 if who == "other tenant" else 404)
    pack = _tool(w, c, "read_memory_pack", agentId=w.agent, userId=w.user)
    assert _tool_status(pack) == 404
    for change, extra in (
        ("validate_fact", {}),
        ("supersede_fact", {"content": "works elsewhere now"}),
        ("contradict_fact", {"content": "never worked there"}),
    ):
        assert _tool_status(_tool(w, c, change, factId=w.fact_id, **extra)) == 404
    forgot = _tool(w, c, "forget_user", userId=w.user)
    assert _tool_status(forgot) == (200 if who == "other tenant" else 403)


# --- native: audit and the event stream


@case("GET /v1/audit/events")
def _audit(w: World, who: str, c: httpx.Client) -> None:
    chain = empty(w, who, c.get("/v1/audit/events", params={"correlation_id": w.correlation}))
    assert chain.json()["events"] == []
    # A correlation id is the caller's to give: a stranger who reuses the owner's joins
    # that chain with its own request, and must then see its own part of it, never the rest.
    joined = c.get("/v1/agents", headers={"x-correlation-id": w.correlation})
    assert joined.status_code == 200

    def own_part() -> httpx.Response | None:
        got = c.get("/v1/audit/events", params={"correlation_id": w.correlation})
        return got if got.json()["events"] else None

    empty(w, who, eventually(own_part))


@case("GET /v1/events/stream")
def _stream(w: World, who: str, c: httpx.Client) -> None:
    if who == "other agent":  # (for another tenant, a filter on A1 is a stream of nothing)
        scoped = c.get("/v1/events/stream", params={"agentId": w.agent})
        expect(w, who, scoped, tenant=200, agent=404)
    # From the start of the stream up to an event of the stranger's own: everything the
    # stranger may see, and none of it A1's.
    mine = c.post("/v1/ingest", json={"userId": STRANGER_USER, "content": "y"})
    assert mine.status_code == 202
    seen = _read_stream(c, until=mine.json()["id"])
    for secret in w.secrets():
        assert secret not in seen


def _read_stream(c: httpx.Client, *, until: str, most: int = 200_000) -> str:
    lines: list[str] = []
    timeout = httpx.Timeout(15.0, read=30.0)
    headers = {"Last-Event-ID": "0"}
    with c.stream("GET", "/v1/events/stream", headers=headers, timeout=timeout) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            lines.append(line)
            if until in line or len(lines) >= most:
                break
    assert any(until in line for line in lines), "the stranger's own event never came"
    return "\n".join(lines)


# --- ElizaOS


_ELIZA_LISTS = (
    "/api/agents/{a}/memories",
    "/api/memory/agents/{a}/memories",
    "/api/memory/{a}/memories",
    "/api/memory/{a}/rooms/" + ROOM + "/memories",
    "/api/memory/agents/{a}/rooms/" + ROOM + "/memories",
)


@case(
    "GET /api/agents/{agent_id:str}/memories",
    "GET /api/memory/agents/{agent_id:str}/memories",
    "GET /api/memory/{agent_id:str}/memories",
    "GET /api/memory/{agent_id:str}/rooms/{room_id:str}/memories",
    "GET /api/memory/agents/{agent_id:str}/rooms/{room_id:str}/memories",
)
def _eliza_lists(w: World, who: str, c: httpx.Client) -> None:
    for path in _ELIZA_LISTS:
        for params in ({}, {"entityId": w.user}):
            got = c.get(path.format(a=w.agent), params=params)
            expect(w, who, got, tenant=200, agent=404)
            if who == "other tenant" and params:
                assert got.json()["data"]["memories"] == []


@case(
    "POST /api/agents/{agent_id:str}/memories",
    "POST /api/memory/agents/{agent_id:str}/memories",
    "POST /api/memory/{agent_id:str}/memories",
)
def _eliza_create(w: World, who: str, c: httpx.Client) -> None:
    for path in _ELIZA_LISTS[:3]:
        body = {"content": {"text": "mine"}, "entityId": STRANGER_USER}
        made = c.post(path.format(a=w.agent), json=body)
        expect(w, who, made, tenant=(201, 404), agent=404)
    _own_agent_gone(w, who, c)


def _own_agent_gone(w: World, who: str, c: httpx.Client) -> None:
    """Another tenant's memory naming this id made an agent of its own tenant (first use),
    which holds nothing of A1: gone again for the cases that follow."""
    if who == "other tenant":
        assert c.delete(f"/v1/agents/{w.agent}").status_code in (200, 404)


@case("GET /api/memory/agents/{agent_id:str}/memories/search")
def _eliza_search(w: World, who: str, c: httpx.Client) -> None:
    got = c.get(f"/api/memory/agents/{w.agent}/memories/search", params={"q": QUESTION})
    expect(w, who, got, tenant=200, agent=404)


@case(
    "GET /api/memory/agents/{agent_id:str}/stats",
    "GET /api/memory/agents/{agent_id:str}/export",
)
def _eliza_stats(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.get(f"/api/memory/agents/{w.agent}/stats"), tenant=200, agent=404)
    expect(w, who, c.get(f"/api/memory/agents/{w.agent}/export"), tenant=200, agent=404)


@case(
    "GET /api/agents/{agent_id:str}/rooms",
    "GET /api/agents/{agent_id:str}/rooms/{room_id:str}",
)
def _eliza_rooms(w: World, who: str, c: httpx.Client) -> None:
    rooms = c.get(f"/api/agents/{w.agent}/rooms")
    expect(w, who, rooms, tenant=200, agent=404)
    room = c.get(f"/api/agents/{w.agent}/rooms/{ROOM}")
    expect(w, who, room, tenant=404, agent=404)
    # A1's room (its memory's session) is no room of the other tenant's agent of that id.
    assert ROOM not in rooms.text and ROOM not in room.text


@case("POST /api/memory/agents/{agent_id:str}/import")
def _eliza_import(w: World, who: str, c: httpx.Client) -> None:
    body = {"memories": [{"content": {"text": "imported"}, "entityId": STRANGER_USER}]}
    got = c.post(f"/api/memory/agents/{w.agent}/import", json=body)
    expect(w, who, got, tenant=(201, 404), agent=404)


@case(
    "DELETE /api/agents/{agent_id:str}/memories",
    "DELETE /api/memory/{agent_id:str}/memories",
    "DELETE /api/agents/{agent_id:str}/memories/{memory_id:str}",
    "DELETE /api/memory/{agent_id:str}/memories/{memory_id:str}",
)
def _eliza_delete(w: World, who: str, c: httpx.Client) -> None:
    for path in ("/api/agents/{a}/memories/{m}", "/api/memory/{a}/memories/{m}"):
        gone = c.delete(path.format(a=w.agent, m=w.memory_id))
        expect(w, who, gone, tenant=404, agent=404)
    for path in ("/api/agents/{a}/memories", "/api/memory/{a}/memories"):
        expect(w, who, c.delete(path.format(a=w.agent)), tenant=200, agent=404)
        forgot = c.delete(path.format(a=w.agent), params={"entityId": w.user})
        expect(w, who, forgot, tenant=200, agent=404)


@case(
    "GET /api/memory/groups",
    "POST /api/memory/groups",
    "GET /api/memory/groups/{group_id:str}/memories",
    "GET /api/memory/agents/{agent_id:str}/insights",
)
def _eliza_unsupported(w: World, who: str, c: httpx.Client) -> None:
    for response in (
        c.get("/api/memory/groups"),
        c.post("/api/memory/groups", json={"name": "g"}),
        c.get("/api/memory/groups/g1/memories"),
    ):
        expect(w, who, response, tenant=501, agent=501)
    insights = c.get(f"/api/memory/agents/{w.agent}/insights")
    expect(w, who, insights, tenant=501, agent=404)


# --- Elephantasm


@case("POST /api/animas")
def _create_anima(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.post("/api/animas", json={"name": "mine"}), tenant=201, agent=403)


@case("GET /api/animas")
def _list_animas(w: World, who: str, c: httpx.Client) -> None:
    listed = empty(w, who, c.get("/api/animas"))
    assert w.agent not in {a["id"] for a in listed.json()}


@case("GET /api/animas/{anima_id:str}", "GET /api/animas/{anima_id:str}/memory-packs/latest")
def _anima(w: World, who: str, c: httpx.Client) -> None:
    expect(w, who, c.get(f"/api/animas/{w.agent}"), tenant=404, agent=404)
    pack = c.get(f"/api/animas/{w.agent}/memory-packs/latest")
    expect(w, who, pack, tenant=404, agent=404)


@case("POST /api/events")
def _event(w: World, who: str, c: httpx.Client) -> None:
    body = {
        "anima_id": w.agent,
        "event_type": "message.in",
        "content": "mine",
        "dedupe_key": "k1",
    }
    expect(w, who, c.post("/api/events", json=body), tenant=404, agent=404)


@case("GET /api/subscriptions/usage")
def _usage(w: World, who: str, c: httpx.Client) -> None:
    # The caller's own tenant's counters: every agent's calls, so a tenant-wide read.
    expect(w, who, c.get("/api/subscriptions/usage"), tenant=200, agent=403)


# --- MEMANTO


@case("POST /api/v2/agents")
def _memanto_create(w: World, who: str, c: httpx.Client) -> None:
    body = {"agent_id": "m-" + uuid.uuid4().hex[:6], "name": "mine"}
    expect(w, who, c.post("/api/v2/agents", json=body), tenant=201, agent=403)


@case("GET /api/v2/agents")
def _memanto_list(w: World, who: str, c: httpx.Client) -> None:
    assert w.agent not in empty(w, who, c.get("/api/v2/agents")).text


@case(
    "GET /api/v2/agents/{agent_id:str}",
    "DELETE /api/v2/agents/{agent_id:str}",
    "POST /api/v2/agents/{agent_id:str}/activate",
)
def _memanto_agent(w: World, who: str, c: httpx.Client) -> None:
    base = f"/api/v2/agents/{w.agent}"
    expect(w, who, c.get(base), tenant=404, agent=404)
    expect(w, who, c.delete(base), tenant=404, agent=(403, 404))
    # Another tenant's master key activating this id registers an agent of its own tenant
    # (first use, as the seed's Quick Start does), which holds nothing of A1.
    expect(w, who, c.post(f"{base}/activate"), tenant=200, agent=404)
    if who == "other tenant":  # its own new agent, gone again for the cases that follow
        assert c.delete(base).status_code == 204


def _with_token(w: World) -> dict[str, str]:
    return {"X-Session-Token": w.token}


# Each MEMANTO route that takes a session token, as (method, path under the agent, params,
# body): called with the owner's own token, by a stranger who got hold of it.
_SESSION_CALLS: dict[str, tuple[str, str, dict[str, str], dict | None]] = {
    "POST deactivate": ("POST", "deactivate", {}, None),
    "GET status": ("GET", "status", {}, None),
    "POST extend": ("POST", "extend", {}, {"hours": 1}),
    "POST remember": ("POST", "remember", {"content": "written by a stranger"}, None),
    "POST batch-remember": ("POST", "batch-remember", {}, {"memories": [{"content": "mine"}]}),
    "GET recall": ("GET", "recall", {"query": QUESTION}, None),
    "GET recall/as-of": ("GET", "recall/as-of", {"query": QUESTION, "as_of": "2100-01-01"}, None),
    "GET recall/changed-since": ("GET", "recall/changed-since", {"since": "2000-01-01"}, None),
    "GET recall/current": ("GET", "recall/current", {"user_id": "{u}"}, None),
    "POST validate": ("POST", "validate", {}, {"memory_id": "{f}"}),
    "POST memories/{memory_id:str}/validate": ("POST", "memories/{f}/validate", {}, None),
    "POST supersede": ("POST", "supersede", {}, {"memory_id": "{f}", "new_content": "moved"}),
    "POST memories/{memory_id:str}/supersede": (
        "POST",
        "memories/{f}/supersede",
        {},
        {"new_content": "moved"},
    ),
    "POST validate/{memory_id:str}": ("POST", "validate/{f}", {}, None),
    "POST supersede/{memory_id:str}": ("POST", "supersede/{f}", {}, {"new_content": "moved"}),
    "POST contradict/{memory_id:str}": ("POST", "contradict/{f}", {}, None),
    "POST contradict": ("POST", "contradict", {}, {"memory_id": "{f}"}),
    "POST memories/{memory_id:str}/contradict": ("POST", "memories/{f}/contradict", {}, {}),
    "GET export": ("GET", "export", {}, None),
    "POST answer": ("POST", "answer", {}, {"question": QUESTION}),
    "POST context/summarize": ("POST", "context/summarize", {}, {"user_id": "{u}"}),
    "POST context/compress": (
        "POST",
        "context/compress",
        {},
        {"messages": [{"role": "user", "content": "hello there"}]},
    ),
}


def _fill(w: World, value: object) -> object:
    if isinstance(value, str):
        return value.replace("{u}", w.user).replace("{f}", w.fact_id)
    if isinstance(value, dict):
        return {k: _fill(w, v) for k, v in value.items()}
    return value


def _session_call(
    w: World, c: httpx.Client, name: str, agent: str, token: str | None
) -> httpx.Response:
    method, tail, params, body = _SESSION_CALLS[name]
    headers = {"X-Session-Token": token} if token else {}
    return c.request(
        method,
        f"/api/v2/agents/{agent}/{_fill(w, tail)}",
        params=_fill(w, params),  # type: ignore[arg-type]
        json=_fill(w, body),
        headers=headers,
    )


def _memanto_session_case(name: str) -> Case:
    def run(w: World, who: str, c: httpx.Client) -> None:
        # Another agent's key on A1's path: A1 does not exist for it, token or not.
        # Another tenant's key: the token is not its own.
        # (status looks the agent up first: not found in the other tenant.)
        stolen = _session_call(w, c, name, w.agent, w.token)
        expect(w, who, stolen, tenant=404 if name == "GET status" else 401, agent=404)

    return run


for _name in _SESSION_CALLS:
    _method, _, _tail = _name.partition(" ")
    case(f"{_method} /api/v2/agents/{{agent_id:str}}/{_tail}")(_memanto_session_case(_name))


# The requests that name no agent: the token says which, and it is not the stranger's.
_TOKEN_CALLS: dict[str, dict | None] = {
    "GET /api/v2/session/current": None,
    "POST /api/v2/session/extend": {"hours": 1},
    "POST /api/v2/context/summarize": {"user_id": "{u}"},
    "POST /api/v2/context/summarize/custom": {"memory_ids": []},
    "POST /api/v2/context/compress": {"days_to_compress": 1, "keep_recent_count": 0},
}


def _memanto_token_case(route: str) -> Case:
    def run(w: World, who: str, c: httpx.Client) -> None:
        method, path = route.split(" ", 1)
        body = _fill(w, _TOKEN_CALLS[route])
        if isinstance(body, dict) and "memory_ids" in body:
            body["memory_ids"] = [w.memory_id]
        sent = c.request(method, path, json=body, headers=_with_token(w))
        expect(w, who, sent, tenant=401, agent=401)

    return run


for _route in _TOKEN_CALLS:
    case(_route)(_memanto_token_case(_route))


# --- the matrix ----------------------------------------------------------------------


# --- Mem0 (under /mem0 for any key; a Token key is sent there from the root too)


@case("GET /mem0/v1/ping")
def _mem0_ping(w: World, who: str, c: httpx.Client) -> None:
    assert empty(w, who, c.get("/mem0/v1/ping/")).json()["project_id"] != w.agent


@case("POST /mem0/v3/memories/add")
def _mem0_add(w: World, who: str, c: httpx.Client) -> None:
    body = {"messages": "x", "user_id": STRANGER_USER, "agent_id": w.agent, "infer": False}
    expect(w, who, c.post("/mem0/v3/memories/add/", json=body), tenant=200, agent=404)
    _own_agent_gone(w, who, c)


@case("POST /mem0/v3/memories", "POST /mem0/v3/memories/search")
def _mem0_read(w: World, who: str, c: httpx.Client) -> None:
    listed = empty(w, who, c.post("/mem0/v3/memories/", json={"filters": {"user_id": w.user}}))
    assert listed.json()["count"] == 0
    body = {"query": QUESTION, "filters": {"user_id": w.user}}
    assert empty(w, who, c.post("/mem0/v3/memories/search/", json=body)).json()["results"] == []
    scoped = {"filters": {"user_id": w.user, "agent_id": w.agent}}
    expect(w, who, c.post("/mem0/v3/memories/", json=scoped), tenant=200, agent=404)
    scoped["query"] = QUESTION  # type: ignore[assignment]
    expect(w, who, c.post("/mem0/v3/memories/search/", json=scoped), tenant=200, agent=404)


@case(
    "GET /mem0/v1/memories/{memory_id:str}",
    "PUT /mem0/v1/memories/{memory_id:str}",
    "DELETE /mem0/v1/memories/{memory_id:str}",
    "GET /mem0/v1/memories/{memory_id:str}/history",
)
def _mem0_memory(w: World, who: str, c: httpx.Client) -> None:
    # A memory stored as is, and one drawn by synthesis (a fact).
    for memory_id in (w.memory_id, w.fact_id):
        path = f"/mem0/v1/memories/{memory_id}/"
        expect(w, who, c.get(path), tenant=404, agent=404)
        expect(w, who, c.put(path, json={"text": "mine now"}), tenant=404, agent=404)
        expect(w, who, c.delete(path), tenant=404, agent=404)
        expect(w, who, c.get(f"{path}history/"), tenant=404, agent=404)
    # The Mem0 client's own scheme reaches the same surface from the root.
    token = {"Authorization": c.headers["authorization"].replace("Bearer", "Token")}
    expect(w, who, c.get(f"/v1/memories/{w.memory_id}/", headers=token), tenant=404, agent=404)


@case("DELETE /mem0/v1/memories", "DELETE /mem0/v2/entities/{kind:str}/{name:path}")
def _mem0_delete(w: World, who: str, c: httpx.Client) -> None:
    # Within the stranger's own reach (its tenant, its agent): nothing of A1's goes.
    empty(w, who, c.delete("/mem0/v1/memories/", params={"user_id": w.user}))
    empty(w, who, c.delete(f"/mem0/v2/entities/user/{w.user}/"))
    theirs = c.delete("/mem0/v1/memories/", params={"agent_id": w.agent})
    expect(w, who, theirs, tenant=200, agent=404)
    expect(w, who, c.delete(f"/mem0/v2/entities/agent/{w.agent}/"), tenant=200, agent=404)


@case("POST /mem0/v1/summary")
def _mem0_summary(w: World, who: str, c: httpx.Client) -> None:
    got = empty(w, who, c.post("/mem0/v1/summary/", json={"filters": {"user_id": w.user}}))
    assert got.json()["summary"] == ""
    scoped = {"filters": {"user_id": w.user, "agent_id": w.agent}}
    expect(w, who, c.post("/mem0/v1/summary/", json=scoped), tenant=200, agent=404)


@case("GET /mem0/v1/entities")
def _mem0_entities(w: World, who: str, c: httpx.Client) -> None:
    assert w.user not in empty(w, who, c.get("/mem0/v1/entities/")).text


def routes_of_the_app() -> set[tuple[str, str]]:
    """(method, path) of every route the gateway serves, from its own route table."""
    app = create_app(GatewaySettings(nats_url="nats://127.0.0.1:4222"))
    return {
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method not in ("OPTIONS", "HEAD")
    }


def test_every_route_has_a_case():
    routes = routes_of_the_app()
    assert len(routes) > 60  # the route table was read, not an empty app
    missing = sorted(f"{m} {p}" for m, p in routes - CASES.keys())
    assert not missing, f"routes without an isolation case: {missing}"
    stale = sorted(f"{m} {p}" for m, p in CASES.keys() - routes)
    assert not stale, f"cases of routes that no longer exist: {stale}"


@pytest.mark.parametrize("who", STRANGERS)
@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_stranger_cannot_reach_the_agents_data(stack, world, route, who):
    with as_key(stack, world.strangers[who]) as stranger:
        CASES[route](world, who, stranger)


# --- what carries its own token or id beside the key ---------------------------------

_READS = ("GET status", "GET recall", "GET export")


def test_a_session_token_works_only_with_the_key_that_opened_it(stack, world):
    with as_key(stack, world.neighbour_key) as neighbour:
        # Its own agent's path, with A1's token: the token is not for it.
        for name in _SESSION_CALLS:
            got = _session_call(world, neighbour, name, world.neighbour_id, world.token)
            assert got.status_code == 401, (name, got.text)
            assert got.json()["error"]["code"] == "INVALID_SESSION_TOKEN"
            no_leak(world, got)
    with as_key(stack, world.acme.master) as admin:
        # The tenant's master key reaches A1, but a session is the key's that opened it:
        # the master opens its own.
        for name in _SESSION_CALLS:
            got = _session_call(world, admin, name, world.agent, world.token)
            assert got.status_code == 401, (name, got.text)
            no_leak(world, got)
        own = admin.post(f"/api/v2/agents/{world.agent}/activate").json()["session_token"]
        assert _session_call(world, admin, "GET recall", world.agent, own).status_code == 200
    with as_key(stack, world.acme.agent_key) as owner:
        for name in _READS:
            got = _session_call(world, owner, name, world.agent, world.token)
            assert got.status_code == 200, (name, got.text)


def test_a_revoked_key_ends_its_sessions(stack, world):
    agent = world.agent
    with as_key(stack, world.acme.master) as admin:
        made = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent}).json()
    with as_key(stack, made["key"]) as holder:
        token = holder.post(f"/api/v2/agents/{agent}/activate").json()["session_token"]
        assert _session_call(world, holder, "GET recall", agent, token).status_code == 200
        with as_key(stack, world.acme.master) as admin:
            assert admin.delete(f"/v1/keys/{made['id']}").status_code == 200
        eventually(
            lambda: _session_call(world, holder, "GET recall", agent, token).status_code == 401,
            timeout=5,
        )
    # Nor does the token pass with another live key of the same agent, or the master key.
    for key in (world.acme.agent_key, world.acme.master):
        with as_key(stack, key) as other:
            for name in ("GET recall", "POST remember", "POST extend", "GET status"):
                got = _session_call(world, other, name, agent, token)
                assert got.status_code == 401, (name, got.text)


# What the owner writes in the tests above (any others in A1's memories are a stranger's).
OWNER_WRITES = ("kept for the owner's retries", "the owner's own note about the Q3 budget")


def test_an_idempotency_key_is_replayed_only_to_the_caller_that_used_it(stack, world):
    headers = {"Idempotency-Key": "iso-" + uuid.uuid4().hex}
    body = {"userId": world.user, "content": OWNER_WRITES[0]}
    with as_key(stack, world.acme.agent_key) as owner:
        first = owner.post("/v1/ingest", json=body, headers=headers)
        assert first.status_code == 202
    for who, key in world.strangers.items():
        with as_key(stack, key) as stranger:
            again = stranger.post("/v1/ingest", json=body, headers=headers)
            assert again.status_code == 202, (who, again.text)
            assert "Idempotent-Replayed" not in again.headers, who
            assert again.json()["id"] != first.json()["id"], who


def test_a_source_id_is_the_agents_own(stack, world):
    """sourceId makes an ingest idempotent for one agent; another agent's memory with the
    same user and sourceId is its own, not a duplicate of the first."""
    item = {"userId": world.user, "content": "squatted", "sourceId": "crm:" + uuid.uuid4().hex}
    with as_key(stack, world.neighbour_key) as neighbour:
        first = neighbour.post("/v1/ingest", json=item)
        assert first.status_code == 202
    mine = {**item, "content": OWNER_WRITES[1]}
    with as_key(stack, world.acme.agent_key) as owner:
        sent = owner.post("/v1/ingest", json=mine)
        assert sent.status_code == 202
        assert sent.json()["id"] != first.json()["id"]
        got = eventually(
            lambda: (r := owner.get(f"/v1/memories/{sent.json()['id']}")).status_code == 200 and r
        )
        assert got.json()["content"] == mine["content"]
        assert got.json()["agentId"] == world.agent


def test_an_agents_audit_is_its_own_whatever_its_name(stack, acme):
    """An agent sees the chains it took part in; `_` in its id is a character, not a
    wildcard that would match another agent's id."""
    tag = uuid.uuid4().hex[:8]
    keys = {}
    with as_key(stack, acme.master) as admin:
        for agent_id in (f"isoq{tag}", f"iso_{tag}"):
            assert admin.post("/v1/agents", json={"id": agent_id, "name": agent_id}).is_success
            made = admin.post("/v1/keys", json={"kind": "agent", "agentId": agent_id})
            keys[agent_id] = made.json()["key"]
    with as_key(stack, keys[f"isoq{tag}"]) as first:
        sent = first.post("/v1/ingest", json={"userId": "u-" + tag, "content": "quiet"})
        memory_id = sent.json()["id"]

        def chain() -> list | None:
            events = first.get("/v1/audit/events", params={"type": "memory.recorded"}).json()
            return [e for e in events["events"] if memory_id in str(e)] or None

        eventually(chain)
    with as_key(stack, keys[f"iso_{tag}"]) as second:
        seen = second.get("/v1/audit/events", params={"limit": 1000})
        assert seen.status_code == 200
        assert memory_id not in seen.text


def test_the_audit_chain_shows_the_agent_key_that_made_the_request(stack, acme, world):
    def chain(client: httpx.Client) -> list[dict] | None:
        events = client.get(
            "/v1/audit/events", params={"correlation_id": world.correlation}
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


def test_an_agent_key_sees_no_position_in_a_stream_its_tenants_agents_share(stack, acme, world):
    """A user's facts, entities and passes are kept in streams per user, which every agent
    of the tenant writes to: the jump between two versions an agent saw told it how many
    memories and facts the other agents gave the same user. The master key sees them."""

    def chain(client: httpx.Client) -> list[dict] | None:
        events = client.get(
            "/v1/audit/events", params={"correlation_id": world.correlation}
        ).json()["events"]
        shared = [e for e in events if str(e["data"].get("stream_id", "")).startswith("synth")]
        return events if shared else None

    with as_key(stack, acme.master) as admin:
        seen = eventually(lambda: chain(admin))
    assert all("stream_version" in e["data"] for e in seen if e["kind"] == "event")
    with as_key(stack, acme.agent_key) as agent:
        mine = eventually(lambda: chain(agent))
    events = [e for e in mine if e["kind"] == "event"]
    assert events and all("stream_id" in e["data"] for e in events)
    assert not [e for e in mine if "stream_version" in e["data"]], mine


def test_a_neighbour_that_knows_a_user_of_the_same_name_has_facts_of_its_own(stack, world):
    """Agents of a tenant share its user names, not their facts: what the neighbour says
    about A1's user (the same employer, then another; another manager) neither supersedes
    nor corroborates A1's facts, and tells the neighbour nothing of them (A1's manager as
    its 'former manager')."""
    since = {"userId": world.user, "changedSince": "2000-01-01T00:00:00Z"}
    with as_key(stack, world.neighbour_key) as neighbour:
        for line in ("I work at Initech.", "My manager is Sarah Connor. I just joined Globex."):
            sent = neighbour.post("/v1/ingest", json={"userId": world.user, "content": line})
            assert sent.status_code == 202, sent.text

        def settled() -> list[dict] | None:
            facts = neighbour.get("/v1/facts", params=since).json()["facts"]
            current = {f["value"] for f in facts if f["status"] == "current"}
            return facts if {"Globex", "Sarah Connor"} <= current and len(facts) >= 3 else None

        facts = eventually(settled)
        assert {f["agentId"] for f in facts} == {world.neighbour_id}, facts
        for seen in (
            neighbour.get("/v1/facts", params=since),
            neighbour.get("/v1/entities", params={"userId": world.user}),
            neighbour.get("/v1/context", params={"userId": world.user}),
        ):
            assert seen.status_code == 200, seen.text
            assert "Lumbergh" not in seen.text and world.fact_id not in seen.text, seen.text
    with as_key(stack, world.acme.agent_key) as owner:
        mine = owner.get("/v1/facts", params=since).json()["facts"]
    assert {f["agentId"] for f in mine} == {world.agent}
    assert all(f["status"] == "current" for f in mine), mine
    assert not {"Globex", "Sarah Connor"} & {f["value"] for f in mine}


def test_nothing_of_the_owner_changed(stack, world):
    """After every stranger's call: A1's memory, fact, agent, key and session as they were,
    and no memory of A1's that A1 did not write."""
    with as_key(stack, world.acme.agent_key) as owner:
        memory = owner.get(f"/v1/memories/{world.memory_id}")
        assert memory.status_code == 200 and memory.json()["content"] == CONTENT
        listed = owner.get("/v1/facts", params={"userId": world.user}).json()["facts"]
        fact = next(f for f in listed if f["id"] == world.fact_id)
        assert fact["status"] == "current"
        assert not fact["validated"] and not fact["contradicted"]
        agent = owner.get(f"/v1/agents/{world.agent}").json()
        assert agent["name"] != "mine now"
        status = _session_call(world, owner, "GET status", world.agent, world.token).json()
        assert status["session_active"] is True
        # What the owner writes now is recorded after anything a stranger wrote before.
        marker = owner.post("/v1/ingest", json={"userId": world.user, "content": "last word"})
        assert marker.status_code == 202
        eventually(lambda: owner.get(f"/v1/memories/{marker.json()['id']}").status_code == 200)
        exported = owner.get(f"/api/memory/agents/{world.agent}/export").json()["data"]
    contents = {m["content"]["text"] for m in exported["memories"]}
    assert {CONTENT, "last word"} <= contents
    assert contents <= {CONTENT, "last word", *OWNER_WRITES}, contents
