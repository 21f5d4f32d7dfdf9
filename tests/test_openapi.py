"""`GET /api/openapi.json` describes every route of the JSON API, and nothing else.

The routes are read from the running app (`app.routes`, into the `/api` Mount), so a route
added without documentation, or documentation left behind by a removed route, fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from vaultfront.config import Settings
from vaultfront.web.app import create_app

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # The document needs neither Vault nor data: nothing here is called.
    data = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{Path(data) / 'vaultfront.db'}",
        vault_addr="http://127.0.0.1:9",
        vault_token="unused",
        secret_key="openapi-test-key",
    )
    app = create_app(settings, background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path) of every route, descending into Mounts (not into mounted apps)."""
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":  # Starlette adds HEAD to every GET
                    yield method, prefix + route.path


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_the_document_describes_every_api_route(client: TestClient) -> None:
    response = client.get("/api/openapi.json")  # no credentials needed
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3."), document.get("openapi")
    assert document["info"]["title"] and document["info"]["version"], document["info"]

    app_routes = set(walk(list(client.app.routes)))  # type: ignore[attr-defined]
    api_routes = {(m, p) for m, p in app_routes if p.startswith("/api/")}
    assert len(api_routes) >= 7, app_routes  # me, openapi, list, create, get, patch, delete
    paths = documented(document)
    assert api_routes - paths == set(), f"routes missing from the document: {api_routes - paths}"
    assert paths - api_routes == set(), f"documented but not routed: {paths - api_routes}"


def test_the_document_names_every_status_of_the_spec(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    paths = document["paths"]
    item = "/api/orgs/{org}/secrets/{id}"
    collection = "/api/orgs/{org}/secrets"
    expected = {
        ("/api/me", "get"): {"200", "401"},
        (collection, "get"): {"200", "401", "404"},
        (collection, "post"): {"201", "401", "403", "404", "409", "413", "422", "503"},
        (item, "get"): {"200", "401", "404"},
        (item, "patch"): {"200", "401", "403", "404", "409", "412", "413", "422", "503"},
        (item, "delete"): {"204", "401", "403", "404", "412", "503"},
        ("/api/orgs/{org}/members", "get"): {"200", "401", "404"},
    }
    for (path, method), statuses in expected.items():
        responses = set(paths[path][method]["responses"])
        assert statuses <= responses, (path, method, sorted(statuses - responses))

    # Every $ref resolves inside the document.
    schemas = document["components"]["schemas"]

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref

    # Path parameters are declared for every templated segment.
    for path, item_ in paths.items():
        declared = {p["name"] for p in item_.get("parameters", []) if p["in"] == "path"}
        templated = {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
        assert templated == declared, (path, templated, declared)
