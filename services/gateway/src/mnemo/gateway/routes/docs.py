"""GET /docs (Swagger UI) and GET /docs/openapi.json (the native surface, described)."""

import re
from typing import Any

from litestar import Request, Response, get
from litestar.routes import HTTPRoute

from mnemo.gateway import openapi
from mnemo.gateway.validation import as_json

VERSION = "0.1.0"
_TYPED = re.compile(r"\{(\w+):\w+\}")

_UI = """<!doctype html>
<html><head><meta charset="utf-8"><title>Mnemo API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/docs/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""


def routes_of(request: Request) -> list[tuple[str, str]]:
    """(method, path) of every native route (`/v1/...`), paths in OpenAPI form. The
    compatibility surfaces (`/api/...`) follow their own services' documents."""
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
        request.app.state["openapi"] = document
    return Response(as_json(document), media_type="application/json")


@get("/docs")
async def docs_ui() -> Response[str]:
    return Response(_UI, media_type="text/html")
