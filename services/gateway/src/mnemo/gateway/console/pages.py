"""GET /console, /console/{view} and /console/assets/{name}: the operator console.

The pages are HTML shells composed here from templates shipped in this package; a small
hand-written script per view fills them by calling the public /v1 API with the key the
operator signed in with (kept in the tab's sessionStorage, sent as a Bearer token). So the
console holds no data and no key of its own, and an agent key sees through it exactly what
it sees through the API. Nothing is fetched from anywhere but this gateway: the content
security policy says so to the browser.
"""

from functools import cache
from importlib import resources

from litestar import Response, Router, get

from mnemo.gateway.problems import Problem

# (path segment, title) of each view, in the order of the navigation bar.
VIEWS = (
    ("live", "Live"),
    ("trace", "Trace"),
    ("memory", "Memory"),
    ("facts", "Facts"),
    ("admin", "Admin"),
)
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEADERS = {
    # Scripts, styles and calls from this origin only: no CDN, no inline script, and
    # nothing a memory's content could smuggle in runs.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _read(folder: str, name: str) -> str:
    return resources.files(__package__).joinpath(folder, name).read_text(encoding="utf-8")


@cache
def _assets() -> frozenset[str]:
    folder = resources.files(__package__).joinpath("assets")
    return frozenset(f.name for f in folder.iterdir() if f.name[f.name.rfind(".") :] in ASSET_TYPES)


def render(view: str, title: str) -> str:
    """The layout with the view's body and script, and the navigation bar."""
    nav = "".join(
        f'<a href="/console/{name}"{" class=current" if name == view else ""}>{label}</a>'
        for name, label in VIEWS
    )
    return (
        _read("templates", "layout.html")
        .replace("{{title}}", title)
        .replace("{{view}}", view)
        .replace("{{nav}}", nav if view != "signin" else "")
        .replace("{{body}}", _read("templates", f"{view}.html"))
    )


def _page(view: str, title: str) -> Response[str]:
    headers = {**HEADERS, "Cache-Control": "no-cache"}
    return Response(render(view, title), media_type="text/html", headers=headers)


@get("/")
async def sign_in_page() -> Response[str]:
    return _page("signin", "Sign in")


@get("/{view:str}")
async def view_page(view: str) -> Response[str]:
    titles = dict(VIEWS)
    if view not in titles:
        raise Problem(404, "NOT_FOUND", f"no console view {view[:40]!r}", field="view")
    return _page(view, titles[view])


@get("/assets/{name:str}")
async def asset(name: str) -> Response[bytes]:
    if name not in _assets():
        raise Problem(404, "NOT_FOUND", f"no console asset {name[:40]!r}", field="name")
    body = resources.files(__package__).joinpath("assets", name).read_bytes()
    media = ASSET_TYPES[name[name.rfind(".") :]]
    return Response(body, media_type=media, headers={**HEADERS, "Cache-Control": "no-cache"})


console_router = Router(path="/console", route_handlers=[sign_in_page, view_page, asset])
