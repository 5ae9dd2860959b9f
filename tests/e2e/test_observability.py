"""Observability end to end (#21): one trace per request across the five services, the
Prometheus endpoints of every service, and the dashboard and alerts checked against them.

The stack of this module exports its spans to a real OTLP/HTTP receiver (tests/e2e/
otlp_receiver.py), serves metrics on a port per service, and has synthesis read memories
with an LLM: the STAND-IN chat-completions server of tests/e2e/llm_standin.py (a hosted
model cannot run here; it answers "nothing found").
"""

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy_files import dashboard_expressions, metric_names, rule_expressions

from .conftest import new_stack
from .llm_standin import LLMStandIn, serve
from .otlp_receiver import OtlpReceiver, ReceivedSpan
from .stack import SERVICES, Stack, free_port
from .waiting import eventually

pytestmark = pytest.mark.e2e

SERVER, CONSUMER = 2, 5  # OTLP's SpanKind values
ALL = {"gateway", "ingest", "synthesis", "retrieval", "audit"}


class Observed:
    def __init__(self, stack: Stack, receiver: OtlpReceiver, metrics: dict[str, int]) -> None:
        self.stack = stack
        self.receiver = receiver
        self.metrics_ports = metrics

    def scrape(self, service: str) -> dict[str, list[tuple[dict[str, str], float]]]:
        """{sample name: [(labels, value)]} of one service's /metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_ports[service]}/metrics").text
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
        return samples


@pytest.fixture(scope="module")
def observed(nats_url, database_url, tmp_path_factory) -> Iterator[Observed]:
    stack = new_stack("obs", "observed", nats_url, database_url, tmp_path_factory)
    standin = serve(LLMStandIn())
    with OtlpReceiver() as receiver:
        host, port = standin.server_address[:2]
        stack.env.update(
            MNEMO_LLM_URL=f"http://{host}:{port}/v1",
            MNEMO_LLM_MODEL="standin-model",
            MNEMO_OTLP_ENDPOINT=receiver.endpoint,
            # Export every 200 ms rather than every 5 s: the test waits less.
            OTEL_BSP_SCHEDULE_DELAY="200",
            MNEMO_EMBEDDER="hashing",
            MNEMO_EMBEDDING_DIM="64",
            # A limit small enough to reach: entities calls, 2 a minute per key.
            MNEMO_RATE_LIMITS="entities=2,default=6000",
        )
        ports = {service: free_port() for service in SERVICES}
        for service in SERVICES:
            stack.start(service, MNEMO_METRICS_PORT=str(ports[service]))
        try:
            stack.wait_healthy()
            yield Observed(stack, receiver, ports)
        finally:
            stack.stop()
            standin.shutdown()


def _root(receiver: OtlpReceiver, route: str, correlation_id: str) -> ReceivedSpan | None:
    for span in receiver.spans():
        if (
            span.service == "gateway"
            and span.kind == SERVER
            and span.name == route
            and span.attributes.get("mnemo.correlation_id") == correlation_id
        ):
            return span
    return None


def _whole_trace(receiver: OtlpReceiver, root: ReceivedSpan, services: set[str]) -> list | None:
    """The spans of root's trace once they come from `services` and every parent is there."""
    spans = receiver.trace(root.trace_id)
    ids = {s.span_id for s in spans}
    if {s.service for s in spans} >= services and all(
        s.parent_span_id in ids for s in spans if s is not root
    ):
        return spans
    return None


def _ingest(api: httpx.Client, user: str, content: str, correlation_id: str) -> None:
    response = api.post(
        "/v1/ingest",
        json={"userId": user, "content": content},
        headers={"x-correlation-id": correlation_id},
    )
    assert response.status_code == 202, response.text


def test_one_ingest_is_one_trace_across_the_five_services(observed: Observed) -> None:
    receiver, user, correlation = observed.receiver, f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with observed.stack.client() as api:
        _ingest(api, user, "I work at Stripe and I love TypeScript.", correlation)
        root = eventually(lambda: _root(receiver, "POST /v1/ingest", correlation))
        spans = eventually(lambda: _whole_trace(receiver, root, ALL), timeout=90)

        assert root.parent_span_id == ""
        assert root.attributes["http.route"] == "/v1/ingest"
        by_id = {s.span_id: s for s in spans}
        # The command's consumer continues the gateway's span.
        ingest = [s for s in spans if s.service == "ingest" and s.kind == CONSUMER]
        assert ingest and all(by_id[s.parent_span_id] is root for s in ingest)
        # The relay carried the span that appended memory.recorded into the event: its
        # consumers in synthesis and retrieval are children of ingest's span.
        for service in ("synthesis", "retrieval"):
            consumers = [s for s in spans if s.service == service and s.kind == CONSUMER]
            assert consumers, service
            assert any(by_id[s.parent_span_id].service == "ingest" for s in consumers), service
        assert any(s.service == "audit" and s.kind == CONSUMER for s in spans)

        # The background phases are traces of their own, linked to this one: phase 2 of
        # indexing, and the model reading the memory (with a client span per call).
        def linked(name: str) -> list[ReceivedSpan]:
            return [
                s
                for s in receiver.spans()
                if s.name == name and any(t == root.trace_id for t, _ in s.links)
            ]

        eventually(lambda: linked("index dense"), timeout=60)
        [reading] = eventually(lambda: linked("consume synthesis-llm"), timeout=60)
        assert reading.trace_id != root.trace_id and reading.parent_span_id == ""
        eventually(
            lambda: [s for s in receiver.trace(reading.trace_id) if s.name == "llm extraction"]
        )

        # A correlation id leads to its trace: every audit entry of the chain names it.
        def chain() -> list | None:
            found = api.get("/v1/audit/events", params={"correlation_id": correlation}).json()
            steps = found["events"]
            kinds = {s["type"] for s in steps}
            return steps if {"memory.recorded", "memory.synthesized"} <= kinds else None

        steps = eventually(chain, timeout=60)
        request_steps = ("ingest.memory", "memory.recorded", "memory.synthesized")
        assert {s["trace_id"] for s in steps if s["type"] in request_steps} == {root.trace_id}
        # What the model's reading added is in its own trace, the one linked to the request.
        assert {s["trace_id"] for s in steps} <= {root.trace_id, reading.trace_id}
    # ... and so do the log lines of the request.
    gateway_log = (observed.stack.home / "logs" / "gateway.log").read_text()
    lines = [json.loads(line) for line in gateway_log.splitlines() if correlation in line]
    assert lines and all(line.get("trace_id") == root.trace_id for line in lines)


def test_one_search_is_one_trace_through_the_query_hop(observed: Observed) -> None:
    receiver, user, correlation = observed.receiver, f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with observed.stack.client() as api:
        response = api.get(
            "/v1/search",
            params={"userId": user, "q": "typescript"},
            headers={"x-correlation-id": correlation},
        )
        assert response.status_code == 200, response.text
    root = eventually(lambda: _root(receiver, "GET /v1/search", correlation))
    spans = eventually(lambda: _whole_trace(receiver, root, {"gateway", "retrieval", "audit"}))
    queries = [s for s in spans if s.service == "retrieval" and s.kind == SERVER]
    assert [q.parent_span_id for q in queries] == [root.span_id]
    assert queries[0].name.endswith(".search")


def test_no_span_carries_a_query_string_key_or_search_words(observed: Observed) -> None:
    """OpenTelemetry's ASGI middleware puts the whole URL in `http.url`; what is exported
    has no query string, so neither a key sent as `?api_key=` nor what was searched for."""
    receiver, correlation = observed.receiver, uuid.uuid4().hex
    word, key = "quokka" + uuid.uuid4().hex[:10], observed.stack.api_key
    with observed.stack.client() as api:
        response = api.get(
            "/v1/search",
            params={"userId": "u-" + uuid.uuid4().hex[:8], "q": f"the {word}", "api_key": key},
            headers={"x-correlation-id": correlation},
        )
        assert response.status_code == 200, response.text
    root = eventually(lambda: _root(receiver, "GET /v1/search", correlation))
    spans = eventually(lambda: _whole_trace(receiver, root, {"gateway", "retrieval", "audit"}))
    assert root.attributes.get("http.url", "").endswith("/v1/search")
    for span in spans:
        text = json.dumps([span.name, span.attributes, span.events, span.status_message])
        assert word not in text and key not in text, (span.service, span.name)


def test_health_checks_make_no_span(observed: Observed) -> None:
    for _ in range(3):
        assert httpx.get(f"{observed.stack.base_url}/v1/health").status_code == 200
    # A request traced after them: once its span is in, theirs would be too.
    correlation = uuid.uuid4().hex
    with observed.stack.client() as api:
        api.get(
            "/v1/memories", params={"userId": "nobody"}, headers={"x-correlation-id": correlation}
        )
    eventually(lambda: _root(observed.receiver, "GET /v1/memories", correlation))
    assert not [s for s in observed.receiver.spans() if "health" in s.name]


def test_an_unreachable_trace_endpoint_fails_no_request(observed: Observed) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    with observed.stack.extra_gateway(
        observed.stack.api_key, MNEMO_OTLP_ENDPOINT=dead, MNEMO_METRICS_PORT=str(free_port())
    ) as api:
        user = f"u-{uuid.uuid4().hex[:8]}"
        for i in range(5):
            response = api.post("/v1/ingest", json={"userId": user, "content": f"note {i}"})
            assert response.status_code == 202, response.text
        found = eventually(
            lambda: api.get("/v1/memories", params={"userId": user}).json()["total"] == 5,
            timeout=60,
        )
        assert found


# --- metrics -----------------------------------------------------------------------------


def _value(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(k) == v for k, v in labels.items())
    )


async def _publish_undecodable_command(stack: Stack, tenant: str) -> None:
    import nats

    from mnemo.contracts import Headers, Topology

    nc = await nats.connect(stack.env["MNEMO_NATS_URL"])
    try:
        subject = Topology(root=stack.env["MNEMO_BUS_ROOT"]).cmd_subject("ingest.memory", tenant)
        headers = {Headers.MSG_ID: uuid.uuid4().hex, Headers.TENANT: tenant}
        await nc.jetstream().publish(subject, b"{not json", headers=headers)
    finally:
        await nc.close()


def test_the_metrics_of_every_service_move_with_traffic(observed: Observed) -> None:
    before = {service: observed.scrape(service) for service in SERVICES}
    user = f"u-{uuid.uuid4().hex[:8]}"
    with observed.stack.client() as api:
        for i in range(3):
            _ingest(api, user, f"Metrics note {i}: I like tea.", uuid.uuid4().hex)
        for _ in range(2):
            assert api.get("/v1/search", params={"userId": user, "q": "tea"}).status_code == 200
        missing = uuid.uuid4().hex
        assert api.get(f"/v1/memories/{missing}", params={"userId": user}).status_code == 404
        statuses = [api.get("/v1/entities", params={"userId": user}).status_code for _ in range(8)]
        assert 429 in statuses
        # A Mem0 client's request (Token scheme, mounted under /mem0): counted by its route.
        mem0 = api.post(
            "/v3/memories/",
            json={"filters": {"user_id": user}},
            headers={"Authorization": f"Token {observed.stack.api_key}"},
        )
        assert mem0.status_code == 200, mem0.text
    asyncio.run(_publish_undecodable_command(observed.stack, "e2e"))

    def moved(service: str, name: str, by: float = 1, **labels: str) -> bool:
        now = observed.scrape(service)
        return _value(now, name, **labels) - _value(before[service], name, **labels) >= by

    gateway = "gateway"
    # A request is counted once its answer is sent: the client may see the answer first.
    eventually(
        lambda: moved(gateway, "mnemo_http_requests_total", 3, method="POST", route="/v1/ingest")
    )
    eventually(
        lambda: moved(
            gateway,
            "mnemo_http_request_duration_seconds_count",
            2,
            method="GET",
            route="/v1/search",
        )
    )
    assert moved(gateway, "mnemo_rate_limit_rejections_total", scope="key")
    routes = {
        labels["route"] for labels, _ in observed.scrape(gateway)["mnemo_http_requests_total"]
    }
    # A route template, never the raw path (label values stay bounded).
    assert "/v1/memories/{memory_id}" in routes
    assert any(r.startswith("/mem0/") for r in routes), routes  # it was "unmatched"
    assert not [r for r in routes if missing in r]

    for service, consumer in (
        ("ingest", "ingest-memory"),
        ("synthesis", "synthesis-memories"),
        ("retrieval", "retrieval-index"),
        ("audit", "audit-commands"),
    ):
        eventually(
            lambda s=service, c=consumer: moved(s, "mnemo_messages_consumed_total", 3, consumer=c),
            timeout=60,
        )
    eventually(
        lambda: moved("ingest", "mnemo_messages_dead_lettered_total", consumer="ingest-memory"),
        timeout=60,
    )
    assert moved("ingest", "mnemo_relay_published_events_total", 3)
    assert moved("retrieval", "mnemo_queries_total", 2, endpoint="search", outcome="ok")
    eventually(
        lambda: moved(
            "synthesis",
            "mnemo_llm_request_duration_seconds_count",
            3,
            purpose="extraction",
            outcome="ok",
        ),
        timeout=60,
    )
    assert moved("retrieval", "mnemo_embedding_duration_seconds_count", 2, phase="foreground")
    eventually(
        lambda: moved("retrieval", "mnemo_embedded_texts_total", 3, phase="background"),
        timeout=60,
    )

    # The gauges read at scrape time: lag, backlogs, dependencies.
    ingest, synthesis, retrieval = (
        observed.scrape(s) for s in ("ingest", "synthesis", "retrieval")
    )
    assert _value(ingest, "mnemo_log_head_position") > 0
    assert "mnemo_relay_lag_events" in ingest
    assert {labels["backlog"] for labels, _ in synthesis["mnemo_backlog_messages"]} == {
        "rules",
        "llm",
    }
    assert "mnemo_indexing_backlog_chunks" in retrieval
    for service in SERVICES:
        samples = observed.scrape(service)
        dependencies = samples["mnemo_dependency_up"]
        assert dependencies and all(value == 1 for _, value in dependencies), service
        if service != "gateway":
            lagging = {labels["consumer"] for labels, _ in samples["mnemo_consumer_lag_messages"]}
            assert lagging, service


# --- dashboards and alerts ---------------------------------------------------------------


def _exposed(observed: Observed) -> set[str]:
    """Every series name the services expose, metrics without samples yet included."""
    names = {"up"}  # Prometheus' own, per target
    for service in SERVICES:
        port = observed.metrics_ports[service]
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        for family in text_string_to_metric_families(text):
            suffixes = {
                "counter": ["_total"],
                "histogram": ["_bucket", "_sum", "_count"],
            }.get(family.type, [""])
            names.update(family.name + suffix for suffix in suffixes)
    return names


def test_the_dashboard_and_alerts_use_only_metrics_the_services_expose(
    observed: Observed,
) -> None:
    exposed = _exposed(observed)
    expressions = dashboard_expressions() + rule_expressions()
    referenced = {name for expr in expressions for name in metric_names(expr)}
    assert referenced, "no metric found in the dashboard or the rules"
    assert referenced - exposed == set()
