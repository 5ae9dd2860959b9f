"""What an error says never carries a secret the caller sent, wherever it quotes it: a
field named by a JSON key or a query parameter's name (on every surface's error shape),
an MCP tool error, an error the MCP SDK answers itself (pydantic quotes the input), the
id it echoes; and a /mcp body only the SDK's parsers read (NaN) is refused."""

import json
from typing import Any

import httpx
import pytest

from mnemo.gateway.app import REFUSALS
from mnemo.gateway.compat.memanto_compress import compressed_messages
from mnemo.gateway.guard import InputGuard
from mnemo.gateway.mcp.calls import call_tool
from mnemo.gateway.mcp.endpoint import McpEndpoint
from mnemo.gateway.mcp.stdin_messages import INVALID_REQUEST, refusal
from mnemo.gateway.problems import Problem, problem_body

GITHUB = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
MNEMO_KEY = "mk_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PASSWORD = "Sup3rS3cret"
SECRETS = (GITHUB, MNEMO_KEY, PASSWORD)


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_a_problem_names_its_field_redacted():
    problem = Problem(400, "INVALID_REQUEST", "no NUL", field=f"metadata.{GITHUB}")
    assert problem.details["field"] == "metadata.[REDACTED:github_token]"
    assert leaked(problem_body(problem, "/v1/ingest").decode()) == []


async def _refused(path: str, query: bytes, body: bytes) -> httpx.Response:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the guard lets nothing with NUL through")

    guard = InputGuard(app, 1 << 20, REFUSALS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard), base_url="http://gateway"
    ) as client:
        return await client.post(f"{path}?{query.decode()}", content=body)


SURFACES = [
    "/v1/ingest",
    "/mem0/v1/memories/",
    "/api/v2/agents/a/remember",
    "/api/agents/a/memories",
    "/api/events",
]


@pytest.mark.parametrize("path", SURFACES)
async def test_a_refusal_names_a_field_that_is_a_secret_as_its_placeholder(path):
    """The guard names a JSON key, or a query parameter, that holds NUL: the name is what
    the caller sent, and every surface's error shape quotes it."""
    nul_value = json.dumps({"metadata": {GITHUB: "a\x00"}}).encode()
    answers = [
        await _refused(path, b"", nul_value),
        await _refused(path, GITHUB.encode() + b"=%00", b""),
    ]
    for answer in answers:
        assert answer.status_code in {400, 422}, answer.text
        assert leaked(answer.text) == [], answer.text
        assert "[REDACTED:github_token]" in answer.text, answer.text


async def test_a_tool_error_quotes_an_argument_as_its_placeholder():
    """msgspec names an unknown argument, and quotes a value none of an enum's."""
    async with httpx.AsyncClient(base_url="http://gateway.invalid") as client:
        unknown = await call_tool(client, "search", {"userId": "u", "query": "q", GITHUB: 1}, {})
        enum = await call_tool(
            client, "search", {"userId": "u", "query": "q", "searchMode": GITHUB}, {}
        )
    for result in (unknown, enum):
        assert result.is_error
        text = json.dumps(result.model_dump(mode="json"))
        assert leaked(text) == [] and "[REDACTED:github_token]" in text, text


async def _served(app: Any) -> None:
    raise AssertionError("no tool reaches the gateway here")


async def _mcp(*bodies: bytes) -> list[httpx.Response]:
    endpoint = McpEndpoint(_served)
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": "Bearer x",
        "Mcp-Protocol-Version": "2025-06-18",
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {}).update(correlation_id="c", request_id="r")
        await endpoint.serve(scope, receive, send)

    async with (
        endpoint.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        return [await client.post("/mcp", content=body, headers=headers) for body in bodies]


async def test_the_sdks_own_errors_quote_a_secret_as_its_placeholder():
    """pydantic's validation errors quote the input (`input_value='mk_...'`), which the
    SDK answers as its error message."""
    wrong_version, wrong_params = await _mcp(
        json.dumps({"jsonrpc": MNEMO_KEY, "id": 1, "method": "ping"}).encode(),
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": f"postgres://a:{PASSWORD}@db/x"}
        ).encode(),
    )
    for answer in (wrong_version, wrong_params):
        assert answer.status_code == 400 and "error" in answer.json(), answer.text
        assert leaked(answer.text) == [], answer.text
        assert int(answer.headers["content-length"]) == len(answer.content)
        # pydantic cuts a long value short (`...s://a:pass@db/x`), past what a rule can
        # recognise: what it quotes of the input is dropped whole; the rest is kept.
        assert "input_value" not in answer.text and "input_type=str" in answer.text


async def test_a_body_only_the_sdk_parses_is_refused_or_checked_as_the_guard_does():
    """NaN is no JSON: msgspec (the guard's parser) cannot read it, so the guard checked
    nothing, and the SDK would echo a secret id. A lone surrogate the stateless
    revision's parser reads is checked here as the guard checks a body."""
    nan = b'{"jsonrpc":"2.0","id":"%s","method":"nope","x":NaN}' % GITHUB.encode()
    surrogate = b'{"jsonrpc":"2.0","id":"%s","method":"nope","x":"a\\ud800"}' % GITHUB.encode()
    refused_nan, refused_id = await _mcp(nan, surrogate)
    assert refused_nan.status_code == 400 and refused_nan.json()["error"]["code"] == -32700
    assert refused_nan.json()["id"] is None
    assert refused_id.status_code == 400 and refused_id.json()["code"] == "INVALID_ID"
    for answer in (refused_nan, refused_id):
        assert leaked(answer.text) == [], answer.text


def test_stdio_refuses_a_line_the_guard_would_refuse_over_http():
    line = json.dumps({"jsonrpc": "2.0", "id": GITHUB, "method": "nope"}).encode()
    code, message = refusal(line) or (0, "")
    assert code == INVALID_REQUEST and leaked(message) == [], message


def test_a_compressed_conversation_echoes_what_it_keeps_redacted():
    said = {"role": "user", "content": f"My token is {GITHUB}. I live in Paris."}
    answer = compressed_messages({"messages": [said, {"role": "assistant", "content": "ok"}]})
    text = json.dumps(answer)
    assert leaked(text) == [] and "[REDACTED:github_token]" in text, text
