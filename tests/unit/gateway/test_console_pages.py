"""The console's pages and assets as the gateway serves them: every view composed with its
script, nothing outside the package served, and nothing fetched from another origin."""

import re
from importlib import resources

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from mnemo.gateway.console import console_router
from mnemo.gateway.console.pages import VIEWS
from mnemo.gateway.problems import Problem, handle_problem


@pytest.fixture(scope="module")
def client():
    app = Litestar(route_handlers=[console_router], exception_handlers={Problem: handle_problem})
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("path", ["/console", *(f"/console/{name}" for name, _ in VIEWS)])
def test_every_view_is_a_page_with_its_own_script_and_a_strict_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    view = path.rsplit("/", 1)[-1] if path != "/console" else "signin"
    assert f'src="/console/assets/{view}.js"' in response.text
    assert "{{" not in response.text  # every placeholder filled
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert client.get(f"/console/assets/{view}.js").status_code == 200


def test_only_the_packaged_assets_are_served(client):
    js = client.get("/console/assets/api.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for name in ("pages.py", "..%2Fpages.py", "layout.html", "nope.js"):
        response = client.get(f"/console/assets/{name}")
        assert response.status_code == 404, name
    assert client.get("/console/settings").status_code == 404


def test_nothing_is_loaded_from_another_origin():
    root = resources.files("mnemo.gateway.console")
    for folder in ("templates", "assets"):
        for file in root.joinpath(folder).iterdir():
            text = file.read_text(encoding="utf-8")
            # An SVG names its XML namespace; that is an identifier, not a fetch.
            found = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
            assert not found, (file.name, found)
