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
    TRACEPARENT: Final = "traceparent"
    TRACESTATE: Final = "tracestate"
