"""The event envelope: what the log stores and the bus carries for every domain event."""

from datetime import datetime

import msgspec

from mnemo.contracts.events import EventData


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event about to be appended; the log assigns position, version and recorded_at."""

    event_id: str
    tenant_id: str
    data: EventData
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    # Who asked for it (a key's principal, or the service itself) and which service wrote it.
    actor: str
    service: str
    traceparent: str | None = None

    @property
    def event_type(self) -> str:
        return type(self.data).__struct_config__.tag  # type: ignore[return-value]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """A stored event. `occurred_at` is valid time (client); `recorded_at` transaction time."""

    event_id: str
    event_type: str
    tenant_id: str
    stream_id: str
    stream_version: int
    global_position: int
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str
    causation_id: str
    actor: str
    service: str
    data: EventData
    traceparent: str | None = None
