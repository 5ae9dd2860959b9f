"""uvicorn's HTTP protocol, answering what it refuses itself in the gateway's one error
shape: a request it cannot parse (a request line or headers over its 64 KiB buffer,
bytes that are not HTTP) gets a problem+json 400 instead of uvicorn's text/plain one."""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mnemo.contracts import new_id
from mnemo.gateway.problems import PROBLEM_JSON, Problem, problem_body


class ProblemHttpProtocol(HttpToolsProtocol):
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
