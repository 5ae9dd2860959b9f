"""The Mem0 platform API (what the `mem0ai` client's MemoryClient calls), under /mem0.

Mem0's paths share /v1 with the native surface (`/v1/memories/{id}/` beside
`/v1/memories/{id}`, which the router cannot tell apart: it ignores a trailing slash).
What tells them apart is the key's scheme: the Mem0 client sends `Authorization: Token
<key>`, which the native surface never documented (it takes Bearer). So a request with a
Token key is routed to this surface (`Mem0Paths` prefixes its path with /mem0), and
`http://host/mem0` is this surface for any client, with either scheme.
"""

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.gateway.compat.mem0_add import add
from mnemo.gateway.compat.mem0_deletion import delete_all
from mnemo.gateway.compat.mem0_entities import delete_entity, entities, ping, summary
from mnemo.gateway.compat.mem0_history import history
from mnemo.gateway.compat.mem0_memories import get_all, search
from mnemo.gateway.compat.mem0_memory import delete_memory, get_memory, update_memory
from mnemo.gateway.compat.mem0_shapes import mem0_refusal
from mnemo.gateway.problems import Problem, http_problem, unexpected
from mnemo.telemetry import get_logger

log = get_logger(__name__)

PREFIX = "/mem0"


class Mem0Paths:
    """Send every request authenticated the Mem0 way (`Token <key>`) to this surface."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(PREFIX + "/"):
            for name, value in scope["headers"]:
                if name == b"authorization":
                    if value[:6].lower() == b"token ":
                        await self._mounted(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)

    async def _mounted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request under PREFIX; the route it matched is told to the middlewares
        outside (the span's name and the HTTP metrics' `route` label: it was
        `unmatched` for every Mem0 client request)."""
        inner = {
            **scope,
            "path": PREFIX + scope["path"],
            "raw_path": PREFIX.encode() + (scope.get("raw_path") or scope["path"].encode()),
        }

        async def send_routed(message: Message) -> None:
            template = inner.get("path_template")
            if message["type"] == "http.response.start" and isinstance(template, str):
                scope["path_template"] = template  # type: ignore[typeddict-unknown-key]
            await send(message)

        try:
            await self.app(inner, receive, send_routed)  # type: ignore[arg-type]
        finally:
            template = inner.get("path_template")
            if isinstance(template, str):
                scope["path_template"] = template  # type: ignore[typeddict-unknown-key]


def handle_error(request: Request, exc: Exception) -> Response[bytes]:
    if isinstance(exc, Problem):
        return mem0_refusal(exc)
    if isinstance(exc, HTTPException):
        return mem0_refusal(http_problem(request, exc))
    log.exception("mem0_failed")
    return mem0_refusal(unexpected(exc))


mem0_router = Router(
    path=PREFIX,
    route_handlers=[
        ping,
        add,
        get_all,
        search,
        get_memory,
        update_memory,
        delete_memory,
        delete_all,
        history,
        entities,
        delete_entity,
        summary,
    ],
    exception_handlers={
        Problem: handle_error,
        HTTPException: handle_error,
        Exception: handle_error,
    },
)
