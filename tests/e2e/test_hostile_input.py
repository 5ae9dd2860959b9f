"""Input the stores cannot hold is refused at the gateway with a 4xx naming the field, on
every surface, so that a 2xx is always a promise (issue #12, classes 1 and 2)."""

import gzip
import socket
import uuid
from urllib.parse import urlparse

import httpx
import pytest

from .test_errors import assert_problem
from .waiting import eventually

NUL = "\x00"


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


INGEST_WITH_NUL = [
    ({"content": f"a{NUL}b"}, "content"),
    ({"sessionId": f"s{NUL}"}, "sessionId"),
    ({"agentId": f"a{NUL}"}, "agentId"),
    ({"userId": f"u{NUL}"}, "userId"),
    ({"metadata": {"note": f"x{NUL}y"}}, "metadata.note"),
    ({"metadata": {"x": [{"y": NUL}]}}, "metadata.x[0].y"),
    ({"metadata": {f"k{NUL}": 1}}, f"metadata.k{NUL}"),
]


@pytest.mark.parametrize(("change", "field"), INGEST_WITH_NUL)
def test_nul_anywhere_in_an_ingest_is_refused_naming_the_field(api, user_id, change, field):
    body = {"userId": user_id, "content": "hello", **change}
    assert_problem(api.post("/v1/ingest", json=body), 400, field)
    batch = {"items": [{"userId": user_id, "content": "fine"}, body]}
    assert_problem(api.post("/v1/ingest/batch", json=batch), 400, f"items[1].{field}")


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z"],
)
def test_valid_times_beyond_the_storable_range_are_refused(api, user_id, stamp):
    body = {"userId": user_id, "content": "long ago", "metadata": {"timestamp": stamp}}
    assert_problem(api.post("/v1/ingest", json=body), 400, "metadata.timestamp")


@pytest.mark.parametrize("stamp", ["0002-01-01T00:00:00Z", "9998-12-31T23:59:59Z"])
def test_the_edges_of_the_range_are_stored_and_searchable(api, user_id, stamp):
    word = "edge" + uuid.uuid4().hex[:8]
    body = {"userId": user_id, "content": f"the {word} of time", "metadata": {"timestamp": stamp}}
    response = api.post("/v1/ingest", json=body)
    assert response.status_code == 202, response.text

    def found() -> bool:
        hits = api.get("/v1/search", params={"userId": user_id, "q": word, "limit": 5})
        return any(word in hit["content"] for hit in hits.json()["results"])

    eventually(found, timeout=90)


def test_deep_json_is_a_400_on_every_body(api, user_id):
    for path in ("/v1/ingest", "/v1/ingest/batch", "/v1/agents", "/v1/search", "/api/events"):
        response = api.post(path, content=_deep(1000), headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), (path, response.text)
        assert "Recursion" not in response.text
    nested = b'{"userId":"u","content":"x","metadata":' + _deep(100) + b"}"
    response = api.post("/v1/ingest", content=nested, headers={"content-type": "application/json"})
    assert assert_problem(response, 400)["code"] == "TOO_DEEP"


def test_invalid_utf8_is_a_400_naming_the_body(api):
    bad = b'{"userId": "u", "content": "\xff\xfe"}'
    response = api.post("/v1/ingest", content=bad, headers={"content-type": "application/json"})
    assert assert_problem(response, 400, "body")["code"] == "INVALID_ENCODING"


def test_oversized_fields_are_4xx_not_5xx(api, user_id):
    big_meta = {"userId": user_id, "content": "x", "metadata": {"blob": "a" * (5 * 1024 * 1024)}}
    assert_problem(api.post("/v1/ingest", json=big_meta), 413, "metadata")
    for name in ("sessionId", "agentId"):
        body = {"userId": user_id, "content": "x", name: "a" * (2 * 1024 * 1024)}
        assert_problem(api.post("/v1/ingest", json=body), 400, name)
    query = {"userId": user_id, "query": "a" * 1_000_000}
    assert_problem(api.post("/v1/search", json=query), 400, "query")


def test_a_request_line_too_long_for_the_server_is_problem_json(stack):
    with socket.create_connection(("127.0.0.1", stack.port), timeout=15) as sock:
        line = f"GET /v1/search?userId=u&q={'a' * 400_000} HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(line.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"status":400' in body


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/search", {"userId": f"u{NUL}", "q": "x"}, "userId"),
        ("/v1/memories", {"userId": f"u{NUL}"}, "userId"),
        ("/v1/audit/events", {"correlation_id": f"c{NUL}"}, "correlation_id"),
        ("/v1/search", {"userId": "u", "q": "x", "asOf": "0001-01-01T00:00:00+14:00"}, "asOf"),
        ("/v1/audit/events", {"since": "9999-12-31"}, "since"),
        ("/v1/audit/events", {"until": "0001-01-01T00:00:00Z"}, "until"),
        (
            "/v1/facts",
            {"userId": "u", "asOfKnowledge": "9999-12-31T23:59:59-14:00"},
            "asOfKnowledge",
        ),
    ],
)
def test_query_parameters_the_stores_cannot_hold_are_400(api, path, params, field):
    body = assert_problem(api.get(path, params=params), 400, field)
    assert "Error" not in body["detail"]  # no internal exception class


@pytest.mark.parametrize("stamp", ["\uff12\uff10\uff12\uff14-05", "2024-05\n", "2024-05-31 "])
def test_a_time_in_another_scripts_digits_or_with_a_trailing_space_is_400(api, stamp):
    """`\\d` takes any script's digits and `$` a last newline: a time is ASCII, as a
    JSON body's is."""
    assert_problem(api.get("/v1/facts", params={"userId": "u", "asOf": stamp}), 400, "asOf")


def test_a_time_in_lower_case_is_read_as_in_a_json_body(api, user_id):
    for stamp in ("2024-05-31t10:00:00z", "2024-05-31T10:00:00Z"):
        got = api.get("/v1/facts", params={"userId": user_id, "asOf": stamp})
        assert got.status_code == 200, got.text


def test_invalid_utf8_in_a_query_parameter_is_400(api):
    assert_problem(api.get("/v1/search?userId=%ff&q=x"), 400, "userId")


def test_a_last_event_id_beyond_any_sequence_is_400(api):
    response = api.get("/v1/events/stream", headers={"Last-Event-ID": str(2**64 + 5)})
    assert_problem(response, 400, "lastEventId")
    # ASCII digits only: int() would take other scripts' digits, spaces and underscores.
    # Nor a bare sequence: ids are opaque (a sequence counts every tenant's events).
    for raw in ("\u0665", " 5 ", "1_000", "-1", "5", "00000000000000zz"):
        response = api.get("/v1/events/stream", params={"lastEventId": raw})
        assert_problem(response, 400, "lastEventId")


def test_compatible_surfaces_refuse_in_their_own_shape(api):
    memanto = api.post("/api/v2/agents", json={"agent_id": f"a{NUL}"})
    assert memanto.status_code == 400
    assert memanto.json()["status"] == "error" and "agent_id" in memanto.json()["error"]["message"]
    elephantasm = api.post("/api/events", json={"anima_id": "x", "content": f"a{NUL}"})
    assert elephantasm.status_code == 422
    assert "content" in elephantasm.json()["detail"]
    eliza = api.post(
        f"/api/memory/agents/{uuid.uuid4()}/memories",
        json={"content": {"text": f"a{NUL}"}, "entityId": str(uuid.uuid4())},
    )
    assert eliza.status_code == 400
    assert eliza.json()["success"] is False


def test_search_post_filters_out_of_range_are_400(api):
    body = {"userId": "u", "query": "x", "filters": {"asOf": "0001-01-01T00:00:00+14:00"}}
    assert_problem(api.post("/v1/search", json=body), 400, "filters.asOf")


def test_no_refusal_is_stored(api, user_id):
    """What was refused never reaches the log: the user has no memories afterwards."""
    api.post("/v1/ingest", json={"userId": user_id, "content": f"a{NUL}b"})
    api.post("/v1/ingest", json={"userId": user_id, "content": "ok", "metadata": {"x": NUL}})
    marker = api.post("/v1/ingest", json={"userId": user_id, "content": "the marker"})
    assert marker.status_code == 202

    def listed() -> list[dict]:
        return api.get("/v1/memories", params={"userId": user_id}).json()["memories"]

    eventually(lambda: len(listed()) >= 1, timeout=90)
    assert [m["content"] for m in listed()] == ["the marker"]


def test_agent_metadata_has_the_same_bound_as_memory_metadata(api):
    """An event made from the agent must still fit the bus when the relay publishes it."""
    body = {"name": "big", "metadata": {"blob": "b" * (900 * 1024)}}
    assert_problem(api.post("/v1/agents", json=body), 413, "metadata")
    memanto = api.post("/api/v2/agents", json={"agent_id": "big-" + uuid.uuid4().hex[:6], **body})
    assert memanto.status_code == 413


def _raw(stack, *requests: bytes) -> list[bytes]:
    """Send each request on one connection; the status line of each answer."""
    url = urlparse(stack.base_url)
    answers = []
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        reader = conn.makefile("rb")
        for request in requests:
            try:
                conn.sendall(request)
                status = reader.readline()
            except OSError:
                break  # refused and closed while it still sent
            answers.append(status)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
    return answers


def test_a_request_line_and_headers_over_64_kib_are_refused(stack):
    """httptools takes any size: without a bound, one connection could hold megabytes of
    headers before any route saw them."""
    key = stack.api_key.encode()

    def get(header_bytes: int) -> bytes:
        return (
            b"GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\n"
            b"X-Big: " + b"a" * header_bytes + b"\r\n\r\n"
        )

    for size in (70_000, 1_000_000):
        [status] = _raw(stack, get(size))
        assert status.startswith(b"HTTP/1.1 400"), (size, status)
    # Past a megabyte still incomplete, refused as it arrives (the answer may be lost to
    # the connection's reset while the client still sends): never answered 200.
    assert all(not s.startswith(b"HTTP/1.1 200") for s in _raw(stack, get(5_000_000)))
    # Within the bound, and on one connection one after another: each answered.
    assert all(s.startswith(b"HTTP/1.1 200") for s in _raw(stack, get(40_000), get(40_000)))
    # A large body is no large head.
    body = ('{"userId": "u-head", "content": "' + "b" * 90_000 + '"}').encode()
    post = (
        b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    [status] = _raw(stack, post)
    assert status.startswith(b"HTTP/1.1 202"), status


# JSON msgspec cannot read although it is JSON: a lone UTF-16 surrogate escaped in a string
# or a key (no character, so no store takes it), or a number no float or int holds. Refused
# naming where it is, on every surface, rather than as the body's fault. "@" stands for
# "\\ud800" as a client's JSON encoder writes it.
def _lone(template: str) -> bytes:
    return template.replace("@", '"\\ud800"').encode()


UNREADABLE = [
    ("/v1/ingest", '{"userId": "u", "content": @}', "content"),
    ("/v1/ingest", '{"userId": "u", "content": "x", "metadata": {"a": [1, @]}}', "metadata.a[1]"),
    ("/v1/ingest", '{"userId": "u", "content": "x", "metadata": {"\\udc00k": 1}}',
     "metadata.\\udc00k"),
    ("/v1/ingest/batch", '{"items": [{"userId": "u", "content": "x"}, {"userId": @}]}',
     "items[1].userId"),
    ("/v1/ingest", '{"userId": "u", "content": "x", "metadata": {"n": 1e400}}', "metadata.n"),
    ("/v1/ingest", '{"userId": "u", "content": "x", "metadata": {"n": -' + "9" * 5000 + "}}",
     "metadata.n"),
    ("/v1/search", '{"userId": "u", "query": "x", "limit": 1e400}', "limit"),
    ("/v1/agents", '{"name": @}', "name"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "raw", "field"), UNREADABLE, ids=lambda v: str(v)[:30])
def test_json_msgspec_cannot_read_is_refused_naming_the_field(api, path, raw, field):
    response = api.post(path, content=_lone(raw), headers={"content-type": "application/json"})
    assert_problem(response, 400, field)


def test_a_lone_surrogate_is_named_on_every_surface(api):
    json_type = {"content-type": "application/json"}
    entity = uuid.uuid4()
    eliza = api.post(
        f"/api/memory/agents/{uuid.uuid4()}/memories",
        content=_lone('{"entityId": "%s", "content": {"text": @}}' % entity),  # noqa: UP031
        headers=json_type,
    )
    assert eliza.status_code == 400 and eliza.json()["error"]["field"] == "content.text"
    mem0 = api.post(
        "/mem0/v3/memories/add/",
        content=_lone('{"user_id": "u", "messages": [{"role": "user", "content": @}]}'),
        headers=json_type,
    )
    assert mem0.status_code == 400 and mem0.json()["field"] == "messages[0].content", mem0.text
    memanto = api.post(
        "/api/v2/agents", content=_lone('{"agent_id": "x", "description": @}'), headers=json_type
    )
    assert memanto.status_code == 400 and "description" in memanto.json()["error"]["message"]
    elephantasm = api.post(
        "/api/events", content=_lone('{"anima_id": "x", "content": @}'), headers=json_type
    )
    assert elephantasm.status_code == 422 and "content" in elephantasm.json()["detail"]
    # The JSON of a query parameter too.
    filters = _lone('{"sessionId": @}').decode()
    response = api.get("/v1/context", params={"userId": "u", "filters": filters})
    assert_problem(response, 400, "filters.sessionId")


@pytest.mark.parametrize("segment", ["%ff", "%ED%A0%80", "a%C3"])
def test_a_path_not_utf8_once_percent_decoded_is_refused(api, segment):
    """The server puts U+FFFD in place of such bytes: the id would be another one (Mem0's
    `DELETE /v2/entities/user/%ff` forgot the user "\ufffd", and answered 200)."""
    for method, path in [
        ("GET", f"/v1/memories/{segment}"),
        ("DELETE", f"/v1/agents/{segment}"),
        ("POST", f"/v1/facts/{segment}/validate"),
    ]:
        assert_problem(api.request(method, path), 400, "path")
    mem0 = api.delete(f"/mem0/v2/entities/user/{segment}/")
    assert mem0.status_code == 400 and mem0.json()["field"] == "path", mem0.text
    memanto = api.post(f"/api/v2/agents/{segment}/activate")
    assert memanto.status_code == 400 and "path" in memanto.json()["error"]["message"]
    eliza = api.get(f"/api/memory/agents/{uuid.uuid4()}/rooms/{segment}/memories")
    assert eliza.status_code == 400 and eliza.json()["error"]["field"] == "path"


def test_a_body_over_the_limit_is_a_413_naming_it_in_each_surfaces_shape(api):
    big = b'{"userId": "u", "content": "' + b"a" * (7 * 1024 * 1024) + b'"}'
    json_type = {"content-type": "application/json"}
    for path in ("/v1/ingest", "/v1/agents"):
        assert_problem(api.post(path, content=big, headers=json_type), 413, "body")
    # The MCP SDK answered its own 413 in plain text, with no content type.
    mcp = api.post(
        "/mcp", content=big, headers={**json_type, "accept": "application/json, text/event-stream"}
    )
    assert_problem(mcp, 413, "body")
    mem0 = api.post("/mem0/v3/memories/add/", content=big, headers=json_type)
    assert mem0.status_code == 413 and mem0.json()["field"] == "body", mem0.text
    eliza = api.post(f"/api/memory/agents/{uuid.uuid4()}/memories", content=big, headers=json_type)
    assert eliza.status_code == 413 and eliza.json()["error"]["field"] == "body", eliza.text


def test_a_body_in_a_content_encoding_is_a_415_naming_it(api, user_id):
    """The gateway does not decode content codings: a gzip body was refused as not UTF-8,
    and a plain body labelled `br` was taken as it came (202)."""
    body = b'{"userId": "%s", "content": "coded"}' % user_id.encode()
    json_type = {"content-type": "application/json"}
    for coding, sent in (("gzip", gzip.compress(body)), ("br", body), ("GZIP, br", body)):
        response = api.post(
            "/v1/ingest", content=sent, headers={**json_type, "content-encoding": coding}
        )
        assert_problem(response, 415, "Content-Encoding")
        assert response.headers["accept-encoding"] == "identity"
    mem0 = api.post(
        "/mem0/v3/memories/add/",
        content=b'{"user_id": "u", "messages": "x"}',
        headers={**json_type, "content-encoding": "deflate"},
    )
    assert mem0.status_code == 415 and mem0.json()["field"] == "Content-Encoding", mem0.text
    same = api.post(
        "/v1/ingest", content=body, headers={**json_type, "content-encoding": "identity"}
    )
    assert same.status_code == 202, same.text

    def listed() -> list[str]:
        found = api.get("/v1/memories", params={"userId": user_id}).json()["memories"]
        return [m["content"] for m in found]

    eventually(lambda: listed() == ["coded"], timeout=90)


@pytest.mark.parametrize("raw", ["", " 0.5", "0.5 ", "\u0660.\u0665", "nan", "0x1"])
def test_a_fraction_parameter_is_ascii_decimal_text_and_empty_is_400(api, raw):
    """As every number parameter: sent empty is a 400 (it was "not sent"), and float()
    alone took other scripts' digits and spaces."""
    for name in ("threshold", "alpha"):
        params = {"userId": "u", "q": "x", name: raw}
        assert_problem(api.get("/v1/context", params=params), 400, name)
    assert api.get("/v1/context", params={"userId": "u", "q": "x", "threshold": "0.5"}).is_success
    if raw:  # ElizaOS's own server reads an empty threshold as none
        eliza = api.get(
            f"/api/memory/agents/{uuid.uuid4()}/memories/search",
            params={"q": "x", "threshold": raw},
        )
        assert eliza.status_code == 400 and eliza.json()["error"]["field"] == "threshold"


def test_a_query_parameter_given_twice_is_refused_naming_it(api):
    """Each route reads one value, some the first and some the last: Mem0's delete of
    `user_id=a&user_id=b` deleted b's memories only, and answered 200."""
    first, second = ("twice-" + uuid.uuid4().hex[:6] for _ in range(2))
    for user in (first, second):
        body = {"user_id": user, "messages": "I like tea", "infer": False}
        assert api.post("/mem0/v3/memories/add/", json=body).status_code == 200
    both = api.delete(f"/mem0/v1/memories/?user_id={first}&user_id={second}")
    assert both.status_code == 400 and both.json()["field"] == "user_id", both.text
    assert_problem(api.get(f"/v1/memories?userId={first}&userId={second}"), 400, "userId")
    assert_problem(api.get("/v1/search?userId=u&q=x&limit=5&limit=abc"), 400, "limit")
    memanto = api.get("/api/v2/agents?limit=5&limit=6")
    assert memanto.status_code == 400 and "limit" in memanto.json()["error"]["message"]

    def count(user: str) -> int:
        listed = api.post("/mem0/v3/memories/", json={"filters": {"user_id": user}})
        return listed.json()["count"]

    eventually(lambda: count(first) == 1 and count(second) == 1, timeout=90)
    # A list a route takes stays one: the event stream's types.
    with api.stream(
        "GET", "/v1/events/stream", params=[("type", "memory.recorded"), ("type", "fact.extracted")]
    ) as stream:
        assert stream.status_code == 200


def test_a_header_naming_one_thing_given_twice_is_refused_naming_it(stack, user_id):
    """The Idempotency-Key's middleware read the last of two, the route the first; so for
    two Authorization headers (RFC 9110: only a list may come as several lines)."""
    key = f"Bearer {stack.api_key}"
    body = {"userId": user_id, "content": "twice"}
    with httpx.Client(base_url=stack.base_url, timeout=15) as raw:
        for headers, field in (
            ([("Authorization", key), ("Authorization", "Bearer nope")], "Authorization"),
            ([("Authorization", key), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
             "Idempotency-Key"),
        ):  # fmt: skip
            assert_problem(raw.post("/v1/ingest", json=body, headers=headers), 400, field)
        session = [("Authorization", key), ("X-Session-Token", "a"), ("X-Session-Token", "b")]
        memanto = raw.get("/api/v2/session/current", headers=session)
        assert memanto.status_code == 400 and "X-Session-Token" in memanto.text, memanto.text
        one = raw.post("/v1/ingest", json=body, headers=[("Authorization", key)])
        assert one.status_code == 202, one.text


@pytest.mark.parametrize("raw", [b"[1]", b'"s"', b"null", b"1", b"{bad"])
def test_a_body_that_is_no_json_object_is_named_on_the_surfaces_that_read_it_field_by_field(
    api, raw
):
    """Mem0's and MEMANTO's routes read their bodies field by field: such a body named no
    field (the native routes name `body`)."""
    json_type = {"content-type": "application/json"}
    mem0 = api.post("/mem0/v3/memories/", content=raw, headers=json_type)
    assert mem0.status_code == 400 and mem0.json()["field"] == "body", mem0.text
    memanto = api.post("/api/v2/agents", content=raw, headers=json_type)
    assert memanto.status_code == 422 and "body" in memanto.json()["error"]["message"]


@pytest.mark.parametrize("field", ["summary", "source_uri", "author", "meta"])
def test_an_elephantasm_event_too_large_names_the_field_that_made_it_so(api, field):
    """meta, summary, source_uri and author are kept together as the memory's metadata: a
    long summary was refused as a `meta` too large, though none was sent."""
    anima = api.post("/api/animas", json={"name": "big-" + uuid.uuid4().hex[:6]}).json()["id"]
    big = {"note": "m" * 70_000} if field == "meta" else "s" * 70_000
    event = {"anima_id": anima, "event_type": "message.in", "content": "hi", field: big}
    answer = api.post("/api/events", json=event)
    assert answer.status_code == 413 and answer.json()["detail"].startswith(field), answer.text


def test_an_eliza_memory_too_large_names_the_field_that_made_it_so(api):
    """content's other fields and the metadata are kept together as the memory's metadata:
    a long content field was refused naming `metadata`, though none was sent."""
    path = f"/api/memory/agents/{uuid.uuid4()}/memories"
    for body, field in (
        ({"content": {"text": "x", "thought": "t" * 70_000}}, "content"),
        ({"content": {"text": "x"}, "metadata": {"note": "m" * 70_000}}, "metadata"),
    ):
        answer = api.post(path, json=body)
        assert answer.status_code == 413 and answer.json()["error"]["field"] == field, answer.text
    imported = api.post(
        f"/api/memory/agents/{uuid.uuid4()}/import",
        json={
            "memories": [{"content": {"text": "x"}}, {"content": {"text": "x", "t": "t" * 70_000}}]
        },
    )
    assert imported.status_code == 413, imported.text
    assert imported.json()["error"]["field"] == "memories[1].content", imported.text
