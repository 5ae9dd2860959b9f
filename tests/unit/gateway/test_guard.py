"""The input guard's checks on their own: what is refused, and the field it names."""

import pytest

from mnemo.contracts.limits import MAX_JSON_DEPTH, MAX_PARAM_CHARS, instant_problem
from mnemo.gateway.guard import Refused, check_body, check_json, check_path, check_query


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


def test_an_id_that_is_a_secret_is_refused_naming_it():
    """Ids are stored and audited as they are: a key sent as one (a client's mistake)
    is refused, in the body at any depth and in the query, and nothing else is."""
    key = "mk_live_abcdefghijklmnop1234567890"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop"
    assert refused_field(check_json, {"userId": key}) == "userId"
    assert refused_field(check_json, {"items": [{}, {"agent_id": jwt}]}) == "items[1].agent_id"
    assert refused_field(check_json, {"id": "sk-proj-" + "a1" * 20}) == "id"
    assert refused_field(check_query, b"user_id=" + key.encode()) == "user_id"
    with pytest.raises(Refused) as caught:
        check_json({"sessionId": key})
    assert key not in caught.value.detail and caught.value.code == "INVALID_ID"
    # Ids that only look like something, and secrets where no id is named, pass.
    check_json(
        {
            "userId": "4111111111111111",  # a snowflake id may pass Luhn: an id all the same
            "agentId": "5f0c2b7e-1c1f-4c8e-9a63-1f2b3c4d5e6f",
            "valid": key,  # not an id's name; content and metadata are redacted instead
            "content": f"my key is {key}",
            "metadata": {"note": jwt},
        }
    )
    check_query(b"userId=alice&q=" + key.encode())


def test_a_path_segment_that_is_a_secret_is_refused():
    """Ids travel in paths too (MEMANTO's activate makes the agent its path names): a
    key there would be stored and audited as the id."""
    key = "AKIA" + "IOSFODNN7CANARYZ"
    assert refused_field(check_path, f"/api/v2/agents/{key}/activate") == "path"
    with pytest.raises(Refused) as caught:
        check_path(f"/v1/agents/{key}")
    assert key not in caught.value.detail and caught.value.code == "INVALID_ID"
    for path in (
        "/v1/memories/5f0c2b7e-1c1f-4c8e-9a63-1f2b3c4d5e6f",
        "/v1/agents/support-bot",
        "/docs/assets/swagger-ui-bundle.js",
        "/v1/users/4111111111111111/memories",  # a long number is an id all the same
    ):
        check_path(path)


def test_json_msgspec_cannot_read_is_named_where_it_is():
    """A lone surrogate escaped in a string or a key, a number out of range: JSON all the
    same, named by its path; a surrogate pair and what is not JSON at all pass on."""
    assert refused_field(check_body, b'{"a": [1, {"b": "x\\ud800"}]}') == "a[1].b"
    assert refused_field(check_body, b'{"m": {"\\udfffk": 1}}') == "m.\\udfffk"
    assert refused_field(check_body, b'{"m": {"n": -1e400}}') == "m.n"
    assert refused_field(check_body, b'{"m": {"n": ' + b"9" * 4301 + b"}}") == "m.n"
    assert refused_field(check_body, b'"\\udc00"') == "body"
    check_body(b'{"a": "\\ud83d\\ude00", "n": ' + b"9" * 4300 + b"}")
    check_body(b'{"a": NaN}')  # not JSON: the route's MALFORMED_JSON
    check_body(b'{"a": "\\ud800"')  # nor this (unterminated)


def test_a_path_whose_percent_escapes_are_not_utf8():
    for raw in (b"/v1/agents/%ff", b"/v1/agents/%ED%A0%80", b"/v1/agents/a%C3"):
        with pytest.raises(Refused) as caught:
            check_path("/v1/agents/\ufffd", raw)
        assert caught.value.field == "path" and caught.value.code == "INVALID_ENCODING"
    check_path("/v1/agents/café", b"/v1/agents/caf%C3%A9")


def test_a_query_parameter_given_twice():
    assert refused_field(check_query, b"user_id=a&user_id=b") == "user_id"
    assert refused_field(check_query, b"limit=5&q=x&limit=5") == "limit"
    check_query(b"type=memory.recorded&type=fact.extracted", "/v1/events/stream")
    check_query(b"a=1&&b=2&=x&=y")


def test_a_header_naming_one_thing_given_twice():
    from mnemo.gateway.guard import check_headers

    twice = [(b"authorization", b"Bearer a"), (b"Authorization", b"Bearer b")]
    assert refused_field(check_headers, twice) == "Authorization"
    check_headers([(b"accept", b"a"), (b"accept", b"b"), (b"authorization", b"Bearer a")])
