"""The MCP tools' arguments: schemas generated from the routes' own Structs, and how a
call's arguments become the native request (path, body or query, Idempotency-Key)."""

import msgspec
import pytest

from mnemo.gateway.mcp.calls import request_of
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
