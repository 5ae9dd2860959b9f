"""The MCP tools' arguments: schemas generated from the routes' own Structs, and how a
call's arguments become the native request (path, body or query, Idempotency-Key)."""

import httpx
import msgspec
import pytest

from mnemo.gateway.mcp.calls import ArgumentRefused, call_tool, request_of
from mnemo.gateway.mcp.tools import BY_NAME, TOOLS
from mnemo.gateway.routes.facts import ContradictRequest, SupersedeRequest
from mnemo.gateway.routes.ingest import IngestRequest
from mnemo.gateway.routes.search import SearchRequest


def properties(struct: type) -> dict:
    (ref,), defs = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    return defs[ref["$ref"].rsplit("/", 1)[-1]]["properties"]


@pytest.mark.parametrize(
    ("tool", "native"),
    [
        ("remember", IngestRequest),
        ("search", SearchRequest),
        ("supersede_fact", SupersedeRequest),
        ("contradict_fact", ContradictRequest),
    ],
)
def test_a_body_tool_takes_the_routes_own_fields(tool, native):
    schema = BY_NAME[tool].input_schema()
    for name, field_schema in properties(native).items():
        assert schema["properties"][name] == field_schema, name
    assert schema["additionalProperties"] is False


def test_every_schema_is_an_object_whose_refs_resolve():
    for tool in TOOLS:
        schema = tool.input_schema()
        assert schema["type"] == "object" and schema["required"], tool.name
        text = msgspec.json.encode(schema).decode()
        for name in schema.get("$defs", {}):
            assert f"#/$defs/{name}" in text


def test_path_arguments_are_quoted_and_the_key_becomes_a_header():
    path, body, params, headers = request_of(
        BY_NAME["supersede_fact"],
        {"factId": "f/1 2", "content": "Works at Hooli", "idempotencyKey": "k-1"},
    )
    assert path == "/v1/facts/f%2F1%202/supersede"
    assert body == {"content": "Works at Hooli"}
    assert (params, headers) == ({}, {"Idempotency-Key": "k-1"})


def test_query_tools_send_only_what_was_given():
    path, body, params, _ = request_of(BY_NAME["get_context"], {"userId": "u", "limit": 3})
    assert (path, body, params) == ("/v1/context", None, {"userId": "u", "limit": "3"})
    path, _, params, _ = request_of(BY_NAME["read_memory_pack"], {"agentId": "a b"})
    assert (path, params) == ("/v1/agents/a%20b/packs/latest", {})
    # An id of dots stays an id, never "this folder" or "the parent".
    path, *_ = request_of(BY_NAME["validate_fact"], {"factId": ".."})
    assert path == "/v1/facts/%2E%2E/validate"


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("remember", {"content": "x"}, "userId"),
        ("search", {"userId": "u", "query": "q", "limit": "ten"}, "$.limit"),
        ("list_facts", {"userId": "u", "userID": "u"}, "userID"),
        ("read_memory_pack", {"agentId": "a", "preset": "chatty"}, "$.preset"),
    ],
)
def test_arguments_that_do_not_fit_name_the_field(tool, arguments, named):
    with pytest.raises(msgspec.ValidationError, match=named.replace("$", r"\$")):
        request_of(BY_NAME[tool], arguments)


@pytest.mark.parametrize(
    "key",
    ["abc\u00e9", "abc\ndef", "abc\n", "abc\r", " abc", "abc ", "", "x" * 256, "a\x00b"],
)
def test_an_idempotency_key_no_header_can_carry_is_refused_naming_it(key):
    """As the gateway's Idempotency-Key: 1-255 printable ASCII, checked whole (a pattern
    search would let a trailing newline through)."""
    with pytest.raises(ArgumentRefused, match="printable ASCII") as refused:
        request_of(BY_NAME["remember"], {"userId": "u", "content": "c", "idempotencyKey": key})
    assert refused.value.field == "idempotencyKey"


def test_the_longest_idempotency_key_is_sent_and_the_schema_says_what_fits():
    key = "k" + " ~" * 126 + "!"  # 254 characters, inner spaces allowed
    *_, headers = request_of(BY_NAME["forget_user"], {"userId": "u", "idempotencyKey": key})
    assert headers == {"Idempotency-Key": key}
    schema = BY_NAME["validate_fact"].input_schema()["properties"]["idempotencyKey"]
    [text, _] = schema["anyOf"]
    assert text["maxLength"] == 255 and text["pattern"].startswith("^[!-~]")


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("search", {"userId": "u", "query": "a\ud800b"}, "query"),
        ("validate_fact", {"factId": "\udfff"}, "factId"),
        ("get_context", {"userId": "u\udc80"}, "userId"),
        (
            "remember",
            {"userId": "u", "content": "c", "metadata": {"n": ["ok", "\ud800"]}},
            "metadata.n[1]",
        ),
        ("remember", {"userId": "u", "content": "c", "metadata": {"k\ud800": 1}}, "metadata"),
        ("list_facts", {"userId": "u", "\ud800": "unknown and not text"}, "arguments"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_where_it_is(tool, arguments, named):
    with pytest.raises(ArgumentRefused, match="lone surrogate") as refused:
        request_of(BY_NAME[tool], arguments)
    assert refused.value.field == named


async def test_an_argument_no_request_can_carry_is_a_tool_error_and_nothing_is_sent():
    sent: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202, json={"queued": True})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(gateway), base_url="http://gateway"
    ) as client:
        for arguments, field in [
            ({"userId": "u", "content": "c", "idempotencyKey": "abc\u00e9"}, "idempotencyKey"),
            ({"userId": "u", "content": "c", "idempotencyKey": "abc\ndef"}, "idempotencyKey"),
            ({"userId": "u", "content": "a\ud800"}, "content"),
            ({"content": "no user"}, "userId"),
            ({"userId": "u", "content": "c", "bogus": 1}, "bogus"),
        ]:
            result = await call_tool(client, "remember", arguments, {})
            assert result.is_error and result.structured_content is not None
            assert result.structured_content["field"] == field
            # Shaped as the route's own refusal: {error, field, status, code}.
            assert result.structured_content["status"] == 400
            assert result.structured_content["code"] == "INVALID_REQUEST"
            assert "codec" not in result.structured_content["error"]
        assert sent == []
        fine = await call_tool(client, "remember", {"userId": "u", "content": "c\u00e9"}, {})
    assert not fine.is_error and len(sent) == 1
