"""A STAND-IN for an OpenAI-compatible chat-completions server, started by the tests.

A remote LLM cannot run here, so this tiny stdlib HTTP server answers
`POST /v1/chat/completions` with scripted replies instead (and `GET /v1/models`, the
health check, with `models_status`): a test scripts, for a token
that its memory contains, the replies to give in turn (a JSON answer, raw text that is
not JSON, or an HTTP error status, each possibly held back until the test lets it go); the
last one repeats. Every request is kept, so a
test can see what synthesis sent (model, schema, Authorization header). It is not a
model and understands nothing.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    answer: Any = None  # JSON-able: sent as the message content, JSON-encoded
    text: str | None = None  # sent as the message content as is (e.g. malformed JSON)
    # If set, the answer waits until the test sets it (at most a minute): a slow model.
    hold: threading.Event | None = field(default=None, compare=False)


@dataclass
class Seen:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class LLMStandIn:
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    models_status: int = 200
    url: str = ""  # where it answers, once served
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, token: str, *replies: Reply) -> None:
        with self._lock:
            self.scripts[token] = list(replies)

    def requests_for(self, token: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if token in _memory(s.body)]

    def reply_to(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.seen.append(Seen(body, headers))
            text = _memory(body)
            for token, replies in self.scripts.items():
                if token in text:
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(answer={"facts": [], "negations": [], "mentions": []})


def _memory(body: dict[str, Any]) -> str:
    return " ".join(m.get("content", "") for m in body.get("messages", []) if m["role"] == "user")


def serve(standin: LLMStandIn) -> ThreadingHTTPServer:
    """Start the stand-in on a free port (a daemon thread); `server_address` says where."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
            elif standin.models_status != 200:
                self._send(standin.models_status, {"error": {"message": "scripted failure"}})
            else:
                self._send(200, {"object": "list", "data": [{"id": "standin-model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = standin.reply_to(body, {k.lower(): v for k, v in self.headers.items()})
            if reply.hold is not None:
                reply.hold.wait(timeout=60)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": "scripted failure"}})
                return
            content = reply.text if reply.text is not None else json.dumps(reply.answer)
            self._send(
                200,
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="llm-standin").start()
    return server
