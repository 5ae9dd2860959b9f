"""The input guard's checks on their own: what is refused, and the field it names."""

import pytest

from mnemo.contracts.limits import MAX_JSON_DEPTH, MAX_PARAM_CHARS, instant_problem
from mnemo.gateway.guard import Refused, check_body, check_json, check_query


def refused_field(check, value) -> str:
    with pytest.raises(Refused) as caught:
        check(value)
    return caught.value.field


def test_nul_is_named_by_its_json_path():
    assert refused_field(check_json, {"items": [{}, {"metadata": {"n": "a\x00"}}]}) == (
        "items[1].metadata.n"
    )
    assert refused_field(check_json, ["\x00"]) == "[0]"


def test_depth_is_counted_without_recursion():
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    assert refused_field(check_json, deep).startswith("a.a.a")
    ok: dict = {}
    node = ok
    for _ in range(MAX_JSON_DEPTH - 1):
        node["a"] = {}
        node = node["a"]
    check_json(ok)


def test_bodies_that_are_not_utf8_or_too_deep_for_the_decoder():
    assert refused_field(check_body, b'{"a": "\xff"}') == "body"
    assert refused_field(check_body, b"[" * 5000 + b"]" * 5000) == "body"
    check_body(b"not json at all")  # left to the route's MALFORMED_JSON


def test_query_strings():
    assert refused_field(check_query, b"userId=a%00b") == "userId"
    assert refused_field(check_query, b"q=%ff") == "q"
    assert refused_field(check_query, b"q=" + b"a" * (MAX_PARAM_CHARS + 1)) == "q"
    check_query(b"userId=alice&q=caf%C3%A9+au+lait&limit=5")


def test_instant_range():
    from datetime import datetime

    assert instant_problem(datetime.fromisoformat("2024-05-01T10:00:00+02:00")) is None
    assert instant_problem(datetime.fromisoformat("0001-01-01T00:00:00+14:00"))
    assert instant_problem(datetime.fromisoformat("9999-12-31T23:59:59-14:00"))
    assert instant_problem(datetime.fromisoformat("2024-05-01T10:00:00"))  # no zone
