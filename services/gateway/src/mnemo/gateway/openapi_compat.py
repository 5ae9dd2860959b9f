"""The compatible surfaces in the OpenAPI document: every route under /api (Elephantasm,
ElizaOS, MEMANTO) and /mem0 (the Mem0 platform API), tagged with its surface, with what it
does, its path parameters, how it authenticates, its success status (the handler's own)
and its error shape.

Their request and answer bodies are the other services' (seed documents 000, 002, 004,
and the README's compatibility table): described here are the envelopes every answer of
a surface shares, not each body, so a client generator gets the paths and errors right
and reads the bodies as those services document them. The native surface (/v1) is
described in full in mnemo.gateway.openapi. Tags of this module start with "compat: ";
the fuzz test (tests/e2e/fuzz.py) leaves them out, as it has no bodies to generate.
"""

import re
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute

from mnemo.gateway.problems import STATUSES

_TYPED = re.compile(r"\{(\w+):\w+\}")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Surface:
    tag: str
    prefixes: tuple[str, ...]
    description: str
    success: dict[str, Any]
    error: dict[str, Any]
    errors: tuple[int, ...]
    # Besides `Authorization: Bearer`, a header the surface's clients send the key in.
    key_header: str | None = None


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_CODE = _object({"code": {"type": "string"}, "message": {"type": "string"}}, ["code", "message"])
# Seed 002's error: `details` is the field the error names (also as `field`), else null.
_ELIZA_ERROR = _object(
    {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": ["string", "null"]},
        "field": {"type": "string"},
    },
    ["code", "message", "details"],
)

SURFACES = (
    Surface(
        "compat: MEMANTO",
        ("/api/v2/",),
        "MEMANTO's REST API v2 (seed 004): agents, sessions (X-Session-Token from activate), "
        "remember, recall, answers, memory management and context operations.",
        _object(
            {
                "status": {"const": "success"},
                "data": {"type": "object"},
                "timestamp": {"type": "string", "format": "date-time"},
            },
            ["status", "data", "timestamp"],
        ),
        _object(
            {
                "status": {"const": "error"},
                "error": _CODE,
                "timestamp": {"type": "string", "format": "date-time"},
            },
            ["status", "error", "timestamp"],
        ),
        (401, 404, 422, 429, 503),
    ),
    Surface(
        "compat: ElizaOS",
        ("/api/agents/", "/api/memory/", "/api/server/"),
        "ElizaOS's memory API (seed 002): an agent's memories, rooms, search, export and "
        "import, forgetting an entity; the server's ping and health.",
        _object({"success": {"const": True}, "data": {}}, ["success", "data"]),
        _object({"success": {"const": False}, "error": _ELIZA_ERROR}, ["success", "error"]),
        (400, 401, 404, 429, 503),
        key_header="X-API-KEY",
    ),
    Surface(
        "compat: Mem0",
        ("/mem0/",),
        "The Mem0 platform API (what the mem0ai MemoryClient calls): add, list, search, get, "
        "update, history, delete, delete all, entities, summary. A request with "
        "`Authorization: Token <key>` on Mem0's own paths (/v1/ping/, /v3/memories/add/, "
        "/v1/memories/{id}/, ...) is this surface too: the gateway routes it here by the "
        "key's scheme, as the paths overlap the native ones.",
        {},
        _object(
            {"detail": {"type": "string"}, "code": {"type": "string"}, "field": {"type": "string"}},
            ["detail"],
        ),
        (400, 401, 404, 429, 503),
    ),
    Surface(
        "compat: Elephantasm",
        ("/api/",),
        "Elephantasm's REST API (seed 000): animas, events, the latest memory pack, usage.",
        {},
        _object({"detail": {"type": "string"}}, ["detail"]),
        (401, 404, 409, 422, 429, 503),
    ),
)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# No key needed: health checks, as on every surface.
PUBLIC = {("GET", "/api/health"), ("GET", "/api/server/ping"), ("GET", "/api/server/health")}
# MEMANTO routes that work without X-Session-Token (all others need the session's token).
NO_SESSION = {
    "create_agent",
    "list_agents",
    "get_agent",
    "delete_agent",
    "activate",
    "status",
}

# What each handler does, by surface and handler name: a route missing here fails build().
SUMMARIES: dict[tuple[str, str], str] = {
    ("compat: MEMANTO", "create_agent"): "Create an agent (master key)",
    ("compat: MEMANTO", "list_agents"): "List agents (limit, offset)",
    ("compat: MEMANTO", "get_agent"): "An agent's details",
    ("compat: MEMANTO", "delete_agent"): "Delete an agent (master key)",
    ("compat: MEMANTO", "activate"): "Open a session: its token (registers an agent on first use)",
    ("compat: MEMANTO", "deactivate"): "End the session",
    ("compat: MEMANTO", "status"): "The session's status",
    ("compat: MEMANTO", "extend"): "Extend the session (hours)",
    ("compat: MEMANTO", "current_session"): "The session of X-Session-Token",
    ("compat: MEMANTO", "extend_session"): "Extend the session of X-Session-Token",
    ("compat: MEMANTO", "remember"): "Store a memory (query parameters or body)",
    ("compat: MEMANTO", "batch_remember"): "Store up to 100 memories",
    ("compat: MEMANTO", "recall"): "Semantic search over the agent's memories",
    ("compat: MEMANTO", "recall_as_of"): "Recall as of a time (what had happened by then)",
    ("compat: MEMANTO", "recall_changed_since"): "Memories recorded since a time",
    ("compat: MEMANTO", "recall_current"): "The facts that hold now (superseded left out)",
    ("compat: MEMANTO", "validate"): "Validate a fact",
    ("compat: MEMANTO", "supersede"): "Supersede a fact (new_content, or new_memory_id)",
    ("compat: MEMANTO", "contradict"): "Mark a fact contradicted",
    ("compat: MEMANTO", "export"): "Every memory of the agent",
    ("compat: MEMANTO", "answer"): "Answer a question from the agent's memories",
    ("compat: MEMANTO", "summarize"): "Summarize the agent's memories (its memory pack)",
    ("compat: MEMANTO", "summarize_scope"): "Summarize the session agent's memories",
    ("compat: MEMANTO", "summarize_custom"): "Summarize the memories named by memory_ids",
    ("compat: MEMANTO", "compress_context"): "Compress a conversation within max_tokens",
    ("compat: MEMANTO", "compress_scope"): "Compress messages, or the agent's older history",
    ("compat: ElizaOS", "list_memories"): "An agent's memories (roomId, entityId, count)",
    ("compat: ElizaOS", "create_memory"): "Store a memory of an agent",
    ("compat: ElizaOS", "delete_memories"): "Delete an agent's memories (of one entityId)",
    ("compat: ElizaOS", "delete_memory"): "Delete one memory",
    ("compat: ElizaOS", "room_memories"): "A room's memories",
    ("compat: ElizaOS", "search_memories"): "Semantic search over an agent's memories",
    ("compat: ElizaOS", "memory_stats"): "Counts of an agent's memories",
    ("compat: ElizaOS", "agent_rooms"): "An agent's rooms (the sessions of its memories)",
    ("compat: ElizaOS", "agent_room"): "One room of an agent",
    ("compat: ElizaOS", "export_memories"): "Export an agent's memories",
    ("compat: ElizaOS", "import_memories"): "Import memories into an agent",
    ("compat: ElizaOS", "groups"): "Group memories (not supported: 501)",
    ("compat: ElizaOS", "create_group"): "Create a group (not supported: 501)",
    ("compat: ElizaOS", "insights"): "Memory insights (not supported: 501)",
    ("compat: ElizaOS", "ping"): "Liveness: pong",
    ("compat: ElizaOS", "server_health"): "Health of every service",
    ("compat: Mem0", "ping"): "The key's organisation and project (the client's first call)",
    ("compat: Mem0", "add"): "Add messages (infer false: stored as they are; true: facts)",
    ("compat: Mem0", "get_all"): "List memories (filters, page, page_size)",
    ("compat: Mem0", "search"): "Search memories (query, filters, top_k, threshold)",
    ("compat: Mem0", "get_memory"): "One memory",
    ("compat: Mem0", "update_memory"): "Update a memory (a new version in the log)",
    ("compat: Mem0", "delete_memory"): "Delete a memory",
    ("compat: Mem0", "delete_all"): "Delete every memory of a scope (user_id, agent_id, ...)",
    ("compat: Mem0", "history"): "Every change of a memory, from the log",
    ("compat: Mem0", "entities"): "Users, agents and runs holding memories",
    ("compat: Mem0", "delete_entity"): "Delete an entity's memories",
    ("compat: Mem0", "summary"): "A user's profile",
    ("compat: Elephantasm", "health"): "Health check",
    ("compat: Elephantasm", "list_animas"): "The caller's animas",
    ("compat: Elephantasm", "create_anima"): "Create an anima",
    ("compat: Elephantasm", "get_anima"): "An anima",
    ("compat: Elephantasm", "create_event"): "Capture an event (409 on a dedupe_key again)",
    ("compat: Elephantasm", "latest_memory_pack"): "The anima's latest memory pack (or null)",
    ("compat: Elephantasm", "usage"): "This month's calls by action",
}


def surface_of(path: str) -> Surface | None:
    return next((s for s in SURFACES if path.startswith(s.prefixes)), None)


def compat_routes(app: Litestar) -> list[tuple[str, str, str, int]]:
    """(method, OpenAPI path, handler name, success status) of every /api and /mem0 route."""
    found: list[tuple[str, str, str, int]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(("/api/", "/mem0/")):
            continue
        path = _TYPED.sub(r"{\1}", route.path)
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                found.append((method, path, handler.fn.__name__, handler.status_code))
    return found


def extend(document: dict[str, Any], routes: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    """`document` with these routes' operations and their surfaces' tags added."""
    paths = document.setdefault("paths", {})
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    for method, path, name, status in sorted(routes):
        surface = surface_of(path)
        if surface is None:
            raise KeyError(f"{path} belongs to no compatible surface")
        summary = SUMMARIES.get((surface.tag, name))
        if summary is None:
            raise KeyError(f"{method} {path} ({name}) has no summary in {__name__}")
        paths.setdefault(path, {})[method.lower()] = _operation(
            surface, method, path, name, status, summary, schemes
        )
    tags = document.setdefault("tags", [])
    tags += [{"name": s.tag, "description": s.description} for s in SURFACES]
    return document


def _operation(
    surface: Surface,
    method: str,
    path: str,
    name: str,
    status: int,
    summary: str,
    schemes: dict[str, Any],
) -> dict[str, Any]:
    public = (method, path) in PUBLIC
    success: dict[str, Any] = {"description": summary}
    if status != 204:
        success["content"] = {"application/json": {"schema": surface.success}}
    responses: dict[str, Any] = {str(status): success}
    codes = set(surface.errors) - ({401, 429} if public else set())
    if method in MUTATING:
        # The Idempotency-Key of any write (a malformed key, or one reused with another
        # body) is answered on every surface, in its error shape; so is a body too slow
        # to arrive (408, MNEMO_BODY_TIMEOUT), too large (413, MNEMO_MAX_BODY_BYTES), or
        # in a Content-Encoding (415).
        codes |= {400, 408, 409, 413, 415}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": f"{STATUSES[code][0]}, in the surface's error shape",
            "content": {"application/json": {"schema": surface.error}},
        }
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in _PARAM.findall(path)
    ]
    if surface.tag == "compat: MEMANTO" and name not in NO_SESSION:
        parameters.append(
            {
                "name": "X-Session-Token",
                "in": "header",
                "required": True,
                "description": "the session_token of POST /agents/{agent_id}/activate",
                "schema": {"type": "string"},
            }
        )
    security: list[dict[str, list[str]]] = []
    if not public:
        security = [{"bearer": []}]
        if surface.key_header is not None:
            scheme = surface.key_header.lower().replace("-", "_")
            schemes[scheme] = {"type": "apiKey", "in": "header", "name": surface.key_header}
            security.append({scheme: []})
    return {
        "operationId": method.lower() + "_" + re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_"),
        "summary": summary,
        "tags": [surface.tag],
        "parameters": parameters,
        "responses": responses,
        "security": security,
    }


# --- MCP -------------------------------------------------------------------------------

MCP_TAG = "MCP"
_JSONRPC_ID = {"type": ["string", "integer"]}


def extend_mcp(document: dict[str, Any], path: str, tools: list[tuple[str, str]]) -> None:
    """POST `path`, the MCP server over streamable HTTP (stateless: no GET stream, no
    session to DELETE, both 405), with `tools` (name, description) listed in its text: the
    tools' arguments are their native routes' (tools/list gives each one's JSON Schema)."""
    listed = "\n".join(f"- `{name}`: {text}" for name, text in tools)
    request = _object(
        {
            "jsonrpc": {"const": "2.0"},
            "id": _JSONRPC_ID,
            "method": {"type": "string", "examples": ["initialize", "tools/list", "tools/call"]},
            "params": {"type": "object"},
        },
        ["jsonrpc", "method"],
    )
    answer = {
        "oneOf": [
            _object(
                {"jsonrpc": {"const": "2.0"}, "id": _JSONRPC_ID, "result": {"type": "object"}},
                ["jsonrpc", "id", "result"],
            ),
            _object(
                {"jsonrpc": {"const": "2.0"}, "id": _JSONRPC_ID, "error": _JSONRPC_ERROR},
                ["jsonrpc", "error"],
            ),
        ]
    }
    problem = {"$ref": "#/components/schemas/Problem"}
    responses: dict[str, Any] = {
        "200": {
            "description": "The JSON-RPC answer (a tool's failure is a result with isError)",
            "content": {"application/json": {"schema": answer}},
        },
        "202": {"description": "A notification or a response from the client: accepted"},
    }
    # 400 and 409: the Idempotency-Key of a POST (a malformed key, or one reused with
    # another body), as on every route; 413: a body over MNEMO_MAX_BODY_BYTES; 415: one
    # in a Content-Encoding.
    for code in (400, 401, 409, 413, 415, 429, 503):
        responses[str(code)] = {
            "description": STATUSES[code][0],
            "content": {"application/problem+json": {"schema": problem}},
        }
    document.setdefault("paths", {})[path] = {
        "post": {
            "operationId": "post_mcp",
            "summary": "The MCP server (Model Context Protocol, streamable HTTP)",
            "description": "Send JSON-RPC 2.0 messages with `Accept: application/json, "
            "text/event-stream`; each tool calls the native route its description names, "
            "with the caller's key, so auth, limits, isolation, idempotency and the audit "
            "chain are that route's. `mnemo mcp` serves the same tools over stdio.\n\n" + listed,
            "tags": [MCP_TAG],
            "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
            "responses": responses,
            "security": [{"bearer": []}],
        }
    }
    document.setdefault("tags", []).append(
        {"name": MCP_TAG, "description": "Memory tools for agents over the Model Context Protocol"}
    )


_JSONRPC_ERROR = _object(
    {"code": {"type": "integer"}, "message": {"type": "string"}, "data": {}}, ["code", "message"]
)
