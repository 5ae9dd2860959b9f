"""Operational signals (mnemo.ops.<tenant>.<signal_type>): what services did, for the audit."""

from datetime import datetime
from typing import Any

import msgspec


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """A step a service took that is not a domain event: an HTTP request, an index, a failure."""

    signal_id: str
    signal_type: str
    tenant_id: str
    service: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    data: dict[str, Any] = {}


SIGNAL_TYPES: dict[str, str] = {
    "http.request": "the gateway received an HTTP request (method, path, status, request_id)",
    "memory.indexed": "retrieval made a recorded memory searchable",
    "message.dead_lettered": "a message exhausted its deliveries or failed permanently",
    "subject.erased": "a forgotten subject's messages were erased from the streams (by stream)",
}
