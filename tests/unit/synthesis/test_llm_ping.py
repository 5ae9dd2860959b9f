"""The LLM health check (`LLMExtractor.ping`, shown in /v1/health): `GET /v1/models` on a
small HTTP server started here; an error says what happened and never the URL."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mnemo.runtime.ports import free_port
from mnemo.synthesis.llm import LLMExtractor, LLMUnavailable


def models_server(status: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status if self.path == "/v1/models" else 404
            body = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'
            self.send_response(code)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("suffix", ["", "/v1"])
async def test_a_server_that_lists_its_models_is_well(suffix):
    server = models_server(200)
    host, port = server.server_address[:2]
    llm = LLMExtractor(f"http://{host}:{port}{suffix}", "m", budget=None)
    try:
        await llm.ping()
    finally:
        await llm.close()
        server.shutdown()


async def test_a_server_that_answers_an_error_is_unwell():
    server = models_server(503)
    host, port = server.server_address[:2]
    llm = LLMExtractor(f"http://{host}:{port}/v1", "m", budget=None)
    try:
        with pytest.raises(LLMUnavailable, match=r"^HTTP 503$"):
            await llm.ping()
    finally:
        await llm.close()
        server.shutdown()


async def test_no_server_is_unwell_and_the_error_names_no_url():
    port = free_port()
    llm = LLMExtractor(f"http://user:secret@127.0.0.1:{port}/v1", "m", budget=None)
    try:
        with pytest.raises(LLMUnavailable) as raised:
            await llm.ping()
    finally:
        await llm.close()
    assert "ConnectError" in str(raised.value)
    assert "secret" not in str(raised.value) and str(port) not in str(raised.value)
