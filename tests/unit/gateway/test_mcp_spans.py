"""The MCP SDK names a call's span after the tool the client asked for, and carries it as
`gen_ai.tool.name`, whatever it sent: a span leaves the process (OTLP), so one names only
Mnemo's tools; a name the client sent for no tool (its input: anything) is `unknown`,
as no error quotes it. The call itself goes on with what was sent."""

from typing import Any

import mcp.shared._otel as sdk_otel
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mnemo.gateway.mcp.server import build_server

SAID = "my diary: I cannot stand my boss"


@pytest.fixture
def exported(monkeypatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(sdk_otel, "_tracer", provider.get_tracer("mcp-python-sdk"))
    return exporter


async def _call(method: str, name: str, request_id: Any = 7) -> dict[str, Any]:
    from mcp.server.context import ServerRequestContext

    [otel, *_] = build_server(lambda ctx: None).middleware  # type: ignore[arg-type,return-value]
    ctx = ServerRequestContext(
        session=None,  # type: ignore[arg-type]
        lifespan_context={},
        protocol_version="2025-06-18",
        method=method,
        params={"name": name, "arguments": {}},
        request_id=request_id,
    )
    seen: dict[str, Any] = {}

    async def call_next(given: Any) -> Any:
        seen.update(given.params, method=given.method, request_id=given.request_id)
        return {}

    await otel(ctx, call_next)
    return seen


async def test_a_name_sent_for_no_tool_is_in_no_span_and_the_call_gets_it(exported):
    seen = await _call("tools/call", SAID)
    assert seen["name"] == SAID  # the SDK still answers "no such tool" (unquoted)
    [span] = exported.get_finished_spans()
    assert span.name == "tools/call unknown"
    assert span.attributes["gen_ai.tool.name"] == "unknown"
    assert [k for k, v in span.attributes.items() if SAID in str(v)] == []


async def test_a_prompt_name_is_in_no_span(exported):
    await _call("prompts/get", SAID)
    [span] = exported.get_finished_spans()
    assert SAID not in span.name and SAID not in str(dict(span.attributes))


async def test_mnemos_own_tools_are_named(exported):
    seen = await _call("tools/call", "remember")
    assert seen["name"] == "remember"
    [span] = exported.get_finished_spans()
    assert span.name == "tools/call remember"
    assert span.attributes["gen_ai.tool.name"] == "remember"


async def test_a_method_or_a_text_id_the_client_wrote_is_in_no_span(exported):
    """The method names the span and the JSON-RPC id is an attribute: both are what the
    client wrote (`{"method": "<my diary…>", "id": "<…>"}`); the call gets them as sent."""
    seen = await _call(SAID, "remember", request_id=SAID + " (id)")
    assert seen["method"] == SAID and seen["request_id"] == SAID + " (id)"
    [span] = exported.get_finished_spans()
    assert span.name.startswith("unknown")
    assert [k for k, v in span.attributes.items() if SAID in str(v)] == []


async def test_a_known_method_and_a_number_id_are_shown(exported):
    await _call("tools/list", "remember", request_id=41)
    [span] = exported.get_finished_spans()
    assert span.attributes["mcp.method.name"] == "tools/list"
    assert span.attributes["jsonrpc.request.id"] == "41"
