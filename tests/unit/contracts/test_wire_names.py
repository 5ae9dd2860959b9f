"""A contract's fields by their wire names, as msgspec encodes them."""

import msgspec

from mnemo.contracts import IngestMemory, wire_names


class Renamed(msgspec.Struct, rename="camel"):
    user_id: str
    created_at: int = 0


def test_each_field_is_named_as_it_is_encoded():
    assert wire_names(Renamed) == (("user_id", "userId"), ("created_at", "createdAt"))
    encoded = msgspec.json.decode(msgspec.json.encode(Renamed(user_id="u")))
    assert [wire for _, wire in wire_names(Renamed)] == list(encoded)


def test_every_field_of_a_command_is_there():
    names = [f.name for f in msgspec.structs.fields(IngestMemory)]
    assert [attribute for attribute, _ in wire_names(IngestMemory)] == names
