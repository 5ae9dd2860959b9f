"""Every Prometheus metric Mnemo exposes, written once (prometheus-client's registry).

Each service process serves its own (`serve_metrics`), so each replica is one scrape
target. A process exposes the whole catalogue; a labelled metric shows series only for
the labels it has seen. Labels are bounded: route templates (never raw paths), consumer
durables, query endpoints, limit scopes; never a tenant, user or key.

Counters and histograms move where things happen. Gauges that need a round trip (consumer
lag from JetStream, relay lag and backlogs from PostgreSQL) are read when Prometheus
scrapes (mnemo.telemetry.live), never on a timer of their own.
"""

from prometheus_client import Counter, Histogram

# Seconds: from a cache hit (~1 ms) to a model call (tens of seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "mnemo_http_requests",
    "HTTP requests answered by the gateway, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "mnemo_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "mnemo_rate_limit_rejections",
    "Calls refused by a rate limit (429) or quota (402), by scope: key, tenant, address "
    "(failed authentications) or quota.",
    ["scope"],
)
MESSAGES_CONSUMED = Counter(
    "mnemo_messages_consumed",
    "Messages a durable consumer handled and acknowledged.",
    ["consumer"],
)
MESSAGES_FAILED = Counter(
    "mnemo_messages_failed",
    "Failures of a message itself (not of a dependency): each is retried with backoff, "
    "and dead-lettered after the consumer's maximum.",
    ["consumer"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "mnemo_messages_dead_lettered",
    "Messages moved to the dead-letter stream (rejected, or failed too often).",
    ["consumer"],
)
CONSUMER_PAUSES = Counter(
    "mnemo_consumer_pauses",
    "Times a consumer paused because a dependency (database, vector store, NATS, model "
    "server) was unavailable.",
    ["consumer"],
)
HANDLING_DURATION = Histogram(
    "mnemo_message_handling_duration_seconds",
    "Time a consumer's handler took for one message or one batch.",
    ["consumer"],
    buckets=LATENCY_BUCKETS,
)
QUERIES = Counter(
    "mnemo_queries",
    "Request/reply queries answered, by endpoint and outcome (ok, error, overloaded).",
    ["endpoint", "outcome"],
)
QUERY_DURATION = Histogram(
    "mnemo_query_duration_seconds",
    "Time a query endpoint took to answer, queueing excluded.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
RELAY_PUBLISHED = Counter(
    "mnemo_relay_published_events",
    "Events the outbox relay published from the log to the bus.",
)
AUDITED_FROM_LOG = Counter(
    "mnemo_audit_log_events",
    "Events the audit took from the log into its index (it follows the log, not the bus).",
)
EMBEDDING_DURATION = Histogram(
    "mnemo_embedding_duration_seconds",
    "Time one embedding call took, by phase: foreground (indexing without phase 2, "
    "queries) or background (phase 2 of indexing).",
    ["phase"],
    buckets=LATENCY_BUCKETS,
)
EMBEDDED_TEXTS = Counter(
    "mnemo_embedded_texts",
    "Texts turned into vectors, by phase.",
    ["phase"],
)
LLM_DURATION = Histogram(
    "mnemo_llm_request_duration_seconds",
    "Time one call to the LLM server took, by purpose (extraction, answer) and outcome "
    "(ok, error).",
    ["purpose", "outcome"],
    buckets=LATENCY_BUCKETS,
)

# Read at scrape time (mnemo.telemetry.live): name -> (help, labels).
LIVE_GAUGES: dict[str, tuple[str, list[str]]] = {
    "mnemo_consumer_lag_messages": (
        "Messages of a durable consumer's stream not yet delivered (JetStream num_pending).",
        ["consumer"],
    ),
    "mnemo_consumer_ack_pending_messages": (
        "Messages delivered to a durable consumer and not yet acknowledged.",
        ["consumer"],
    ),
    "mnemo_backlog_messages": (
        "What a service has yet to do, as /v1/health shows it: synthesis's rules and llm "
        "phases (pending + unacknowledged).",
        ["backlog"],
    ),
    "mnemo_relay_lag_events": (
        "Log head position minus the relay's published position: events stored and not "
        "yet on the bus.",
        [],
    ),
    "mnemo_audit_lag_events": (
        "Log head position minus the audit's position: events stored and not yet audited.",
        [],
    ),
    "mnemo_log_head_position": ("The global position of the newest event in the log.", []),
    "mnemo_dependency_up": (
        "1 when a service's dependency (nats, postgres, vectors, llm) answers its health "
        "check, else 0.",
        ["dependency"],
    ),
    "mnemo_indexing_backlog_chunks": (
        "Chunks searchable by keyword whose dense vector is still to come (indexing phase 2).",
        [],
    ),
    "mnemo_indexing_backlog_oldest_seconds": (
        "Age of the oldest chunk still waiting for its dense vector (0 when none waits).",
        [],
    ),
}
