"""The MCP server, driven by the official `mcp` SDK's own client over both transports:
stdio (`mnemo mcp` spawned by `stdio_client`) and streamable HTTP (the gateway's /mcp).
Every tool is a call of the public API with the caller's key, so what holds for the API
(isolation, idempotency, audit) holds here, and a wrong argument is a tool error naming
the field."""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .stack import free_port
from .test_accounts import Tenant, as_key, sign_up
from .test_limits import _fresh_window
from .test_redaction import fake_aws_key, fake_github_token
from .waiting import eventually, eventually_async

Connect = Callable[[str], AbstractAsyncContextManager[ClientSession]]
TOOLS = {
    "remember",
    "search",
    "get_context",
    "list_facts",
    "validate_fact",
    "supersede_fact",
    "contradict_fact",
    "forget_user",
    "read_memory_pack",
}


@asynccontextmanager
async def over_http(
    stack, key: str | None, url: str | None = None, **headers: str
) -> AsyncIterator[ClientSession]:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{url or stack.base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def stdio_log(stack) -> TextIO:
    """Where the spawned `mnemo mcp` writes its log lines (stderr), beside the stack's."""
    return open(stack.home / "logs" / "mcp-stdio.log", "a")


@asynccontextmanager
async def over_stdio(stack, key: str, url: str | None = None) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(
        command=str(Path(sys.executable).parent / "mnemo"),
        args=["mcp"],
        env={"MNEMO_GATEWAY_URL": url or stack.base_url, "MNEMO_API_KEY": key},
    )
    with stdio_log(stack) as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@pytest.fixture(params=["stdio", "http"])
def transport(request) -> str:
    return request.param


@pytest.fixture
def connect(transport, stack) -> Connect:
    if transport == "stdio":
        return lambda key: over_stdio(stack, key)
    return lambda key: over_http(stack, key)


@pytest.fixture(scope="module")
def acme(stack) -> Tenant:
    with stack.client() as api:
        return sign_up(api, "mcp-" + uuid.uuid4().hex[:6])


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict:
    """The tool's answer (the native route's JSON); fails on a tool error."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, result.content
    [text] = result.content
    assert isinstance(text, types.TextContent)
    return json.loads(text.text)


async def refused(session: ClientSession, tool: str, **arguments: Any) -> dict:
    """The tool error's detail ({error, field, status, code})."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, types.CallToolResult)
    assert result.is_error, result.content
    return result.structured_content or {}


async def found(session: ClientSession, user: str, query: str) -> list[dict]:
    return (await call(session, "search", userId=user, query=query))["results"]


def new_user() -> str:
    return "mcp-user-" + uuid.uuid4().hex[:8]


async def test_the_tools_are_listed_with_the_native_contracts(stack, connect):
    async with connect(stack.api_key) as session:
        listed = await session.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    remember = tools["remember"].input_schema
    # Generated from the ingest route's own Struct: its names, its required fields.
    assert set(remember["required"]) == {"userId", "content"}
    assert {"sourceType", "sourceId", "sessionId", "agentId", "metadata"} <= set(
        remember["properties"]
    )
    assert remember["additionalProperties"] is False
    search = tools["search"].input_schema
    assert search["properties"]["searchMode"]["enum"] == ["hybrid", "keyword", "vector"]
    assert "SearchFilters" in search["$defs"]
    assert tools["supersede_fact"].input_schema["required"] == ["content", "factId"]
    # What a client may tell its user before a call.
    reads = {name for name, t in tools.items() if t.annotations.read_only_hint}
    assert reads == {"search", "get_context", "list_facts"}
    assert [n for n, t in tools.items() if t.annotations.destructive_hint] == ["forget_user"]


async def test_what_is_remembered_is_found_and_in_context(stack, connect):
    user, token = new_user(), uuid.uuid4().hex[:8]
    async with connect(stack.api_key) as session:
        sent = await call(
            session,
            "remember",
            userId=user,
            content=f"My cat Zephyr{token} sleeps on the keyboard.",
            sessionId="s1",
        )
        assert sent["queued"] is True
        hits = await eventually_async(lambda: found(session, user, f"Zephyr{token} cat"))
        assert hits[0]["id"] == sent["id"]
        assert f"Zephyr{token}" in hits[0]["content"]
        context = await call(session, "get_context", userId=user, q="the cat", limit=3)
        assert [r["metadata"]["id"] for r in context["relevant"]] == [sent["id"]]
        assert set(context) == {"static", "dynamic", "relevant"}


async def test_facts_are_listed_validated_superseded_and_contradicted(stack, connect):
    user, token = new_user(), uuid.uuid4().hex[:6]
    old, new = f"Initech{token}", f"Hooli{token}"
    async with connect(stack.api_key) as session:
        await call(
            session,
            "remember",
            userId=user,
            content=f"I work at {old}. I live in Oslo.",
            metadata={"timestamp": "2026-03-01T09:00:00Z"},
        )

        async def two_facts() -> dict[str, dict] | None:
            facts = (await call(session, "list_facts", userId=user))["facts"]
            return {f["statement"]: f for f in facts} if len(facts) == 2 else None

        facts = await eventually_async(two_facts)
        employer, place = facts[f"Works at {old}"], facts["Lives in Oslo"]

        validated = await call(session, "validate_fact", factId=employer["id"])
        assert validated["fact"]["validated"] is True and validated["fact"]["confidence"] == 1.0

        superseded = await call(
            session,
            "supersede_fact",
            factId=employer["id"],
            content=f"Works at {new}",
            value=new,
            validFrom="2026-04-01T00:00:00Z",
        )
        assert superseded["fact"]["status"] == "superseded"
        assert superseded["fact"]["validTo"].startswith("2026-04-01")
        assert superseded["newFact"]["value"] == new

        contradicted = await call(
            session, "contradict_fact", factId=place["id"], reason="moved away"
        )
        assert contradicted["fact"]["contradicted"] is True

        async def changed() -> dict[str, dict] | None:
            facts = (await call(session, "list_facts", userId=user))["facts"]
            now = {f["statement"]: f for f in facts}
            return now if f"Works at {new}" in now else None

        now = await eventually_async(changed)
        assert now[f"Works at {new}"]["status"] == "current"
        assert f"Works at {old}" not in now
        assert now["Lives in Oslo"]["contradicted"] is True
        # Ending a fact twice is the route's 409, a tool error.
        again = await refused(
            session, "supersede_fact", factId=employer["id"], content=f"Works at {old}"
        )
        assert again["status"] == 409


async def test_a_memory_pack_is_read(stack, connect, acme):
    user, token = new_user(), uuid.uuid4().hex[:6]
    async with connect(acme.agent_key) as session:
        await call(session, "remember", userId=user, content=f"I work at Globex{token}.")

        async def pack() -> dict | None:
            result = await session.call_tool(
                "read_memory_pack", {"agentId": acme.agent_id, "userId": user}
            )
            assert isinstance(result, types.CallToolResult)
            got = result.structured_content or {}
            if result.is_error:
                # 404 until synthesis has something to compile from; nothing else.
                assert got["status"] == 404, got
                return None
            return got if got["knowledgeCount"] else None

        got = await eventually_async(pack)
    assert got["agentId"] == acme.agent_id and got["tokenCount"] <= got["maxTokens"]
    assert f"Globex{token}" in got["content"]["context"]


async def test_forgetting_a_user_leaves_nothing_to_find(stack, connect):
    user, token = new_user(), uuid.uuid4().hex[:8]
    async with connect(stack.api_key) as session:
        await call(session, "remember", userId=user, content=f"My locker code is Quokka{token}")
        await eventually_async(lambda: found(session, user, f"Quokka{token}"))
        forgotten = await call(session, "forget_user", userId=user)
        assert forgotten["deleted"] is True and forgotten["removed"]["memories"] == 1
        # Reads after the answer do not see it (README, Forgetting).
        assert await found(session, user, f"Quokka{token}") == []


async def test_a_retry_with_the_same_idempotency_key_is_stored_once(stack, connect):
    user, key = new_user(), "mcp-retry-" + uuid.uuid4().hex
    # A tenant of its own: a forget erases every kept answer of its tenant once it has
    # answered (the previous test forgets a user of the development tenant), which would
    # turn the mismatch below into a second run.
    with stack.client() as api:
        own = sign_up(api, "mcp-retry-" + uuid.uuid4().hex[:6])
    async with connect(own.master) as session:
        first = await call(session, "remember", userId=user, content="Once", idempotencyKey=key)
        second = await call(session, "remember", userId=user, content="Once", idempotencyKey=key)
        assert second["id"] == first["id"]
        other = await refused(
            session, "remember", userId=user, content="Another", idempotencyKey=key
        )
        assert other["status"] == 409


async def test_a_tool_call_is_limited_as_its_route_is(stack, transport):
    """A search through MCP spends the key's `search` budget, as a direct search does; the
    MCP requests themselves are counted under `mcp`, another budget."""
    key = f"{stack.api_key}-mcp-{transport}"
    with stack.extra_gateway(key, MNEMO_RATE_LIMITS="search=2,default=1000") as gateway:
        url = str(gateway.base_url)
        _fresh_window()
        opened = (
            over_stdio(stack, key, url=url)
            if transport == "stdio"
            else over_http(stack, key, url=url)
        )
        async with opened as session:
            for _ in range(2):
                await call(session, "search", userId=new_user(), query="anything")
            over = await refused(session, "search", userId=new_user(), query="anything")
            assert (over["status"], over["code"]) == (429, "RATE_LIMIT")
            # Context is another action, with a budget of its own.
            await call(session, "get_context", userId=new_user())


async def test_bad_input_is_a_tool_error_naming_the_field(stack, connect):
    async with connect(stack.api_key) as session:
        # Decoded against the route's Struct before any call: the field is named.
        missing = await refused(session, "remember", content="no user")
        assert missing["field"] == "userId"
        wrong = await refused(session, "search", userId="u", query="q", limit="ten")
        assert wrong["field"] == "limit"
        unknown = await refused(session, "list_facts", userId="u", userID="typo")
        assert "userID" in unknown["error"]
        # Checked by the route itself (its 400 problem), passed on with its field.
        empty = await refused(session, "remember", userId="u", content="   ")
        assert (empty["status"], empty["field"]) == (400, "content")
        late = await refused(session, "get_context", userId="u", asOf="yesterday")
        assert (late["status"], late["field"]) == (400, "asOf")
        nobody = await refused(session, "validate_fact", factId="no-such-fact")
        assert nobody["status"] == 404
        assert (await refused(session, "no_such_tool"))["field"] == "name"
        # The session is still good after all of that.
        assert len((await session.list_tools()).tools) == len(TOOLS)


async def test_an_agent_key_reaches_only_its_agent(stack, connect, acme):
    user, token = new_user(), uuid.uuid4().hex[:8]
    with as_key(stack, acme.master) as admin:
        other = admin.post("/v1/agents", json={"name": "other-" + token}).json()
        other_key = admin.post("/v1/keys", json={"kind": "agent", "agentId": other["id"]})
    async with connect(acme.agent_key) as owner:
        await call(owner, "remember", userId=user, content=f"My PIN is Walrus{token}")
        await eventually_async(lambda: found(owner, user, f"Walrus{token}"))
    async with connect(other_key.json()["key"]) as stranger:
        assert await found(stranger, user, f"Walrus{token}") == []
        context = await call(stranger, "get_context", userId=user, q=f"Walrus{token}")
        assert context["relevant"] == [] and context["static"] == []
        asked = await refused(
            stranger, "search", userId=user, query="PIN", filters={"agentId": acme.agent_id}
        )
        assert asked["status"] == 404
        pack = await refused(stranger, "read_memory_pack", agentId=acme.agent_id, userId=user)
        assert pack["status"] == 404
        # Forgetting a user is the tenant's call: 403 for an agent key.
        assert (await refused(stranger, "forget_user", userId=user))["status"] == 403
    async with connect(stack.api_key) as other_tenant:
        assert await found(other_tenant, user, f"Walrus{token}") == []


async def test_the_stateless_protocol_revision_is_served_too(stack):
    """The SDK's high-level Client probes server/discover and speaks the 2026-07-28
    revision (no initialize handshake, one request per POST) when the server offers it."""
    user, token = new_user(), uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{stack.base_url}/mcp", http_client=http)) as client,
    ):
        assert client.protocol_version in MODERN_PROTOCOL_VERSIONS
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        sent = await client.call_tool(
            "remember", {"userId": user, "content": f"My bike is called Tornado{token}"}
        )
        assert not sent.is_error, sent.content

        async def hits() -> list:
            got = await client.call_tool("search", {"userId": user, "query": f"Tornado{token}"})
            assert not got.is_error, got.content
            return (got.structured_content or {}).get("results", [])

        [hit] = await eventually_async(hits)
        assert hit["id"] == (sent.structured_content or {})["id"]


async def test_the_http_endpoint_needs_a_key(stack):
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as http:
        bare = await http.post("/mcp", json=initialize, headers=headers)
        wrong = await http.post(
            "/mcp", json=initialize, headers={**headers, "Authorization": "Bearer mk_nope"}
        )
        # Stateless: no event stream to open, no session to end (the spec allows 405).
        stream = await http.get(
            "/mcp", headers={**headers, "Authorization": f"Bearer {stack.api_key}"}
        )
    for response in (bare, wrong):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "UNAUTHORIZED"
    assert stream.status_code == 405 and "POST" in stream.headers["allow"]
    # The SDK's client gets no further than the 401: its session fails to open.
    statuses: list[int] = []

    async def seen(response: httpx2.Response) -> None:
        statuses.append(response.status_code)

    with pytest.raises(BaseException) as failed:  # the SDK wraps its MCPError
        async with (
            httpx2.AsyncClient(event_hooks={"response": [seen]}, timeout=60) as http,
            streamable_http_client(f"{stack.base_url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
    assert statuses == [401]
    assert (
        failed.group_contains(MCPError)
        if isinstance(failed.value, BaseExceptionGroup)
        else (isinstance(failed.value, MCPError))
    )


def audit_chain(stack, correlation: str, *wanted: str) -> list[dict]:
    with stack.client() as api:
        response = api.get("/v1/audit/events", params={"correlation_id": correlation})
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    types_seen = {e["type"] for e in events}
    return events if set(wanted) <= types_seen else []


async def test_an_mcp_call_is_in_its_correlations_audit_chain(stack):
    correlation = "mcp-audit-" + uuid.uuid4().hex[:8]
    async with over_http(stack, stack.api_key, **{"x-correlation-id": correlation}) as session:
        result = await session.call_tool(
            "remember", {"userId": new_user(), "content": "Audited through MCP"}
        )
    assert not result.is_error and result.meta["mnemo/correlationId"] == correlation
    events = eventually(lambda: audit_chain(stack, correlation, "ingest.memory", "memory.recorded"))
    paths = {e["data"].get("path") for e in events if e["type"] == "http.request"}
    # The MCP request itself and the native call it made, one chain.
    assert {"/mcp", "/v1/ingest"} <= paths
    # Both made with the caller's key.
    assert {e["data"].get("actor") for e in events if e["type"] == "http.request"} == {"key:dev"}


async def test_a_stdio_call_says_which_chain_it_is_in(stack):
    async with over_stdio(stack, stack.api_key) as session:
        result = await session.call_tool(
            "remember", {"userId": new_user(), "content": "Audited through stdio"}
        )
    assert not result.is_error
    correlation = result.meta["mnemo/correlationId"]
    events = eventually(lambda: audit_chain(stack, correlation, "ingest.memory", "memory.recorded"))
    assert "/v1/ingest" in {e["data"].get("path") for e in events if e["type"] == "http.request"}


async def test_a_gateway_that_does_not_answer_is_a_tool_error(stack):
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with over_stdio(stack, stack.api_key, url=nowhere) as session:
        gone = await refused(session, "search", userId=new_user(), query="anything")
        assert "did not answer" in gone["error"]
        # The server is still there for the next call.
        assert len((await session.list_tools()).tools) == len(TOOLS)


@pytest.mark.parametrize("key", ["abc\u00e9", "abc\ndef", "abc\n", "x" * 256])
async def test_an_idempotency_key_no_header_can_carry_is_a_tool_error_naming_it(
    stack, connect, key
):
    """Checked as the gateway checks Idempotency-Key, before the call: not an encoder's
    exception text, nor "the gateway did not answer"."""
    user = new_user()
    async with connect(stack.api_key) as session:
        got = await refused(session, "remember", userId=user, content="x", idempotencyKey=key)
        assert got["field"] == "idempotencyKey", got
        assert "printable ASCII" in got["error"]
        assert "codec" not in got["error"] and "did not answer" not in got["error"]
        # Nothing was sent: the user has no memory.
        assert (await call(session, "search", userId=user, query="x"))["results"] == []


@asynccontextmanager
async def raw_stdio(stack) -> AsyncIterator[Callable[[bytes], Awaitable[dict]]]:
    """`mnemo mcp` driven line by line: send one line, read the one answer it gets."""
    env = {**os.environ, "MNEMO_GATEWAY_URL": stack.base_url, "MNEMO_API_KEY": stack.api_key}
    with stdio_log(stack) as errlog:
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "mnemo"),
            "mcp",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errlog,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        async def exchange(line: bytes) -> dict:
            stdin.write(line + b"\n")
            await stdin.drain()
            answer = await asyncio.wait_for(stdout.readline(), timeout=60)
            assert answer, "mnemo mcp closed stdout"
            return json.loads(answer)

        try:
            opened = await exchange(json.dumps(INITIALIZE).encode())
            assert opened["id"] == 1 and "result" in opened, opened
            stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            yield exchange
        finally:
            stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}
SURROGATE_CALL = (
    b'{"jsonrpc":"2.0","id":7,"method":"tools/call",'
    b'"params":{"name":"search","arguments":{"userId":"u","query":"a\\ud800b"}}}'
)
NOT_MESSAGES = [b"{not json", SURROGATE_CALL, SURROGATE_CALL.replace(b"a\\ud800b", b"a\xffb")]


async def test_a_line_that_is_no_message_is_answered_on_stdio_as_over_http(stack):
    """Unparsable (a lone surrogate escape and a byte that is not UTF-8 included): -32700
    with id null, on stdio as on POST /mcp; the stdio server answers the next request."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {stack.api_key}",
    }
    async with raw_stdio(stack) as exchange:
        for line in NOT_MESSAGES:
            answer = await exchange(line)
            assert answer["id"] is None and answer["error"]["code"] == -32700, answer
            assert answer["error"]["message"].startswith("Parse error")
        wrong = await exchange(b'{"jsonrpc":"2.0","id":5,"method":3}')
        assert wrong["id"] is None and wrong["error"]["code"] == -32600, wrong
        listed = await exchange(b'{"jsonrpc":"2.0","id":9,"method":"tools/list"}')
        assert listed["id"] == 9 and len(listed["result"]["tools"]) == len(TOOLS)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        for line in NOT_MESSAGES[:2]:  # the guard refuses a body that is not UTF-8 first
            answer = (await http.post("/mcp", content=line, headers=headers)).json()
            assert answer["id"] is None and answer["error"]["code"] == -32700, answer


async def test_a_lone_surrogate_a_parser_let_through_is_a_tool_error_naming_it(stack):
    """The stateless revision's parser (json.loads) reads "\\ud800"; the tool refuses it
    naming the argument, rather than failing to encode it (-32603 "Internal error")."""
    revision = "2026-07-28"
    body = (
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search",'
        b'"arguments":{"userId":"u","query":"a\\ud800b"},"_meta":{'
        b'"io.modelcontextprotocol/protocolVersion":"' + revision.encode() + b'",'
        b'"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},'
        b'"io.modelcontextprotocol/clientCapabilities":{}}}}'
    )
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {stack.api_key}",
        "MCP-Protocol-Version": revision,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "search",
    }
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        answer = (await http.post("/mcp", content=body, headers=headers)).json()
    assert answer["id"] == 2 and answer["result"]["isError"] is True, answer
    assert answer["result"]["structuredContent"]["field"] == "query"


async def test_an_error_quotes_a_key_the_caller_sent_as_its_placeholder(stack):
    """The SDK answers an unknown method with the method as its data, and a tool of no
    such name was quoted by name: a key sent there comes back as its placeholder, on stdio
    as over HTTP, as every other surface's errors quote input."""
    aws, github = fake_aws_key(), fake_github_token()
    unknown = {"jsonrpc": "2.0", "id": 3, "method": aws, "params": {}}
    tool = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": github, "arguments": {}},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {stack.api_key}",
        "Mcp-Protocol-Version": "2025-06-18",
    }
    answers = []
    async with raw_stdio(stack) as exchange:
        answers += [await exchange(json.dumps(unknown).encode())]
        answers += [await exchange(json.dumps(tool).encode())]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        for message in (unknown, tool):
            answers.append((await http.post("/mcp", json=message, headers=headers)).json())
    for answer in answers:
        text = json.dumps(answer)
        assert aws not in text and github not in text, answer
    assert [a["error"]["code"] for a in answers[0::2]] == [-32601, -32601]
    assert all("[REDACTED:aws_access_key]" in json.dumps(a) for a in answers[0::2])
    assert all(a["result"]["isError"] for a in answers[1::2]), answers


def _remember_over_http(stack, headers: dict, arguments: dict) -> httpx.Response:
    """`remember` called by a plain POST /mcp with `headers` (the caller's key, and an
    Idempotency-Key on the POST itself)."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "remember", "arguments": arguments},
    }
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        return client.post("/mcp", json=message, headers=headers)


def test_a_failed_tool_call_is_not_kept_for_an_outer_idempotency_key(stack):
    """An Idempotency-Key on the POST /mcp itself: an answer holding a tool error (its call
    to the gateway answered 504 while a service was away, say) was kept and replayed for
    every retry, so the retry never ran. A failed call is run again; a good one replays."""
    # A tenant of its own: another test's forget erases every kept answer of its tenant.
    with stack.client() as api:
        own = sign_up(api, "mcp-kept-" + uuid.uuid4().hex[:6])
    headers = {
        "Authorization": f"Bearer {own.master}",
        "Accept": "application/json, text/event-stream",
        "Idempotency-Key": "mcp-" + uuid.uuid4().hex,
    }

    def call(arguments: dict) -> httpx.Response:
        return _remember_over_http(stack, headers, arguments)

    failed = call({"content": "no user named"})
    assert failed.status_code == 200 and failed.json()["result"]["isError"], failed.text
    again = call({"content": "no user named"})
    assert again.headers.get("idempotent-replayed") is None, again.headers
    headers["Idempotency-Key"] = "mcp-" + uuid.uuid4().hex
    user = "u-" + uuid.uuid4().hex[:8]
    good = call({"userId": user, "content": "kept once"})
    assert not good.json()["result"].get("isError"), good.text
    replayed = call({"userId": user, "content": "kept once"})
    assert replayed.headers.get("idempotent-replayed") == "true"


def test_a_call_retried_with_its_outer_idempotency_key_stores_once_when_its_answer_is_gone(
    stack,
):
    """The POST /mcp's Idempotency-Key fixes the ids its tool writes, as a route's key
    does: retried once its kept answer was gone (a forget of another user erased the
    tenant's), `remember` stored the memory a second time. With a tool's own
    `idempotencyKey` too, that one is sent (both were: one request, two keys)."""
    with stack.client() as api:
        own = sign_up(api, "mcp-retry-" + uuid.uuid4().hex[:6])
    user = "u-" + uuid.uuid4().hex[:8]
    headers = {
        "Authorization": f"Bearer {own.master}",
        "Accept": "application/json, text/event-stream",
        "Idempotency-Key": "mcp-" + uuid.uuid4().hex,
    }

    def call(arguments: dict) -> httpx.Response:
        answer = _remember_over_http(stack, headers, arguments)
        assert answer.status_code == 200 and not answer.json()["result"].get("isError"), answer.text
        return answer

    def stored(answer: httpx.Response) -> str:
        return answer.json()["result"]["structuredContent"]["id"]

    said = {"userId": user, "content": "I keep bees"}
    first = stored(call(said))
    with as_key(stack, own.master) as admin:
        assert admin.delete("/v1/user", params={"userId": "someone-else"}).status_code == 200
        again = eventually(
            lambda: (r := call(said)).headers.get("idempotent-replayed") != "true" and r
        )
        assert stored(again) == first
        named = {**said, "content": "and hives", "idempotencyKey": "own-" + uuid.uuid4().hex}
        headers["Idempotency-Key"] = "mcp-" + uuid.uuid4().hex
        call(named)
        page = eventually(
            lambda: (
                (p := admin.get("/v1/memories", params={"userId": user}).json())["total"] == 2 and p
            )
        )
    assert sorted(m["content"] for m in page["memories"]) == ["I keep bees", "and hives"]


async def test_the_server_tells_its_version_on_stdio_as_over_http(stack):
    """`serverInfo.version` was the package's on stdio and empty over POST /mcp."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {stack.api_key}",
    }
    async with raw_stdio(stack) as exchange:
        on_stdio = (await exchange(json.dumps(INITIALIZE).encode()))["result"]["serverInfo"]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        answer = await http.post("/mcp", json=INITIALIZE, headers=headers)
        over_http = answer.json()["result"]["serverInfo"]
    assert on_stdio == over_http and over_http["version"], (on_stdio, over_http)
