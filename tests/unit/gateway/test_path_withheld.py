"""A path segment that names what a user said (a Mem0 run's name: a session id, which the
audit never keeps) is shown as `{withheld}` in the request's log line, audit entry and
span, whose URL and target the instrumentation took from the raw path. It is found by the
path's shape, whatever answers the request (a route, an Idempotency-Key replay, the input
guard, a 405)."""

from types import SimpleNamespace

import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mnemo.gateway.http_telemetry import RouteTelemetry
from mnemo.gateway.paths import shown_path

RUN = "therapy-with-dr-jones"


async def _deletes_a_run(scope, receive, send) -> None:
    scope["path_template"] = "/v2/entities/{kind}/{name}"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _scope(path: str) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "DELETE",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"user=1",
        "headers": [(b"host", b"127.0.0.1:8080")],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 5000),
        "state": {},
    }


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (f"/v2/entities/run/{RUN}/", "/v2/entities/run/{withheld}/"),
        (f"/mem0/v2/entities/run/{RUN}", "/mem0/v2/entities/run/{withheld}"),
        ("/v2/entities/run/ward/7/jones/", "/v2/entities/run/{withheld}/"),
        ("/v2/entities/run/a//b/", "/v2/entities/run/{withheld}/"),
        ("//v2/entities//run/x/", "/v2/entities/run/{withheld}/"),
        ("/v2/entities/app/my-secret-app/", "/v2/entities/app/{withheld}/"),
        ("/v2/entities/user/alice/", "/v2/entities/user/alice/"),
        ("/v1/memories/5f0c/", "/v1/memories/5f0c/"),
    ],
)
def test_a_session_in_a_path_is_withheld_by_the_paths_shape(path, shown):
    assert shown_path(_scope(path)) == shown


async def test_the_span_shows_the_path_as_the_log_line_does():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = OpenTelemetryMiddleware(
        RouteTelemetry(_deletes_a_run), tracer_provider=provider, exclude_spans=["receive", "send"]
    )

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict) -> None:
        pass

    await app(_scope(f"/v2/entities/run/{RUN}/"), receive, send)
    [span] = exporter.get_finished_spans()
    assert span.name == "DELETE /v2/entities/{kind}/{name}"
    shown = {k: v for k, v in (span.attributes or {}).items() if isinstance(v, str)}
    assert [k for k, v in shown.items() if RUN in v] == []
    assert shown["http.target"] == "/v2/entities/run/{withheld}/"
    assert shown["http.url"] == "http://127.0.0.1:8080/v2/entities/run/{withheld}/"


ROOM = "0b9e4a52-6f0d-4c8e-9a53-3f1f2b7c1d10"
AGENT = "5d3c1a9e-2b7f-4e61-8c0a-9f4e2d1b6a37"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/agents/{AGENT}/rooms/{ROOM}",
        f"/api/memory/agents/{AGENT}/rooms/{ROOM}/memories?before=1700000000000",
        f"/api/memory/{AGENT}/rooms/{ROOM}/memories",
    ],
)
def test_an_eliza_rooms_id_in_a_path_is_withheld(path, monkeypatch):
    """An ElizaOS room is a session (roomId -> session_id), whose id the audit never keeps:
    a path naming one is logged, audited and traced with it withheld, as a Mem0 run's."""
    from litestar import Litestar
    from litestar.testing import TestClient

    from mnemo.contracts import MemoryPage
    from mnemo.gateway.compat import eliza_memories, eliza_rooms
    from mnemo.gateway.compat.eliza import eliza_router

    async def agent_of(_request, agent_id, _action):
        return SimpleNamespace(tenant_id="acme"), agent_id

    async def ask(*_args, **_kw):
        return MemoryPage(memories=[], total=0, limit=1, offset=0)

    for module in (eliza_memories, eliza_rooms):
        monkeypatch.setattr(module, "agent_of", agent_of)
        monkeypatch.setattr(module, "deps_of", lambda _request: SimpleNamespace(ask=ask))
    shown: list[str] = []
    app = Litestar(route_handlers=[eliza_router])

    async def recording(scope, receive, send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http":
            shown.append(shown_path(scope))

    with TestClient(recording) as client:
        answer = client.get(path)
    assert answer.status_code in (200, 404), answer.text
    assert shown and ROOM not in shown[-1]
    assert "/{withheld}" in shown[-1] and AGENT in shown[-1]
