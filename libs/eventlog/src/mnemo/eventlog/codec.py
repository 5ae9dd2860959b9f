"""Rows <-> envelopes. JSON is encoded with msgspec; Postgres stores it as jsonb."""

from typing import Any

import msgspec

from mnemo.contracts import Envelope, EventData, NewEvent

_data_decoder = msgspec.json.Decoder(EventData)
_meta_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()

COLUMNS = (
    "global_position, event_id::text AS event_id, stream_id, stream_version, event_type,"
    " tenant_id, data::text AS data, metadata::text AS metadata, occurred_at, recorded_at,"
    " transaction_id::text AS transaction_id"
)


def encode_data(event: NewEvent) -> str:
    return _encoder.encode(event.data).decode()


def encode_metadata(event: NewEvent) -> str:
    meta = {
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "actor": event.actor,
        "service": event.service,
    }
    if event.traceparent:
        meta["traceparent"] = event.traceparent
    return _encoder.encode(meta).decode()


def row_to_envelope(row: Any) -> Envelope:
    meta = _meta_decoder.decode(row["metadata"])
    return Envelope(
        event_id=row["event_id"],
        event_type=row["event_type"],
        tenant_id=row["tenant_id"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        global_position=row["global_position"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        correlation_id=meta["correlation_id"],
        causation_id=meta["causation_id"],
        actor=meta["actor"],
        service=meta.get("service", ""),
        traceparent=meta.get("traceparent"),
        data=_data_decoder.decode(row["data"]),
    )
