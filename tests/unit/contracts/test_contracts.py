"""Message contracts: every event and command survives the wire, and ids are deterministic."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from mnemo.contracts import (
    COMMAND_TYPES,
    EVENT_TYPES,
    Command,
    Envelope,
    EventData,
    FactExtracted,
    MemoryRecorded,
    NewEvent,
    Signal,
    derived_id,
    joined,
    new_id,
)
from mnemo.contracts.ids import MNEMO_NAMESPACE
from mnemo.contracts.proto import QUERY_TYPES

NOW = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _value(t: mi.Type, name: str) -> Any:
    """A value of type `t` for field `name`: distinct per field, JSON-safe, never a default."""
    if isinstance(t, mi.StrType):
        return f"{name}-value"
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.IntType):
        return 7
    if isinstance(t, mi.FloatType):
        return 0.625
    if isinstance(t, mi.DateTimeType):
        return NOW
    if isinstance(t, mi.NoneType):
        return None
    if isinstance(t, mi.AnyType):
        return {"nested": [1, "two", None, {"three": 3.5}]}
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, mi.ListType):
        return [_value(t.item_type, f"{name}-0"), _value(t.item_type, f"{name}-1")]
    if isinstance(t, mi.TupleType):
        return tuple(_value(item, f"{name}-{i}") for i, item in enumerate(t.item_types))
    if isinstance(t, mi.VarTupleType):
        return (_value(t.item_type, f"{name}-0"),)
    if isinstance(t, mi.DictType):
        return {"key": _value(t.value_type, f"{name}-key")}
    if isinstance(t, mi.UnionType):
        non_null = [u for u in t.types if not isinstance(u, mi.NoneType)]
        return _value(non_null[0], name)
    if isinstance(t, mi.StructType):
        return sample(t.cls)
    raise TypeError(f"no sample for {t!r} ({name}); teach _value about it")


def sample(cls: type[msgspec.Struct], **overrides: Any) -> Any:
    """An instance of a contract with every field (optional ones too) set to a real value."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kwargs = {f.name: _value(f.type, f.name) for f in info.fields if f.name not in overrides}
    return cls(**kwargs, **overrides)


def envelope(data: Any, **overrides: Any) -> Envelope:
    return sample(Envelope, data=data, event_type=type(data).__struct_config__.tag, **overrides)


# --------------------------------------------------------------------------- registries


@pytest.mark.parametrize("registry", [EVENT_TYPES, COMMAND_TYPES], ids=["events", "commands"])
def test_registry_keys_are_the_type_tags(registry: dict[str, type[msgspec.Struct]]) -> None:
    assert registry
    for key, cls in registry.items():
        config = cls.__struct_config__
        assert config.tag == key
        assert config.tag_field == "type"
        assert config.frozen, cls
        positional = [getattr(sample(cls), f) for f in cls.__struct_fields__]
        with pytest.raises(TypeError):  # kw_only: fields are never matched by position
            cls(*positional)


def test_contracts_are_frozen() -> None:
    event = sample(MemoryRecorded)
    with pytest.raises(AttributeError):
        event.content = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        envelope(event).tenant_id = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_envelope_round_trips_through_json_and_msgpack(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    original = envelope(sample(cls))

    encoded = msgspec.json.encode(original)
    decoded = msgspec.json.decode(encoded, type=Envelope)
    assert decoded == original
    assert type(decoded.data) is cls
    assert decoded.occurred_at == NOW and decoded.occurred_at.tzinfo is not None

    raw = msgspec.json.decode(encoded)
    assert raw["event_type"] == event_type
    assert raw["data"]["type"] == event_type

    assert msgspec.msgpack.decode(msgspec.msgpack.encode(original), type=Envelope) == original


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_tagged_union_decodes_to_the_tagged_type(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    payload = msgspec.json.encode(sample(cls))
    decoded = msgspec.json.decode(payload, type=EventData)
    assert type(decoded) is cls
    assert decoded == sample(cls)

    # Decoding a whole envelope from plain JSON (as a consumer does) picks the same type.
    raw = msgspec.to_builtins(envelope(sample(cls)))
    assert type(msgspec.convert(raw, Envelope).data) is cls


def test_tagged_union_rejects_unknown_missing_and_mismatched_tags() -> None:
    recorded = msgspec.to_builtins(sample(MemoryRecorded))
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value 'memory\.vanished'"):
        msgspec.convert({**recorded, "type": "memory.vanished"}, EventData)
    with pytest.raises(msgspec.ValidationError, match="missing required field `type`"):
        msgspec.convert({k: v for k, v in recorded.items() if k != "type"}, EventData)
    # A memory.recorded body with a fact.extracted tag lacks that type's fields.
    with pytest.raises(msgspec.ValidationError, match="missing required field"):
        msgspec.convert({**recorded, "type": FactExtracted.__struct_config__.tag}, EventData)


def test_new_event_reports_its_data_tag_as_event_type() -> None:
    for event_type, cls in EVENT_TYPES.items():
        assert sample(NewEvent, data=sample(cls)).event_type == event_type


def test_aware_datetimes_keep_their_instant() -> None:
    plus_two = datetime(2025, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    original = envelope(sample(MemoryRecorded), occurred_at=plus_two)
    decoded = msgspec.json.decode(msgspec.json.encode(original), type=Envelope)
    assert decoded.occurred_at == plus_two
    assert decoded.occurred_at.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("command", sorted(COMMAND_TYPES))
def test_commands_round_trip_through_the_command_union(command: str) -> None:
    cls = COMMAND_TYPES[command]
    original = sample(cls)
    decoded = msgspec.json.decode(msgspec.json.encode(original), type=Command)
    assert type(decoded) is cls
    assert decoded == original
    assert msgspec.json.decode(msgspec.json.encode(original))["type"] == command


@pytest.mark.parametrize("cls", [Signal, *QUERY_TYPES], ids=lambda c: c.__name__)
def test_signal_and_query_messages_round_trip(cls: type[msgspec.Struct]) -> None:
    original = sample(cls)
    assert msgspec.json.decode(msgspec.json.encode(original), type=cls) == original


def test_optional_fields_take_their_defaults() -> None:
    minimal = msgspec.json.decode(
        b'{"type": "memory.recorded", "memory_id": "m", "user_id": "u", "content": "c"}',
        type=EventData,
    )
    assert minimal == MemoryRecorded(memory_id="m", user_id="u", content="c")
    assert minimal.source_type == "api_text" and minimal.metadata == {}


# --------------------------------------------------------------------------- ids


def test_derived_id_is_deterministic() -> None:
    cause = "2b1f4c1e-1111-4c4c-9d9d-0123456789ab"
    first = derived_id(cause, "fact", "city")
    assert first == derived_id(cause, "fact", "city")
    assert uuid.UUID(first).version == 5
    assert str(uuid.UUID(first)) == first


def test_derived_ids_of_parts_holding_the_separator_never_meet() -> None:
    """A part may hold the separator (a user's id is free text): `botA\\x1fbob` with no
    agent made the id of agent botA's user bob, and ingest dropped the later one as a
    duplicate, though answered 202. Every split of a text into parts is another id."""
    us, rs = "\x1f", "\x1e"
    pieces = ["", "a", us, rs, rs + us, us + rs, rs + "_", rs + rs, "a" + us + "b"]
    lists = {(p,) for p in pieces} | {(p, q) for p in pieces for q in pieces}
    lists |= {(p, q, r) for p in pieces[:5] for q in pieces[:5] for r in pieces[:5]}
    assert len({derived_id("memory", *parts) for parts in lists}) == len(lists)
    assert len({joined(parts) for parts in lists}) == len(lists)
    tenant = "t_1"
    assert derived_id("memory", tenant, "botA", "bob", "s5") != derived_id(
        "memory", tenant, "botA" + us + "bob", "s5"
    )


def test_derived_ids_of_plain_parts_are_as_they_always_were() -> None:
    """Parts without the separator or its escape are joined as they always were: every id
    derived before (memories' by sourceId, facts', packs') stands."""
    assert derived_id("memory", "t_1", "alice", "s1") == str(
        uuid.uuid5(MNEMO_NAMESPACE, "memory\x1ft_1\x1falice\x1fs1")
    )


def test_derived_id_differs_for_different_parts_and_causes() -> None:
    cause = "2b1f4c1e-1111-4c4c-9d9d-0123456789ab"
    ids = {
        derived_id(cause),
        derived_id(cause, "fact"),
        derived_id(cause, "fact", "city"),
        derived_id(cause, "fact", "country"),
        derived_id(cause, "factcity"),
        derived_id(cause, "fa", "ctcity"),
        derived_id(cause, "city", "fact"),
        derived_id("another-cause", "fact", "city"),
    }
    assert len(ids) == 8


def test_new_id_is_a_fresh_uuid4() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)
