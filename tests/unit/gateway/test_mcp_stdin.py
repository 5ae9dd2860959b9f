"""`mnemo mcp` reads stdin as POST /mcp reads a body: a line that is no JSON-RPC message
is answered (id null), never dropped in silence, and the good lines go on."""

import json
from collections.abc import AsyncIterator

import anyio
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from mnemo.gateway.mcp.stdin_messages import (
    INVALID_REQUEST,
    PARSE_ERROR,
    Replies,
    checked_lines,
    refusal,
)

GOOD = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}).encode() + b"\n"
CALL = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search",'


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json\n", PARSE_ERROR),
        (CALL + b'"arguments":{"userId":"u","query":"a\\ud800b"}}}\n', PARSE_ERROR),
        (CALL + b'"arguments":{"userId":"u","query":"a\xffb"}}}\n', PARSE_ERROR),
        (b'{"jsonrpc":"2.0","id":5,"method":3}\n', INVALID_REQUEST),
        (b"[]\n", INVALID_REQUEST),
        (GOOD, None),
        (CALL + b'"arguments":{"userId":"u","query":"caf\xc3\xa9 \\u00e9"}}}\r\n', None),
    ],
)
def test_what_is_refused_and_how(line, code):
    refused = refusal(line)
    assert (refused[0] if refused else None) == code
    if code == PARSE_ERROR:
        assert refused is not None and refused[1].startswith("Parse error: ")


async def test_a_refused_line_is_answered_and_the_next_one_still_read():
    async def stdin() -> AsyncIterator[bytes]:
        for line in (b"{not json\n", b"   \n", GOOD, b'{"id":1}\n'):
            yield line

    send, receive = anyio.create_memory_object_stream[SessionMessage](10)
    replies = Replies()
    replies.attach(send)
    passed = [line async for line in checked_lines(stdin(), replies)]
    send.close()
    answered = [m.message async for m in receive]
    assert passed == [GOOD.decode()]
    assert [(type(m), m.id) for m in answered] == [(types.JSONRPCError, None)] * 2
    assert [m.error.code for m in answered] == [PARSE_ERROR, INVALID_REQUEST]  # type: ignore[union-attr]


async def test_reading_stops_once_no_answer_can_be_written():
    async def stdin() -> AsyncIterator[bytes]:
        yield b"{not json\n"
        yield GOOD

    send, receive = anyio.create_memory_object_stream[SessionMessage](1)
    receive.close()
    replies = Replies()
    replies.attach(send)
    assert [line async for line in checked_lines(stdin(), replies)] == []
