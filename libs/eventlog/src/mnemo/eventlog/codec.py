"""Rows <-> envelopes. JSON is encoded with msgspec; Postgres stores it as jsonb.

Sealed rows (see sealing.py) are opened with the keys passed in; a row whose key has
been shredded decodes to nothing, so forgotten events simply are not there to readers.
"""

from collections.abc import Iterable
from typing import Any

import msgspec

from mnemo.contracts import Envelope, EventData, NewEvent, jsonb_json
from mnemo.eventlog.sealing import open_sealed, sealed_key_id
from mnemo.telemetry import traceparent_for

_data_decoder = msgspec.json.Decoder(EventData)
_meta_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()

COLUMNS = (
    "global_position, event_id::text AS event_id, stream_id, stream_version, event_type,"
    " tenant_id, data::text AS data, metadata::text AS metadata, occurred_at, recorded_at,"
    " transaction_id::text AS transaction_id"
)


def encode_data(event: NewEvent) -> bytes:
    return jsonb_json(event.data)


def encode_metadata(event: NewEvent) -> str:
    meta = {
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "actor": event.actor,
        "service": event.service,
    }
    # The trace goes on through the log: the relay publishes the event with it, so its
    # consumers' spans are children of the span that appended it.
    traceparent = event.traceparent or traceparent_for(event.causation_id)
    if traceparent:
        meta["traceparent"] = traceparent
    return _encoder.encode(meta).decode()


def key_ids(rows: Iterable[Any]) -> set[str]:
    """The key ids that sealed rows need to be opened."""
    found = set()
    for row in rows:
        if '"sealed"' in row["data"]:
            key_id = sealed_key_id(_meta_decoder.decode(row["data"]))
            if key_id:
                found.add(key_id)
    return found


def row_to_envelope(row: Any, keys: dict[str, bytes] | None = None) -> Envelope | None:
    """The stored event, or None when it is sealed and its key is gone."""
    raw: bytes | str = row["data"]
    if '"sealed"' in row["data"]:
        stored = _meta_decoder.decode(row["data"])
        if sealed_key_id(stored):
            opened = open_sealed(stored, row["event_id"], keys or {})
            if opened is None:
                return None
            raw = opened
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
        data=_data_decoder.decode(raw),
    )


def rows_to_envelopes(rows: Iterable[Any], keys: dict[str, bytes]) -> list[Envelope]:
    """Every readable event of `rows`, in their order."""
    return [e for e in (row_to_envelope(r, keys) for r in rows) if e is not None]
