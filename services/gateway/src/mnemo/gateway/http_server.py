"""uvicorn's HTTP protocol, answering what it refuses itself in the gateway's one error
shape: a request it cannot parse (a request line or headers over its 64 KiB buffer,
bytes that are not HTTP) gets a problem+json 400 instead of uvicorn's text/plain one."""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mnemo.contracts import new_id
from mnemo.gateway.problems import PROBLEM_JSON, Problem, problem_body

# The most a request line and headers may take; httptools itself takes any size, so a
# client could make one connection hold megabytes before any route saw the request. They
# are counted as parsed and refused once the head is whole (refused while the client still
# sends, it would often lose the answer to the connection's reset); a head still
# incomplete after MAX_HEAD_BUFFER bytes is refused as it arrives.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEAD_BUFFER = 1024 * 1024


class HeadTooLarge(Exception):
    """Raised in a parser callback: httptools makes it a parse error, answered 400."""


class ProblemHttpProtocol(HttpToolsProtocol):
    _received = 0  # bytes received while the current request's head was incomplete
    _head = 0  # bytes of the current request's line and headers, as parsed
    _in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._received += len(data)
        super().data_received(data)
        # Still no end of the headers past the limit: refused before they grow further.
        if self._in_head and self._received > MAX_HEAD_BUFFER and not self.transport.is_closing():
            self.send_400_response("request line and headers too large")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head += size

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head > MAX_HEAD_BYTES:
            # Once the head is whole: the client has sent it and reads the answer.
            raise HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._received, self._head = True, 0, 0  # the next request

    def send_400_response(self, msg: str) -> None:
        detail = (
            "the request is not valid HTTP, or its request line and headers exceed 64 KiB"
            " (send long queries in a POST body)"
        )
        body = problem_body(Problem(400, "INVALID_HTTP", detail), "")
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"x-request-id: " + new_id().encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(head))
        self.transport.close()
