"""Every route of the app, read from its router rather than from a list kept by hand, called
without credentials: all but the documented public ones refuse."""

from __future__ import annotations

import re

import httpx
from litestar.routes import ASGIRoute, HTTPRoute

from maillon.web.app import create_app
from tests.support.web import UIServer

#: Reachable without credentials, as the README's "REST API" and "The web UI" say: the hooks
#: (their URL is the secret), the OAuth callback (its single-use state), health and readiness,
#: metrics (their own token), the static files; and the pages that let a person in.
DOCUMENTED_PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/hooks",
    "/oauth/{app:str}/callback",
    "/static/{file_path:path}",
}
DOCUMENTED_ANONYMOUS = {"/setup", "/sign-in", "/sign-out", "/set-password/{token:str}"}


def _handlers(app: object) -> list[tuple[str, str, dict[str, object]]]:
    """(method, path, opt) of every handler the router holds."""
    found: list[tuple[str, str, dict[str, object]]] = []
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                found.append((method, route.path, handler.opt))
        elif isinstance(route, ASGIRoute):
            found.append(("POST", route.path, route.route_handler.opt))
    return found


def _concrete(path: str) -> str:
    """``path`` with a plausible value for each parameter."""
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    path = re.sub(r"\{[^}:]+:path\}", "maillon.css", path)
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_only_the_documented_routes_are_public(ui_server: UIServer) -> None:
    handlers = _handlers(create_app(runtime=ui_server.runtime, workers=False))
    public = {path for _, path, opt in handlers if opt.get("public")}
    anonymous = {path for _, path, opt in handlers if opt.get("anonymous")}
    assert public == DOCUMENTED_PUBLIC
    assert anonymous == DOCUMENTED_ANONYMOUS


def test_every_other_route_refuses_a_caller_without_credentials(ui_server: UIServer) -> None:
    ui_server.set_up_owner()  # strangers are sent to sign in, not to the set-up
    handlers = _handlers(create_app(runtime=ui_server.runtime, workers=False))
    walked = 0
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        for method, path, opt in handlers:
            if opt.get("public") or opt.get("anonymous"):
                continue
            answer = client.request(method, _concrete(path))
            where = f"{method} {path}"
            if opt.get("ui"):
                assert answer.status_code == 303, where
                assert answer.headers["location"].startswith("/sign-in"), where
            else:
                assert answer.status_code == 401, f"{where}: {answer.status_code}"
            walked += 1
    assert walked > 100  # every API route and page with each method, OPTIONS included
