"""NATS header names carried on every message (DESIGN.md, Messages)."""

from typing import Final


class Headers:
    """Header names; one place so that producers and consumers agree."""

    MSG_ID: Final = "Nats-Msg-Id"
    CORRELATION: Final = "Mnemo-Correlation-Id"
    CAUSATION: Final = "Mnemo-Causation-Id"
    TENANT: Final = "Mnemo-Tenant"
    TYPE: Final = "Mnemo-Type"
    SERVICE: Final = "Mnemo-Service"
    # On query requests: the HTTP request that asked. On replies: "ok" or "error".
    REQUEST_ID: Final = "Mnemo-Request-Id"
    REPLY: Final = "Mnemo-Reply"
    # On query requests: how long the asker waits for the answer, in milliseconds. A request
    # that waited half of it in the service's queue is answered "overloaded", not run.
    BUDGET: Final = "Mnemo-Budget-Ms"
    # On every message about one user: `subject_tag(tenant, user)`, so that forgetting the
    # user erases its messages from every stream (mnemo.bus.erasure).
    SUBJECT: Final = "Mnemo-Subject"
    # On every message that carries one memory's words (its `ingest.memory` command, its
    # `memory.recorded` event): the memory's id, so that deleting the memory erases them
    # (mnemo.bus.erasure, `erase_memories`).
    MEMORY: Final = "Mnemo-Memory"
    # On an event: how many events of each subject follow it in the same append to the log
    # (one transaction), as "subject=count" words; absent on an append's last event. A
    # consumer that applies an append as a whole (mnemo.bus.consumer, `whole_appends`)
    # fetches on until it holds the rest it subscribes to.
    APPEND_REST: Final = "Mnemo-Append-Rest"
    TRACEPARENT: Final = "traceparent"
    TRACESTATE: Final = "tracestate"
    # On dead letters (the DLQ stream): where the message came from and why it is there.
    DEAD_SUBJECT: Final = "Mnemo-Dead-Subject"
    DEAD_STREAM: Final = "Mnemo-Dead-Stream"
    DEAD_SEQUENCE: Final = "Mnemo-Dead-Sequence"
    DEAD_CONSUMER: Final = "Mnemo-Dead-Consumer"
    DEAD_REASON: Final = "Mnemo-Dead-Reason"
    DEAD_DELIVERIES: Final = "Mnemo-Dead-Deliveries"
    DEAD_AT: Final = "Mnemo-Dead-At"
    # The original Nats-Msg-Id (the entry has its own, for dedupe in the DLQ stream).
    DEAD_MSG_ID: Final = "Mnemo-Dead-Msg-Id"
