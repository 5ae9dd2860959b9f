"""Decode errors name the field by its JSON path."""

import msgspec
import pytest

from mnemo.gateway.routes.ingest import BatchRequest, IngestRequest
from mnemo.gateway.validation import field_of


def error_of(body: bytes, type_: type) -> str:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.json.decode(body, type=type_)
    return str(info.value)


def test_missing_top_level_field():
    assert field_of(error_of(b'{"content": "x"}', IngestRequest)) == "userId"


def test_wrong_type_top_level():
    assert field_of(error_of(b'{"userId": "u", "content": 1}', IngestRequest)) == "content"


def test_missing_field_inside_a_batch_item():
    body = b'{"items": [{"userId": "u", "content": "x"}, {"content": "y"}]}'
    assert field_of(error_of(body, BatchRequest)) == "items[1].userId"


def test_wrong_type_inside_a_batch_item():
    body = b'{"items": [{"userId": "u", "content": "x"}, {"userId": "u", "content": 2}]}'
    assert field_of(error_of(body, BatchRequest)) == "items[1].content"


def test_an_unknown_field_is_named() -> None:
    """msgspec's "unknown field" message names no path: the field was None (an MCP tool's
    refusal said `"field": null`)."""

    class Strict(msgspec.Struct, forbid_unknown_fields=True):
        known: int = 0

    class Outer(msgspec.Struct):
        items: list[Strict]

    assert field_of(error_of(b'{"bogus": 1}', Strict)) == "bogus"
    assert field_of(error_of(b'{"items": [{}, {"b`x": 1}]}', Outer)) == "items[1].b`x"
