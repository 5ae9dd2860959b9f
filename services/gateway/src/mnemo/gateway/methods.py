"""OPTIONS: the methods a path takes, read from the app's own routes.

Litestar makes one OPTIONS handler per route as it registers the route's first handler,
so on a path whose methods come from several handlers (GET and POST /v1/keys) it lists
only the first one's. This answers OPTIONS from the merged route instead; a 405 gets the
same list in `Allow` from the router (see problems.handle_http_exception).
"""

from litestar import Request, Response
from litestar.routes import HTTPRoute


def allowed_methods(request: Request) -> list[str]:
    template = request.scope.get("path_template", request.url.path)
    methods: set[str] = {"OPTIONS"}
    for route in request.app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            methods |= set(route.methods)
    return sorted(methods)


async def answer_options(request: Request) -> Response[bytes] | None:
    """A before-request hook: OPTIONS is answered here (204 with Allow), nothing else is."""
    if request.method != "OPTIONS":
        return None
    return Response(b"", status_code=204, headers={"Allow": ", ".join(allowed_methods(request))})
