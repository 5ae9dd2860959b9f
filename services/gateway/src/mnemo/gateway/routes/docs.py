"""GET /docs (Swagger UI, its files served from the swagger-ui-bundle-v2 wheel under
/docs/assets) and GET /docs/openapi.json (every surface, described)."""

import asyncio
import re
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.routes import HTTPRoute
from swagger_ui_bundle import swagger_ui_path

from mnemo.gateway import VERSION, openapi, openapi_compat
from mnemo.gateway.mcp.endpoint import PATH as MCP_PATH
from mnemo.gateway.mcp.tools import TOOLS
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import as_json

_TYPED = re.compile(r"\{(\w+):\w+\}")

# Swagger UI's own files, from the swagger-ui-bundle-v2 wheel: /docs needs no network.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
_ASSET_DIR = Path(str(swagger_ui_path))

_UI = """<!doctype html>
<html><head><meta charset="utf-8"><title>Mnemo API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/docs/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""


def routes_of(request: Request) -> list[tuple[str, str]]:
    """(method, path) of every native route (`/v1/...`), paths in OpenAPI form. The
    compatibility surfaces (`/api/...`, `/mem0/...`) follow their own services' documents."""
    found: list[tuple[str, str]] = []
    for route in request.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1/"):
            continue
        path = _TYPED.sub(r"{\1}", route.path)
        found += [(m, path) for m in route.methods if m not in {"HEAD", "OPTIONS"}]
    return found


@get("/docs/openapi.json")
async def openapi_json(request: Request) -> Response[bytes]:
    document: Any = request.app.state.get("openapi")
    if document is None:
        document = openapi.build(routes_of(request), VERSION)
        # The compatible surfaces (/api/..., /mem0/...), each under its tag.
        openapi_compat.extend(document, openapi_compat.compat_routes(request.app))
        tools = [(tool.name, tool.description) for tool in TOOLS]
        openapi_compat.extend_mcp(document, MCP_PATH, tools)
        request.app.state["openapi"] = document
    return Response(as_json(document), media_type="application/json")


# The page may not be framed by another site (clickjacking), as the console's may not.
_UI_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@get("/docs")
async def docs_ui() -> Response[str]:
    return Response(_UI, media_type="text/html", headers=_UI_HEADERS)


@get("/docs/assets/{name:str}")
async def docs_asset(name: str) -> Response[bytes]:
    """One of Swagger UI's files (only those /docs uses: no path reaches anything else)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise Problem(404, "NOT_FOUND", f"no asset {name!r}")
    body = await asyncio.to_thread((_ASSET_DIR / name).read_bytes)
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
