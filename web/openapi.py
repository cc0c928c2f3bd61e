"""The OpenAPI document and the page that shows it, with every asset served by Maillon itself.

``/schema`` is Swagger UI, ``/schema/openapi.json`` and ``/schema/openapi.yaml`` the document.
Litestar's own pages load their scripts, styles and icon from public CDNs, which an install
behind a firewall (or a browser that is offline) cannot reach, and which would see every visit:
Swagger UI is vendored in ``web/static/vendor`` instead (its licence beside it) and served with
the UI's static files. The document is written into the page as a data block, read by
``web/static/api-page.js`` (the pages' Content-Security-Policy allows no inline script), so
that opening it is one request besides the cached assets.

Like the API, the page needs a signed-in browser or a bearer token. "Try it out" works with
either: the page sends the session's CSRF token with calls that change something, and its
"Authorize" button takes an API token.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    TooManyRequestsException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from maillon.engine.services.install import maillon_version
from maillon.web.ui.assets import static_url

__all__ = ["SWAGGER_UI", "document_errors", "openapi_config"]

#: The vendored Swagger UI, in ``web/static/vendor``.
SWAGGER_UI = "5.35.0"


class _SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI on the vendored assets, the document written into the page."""

    def __init__(self, csrf_cookie: str, csrf_header: str) -> None:
        super().__init__(path="/", favicon="", style="")
        self._csrf = (csrf_cookie, csrf_header)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page's HTML."""
        # "</" cannot end the data block that holds the document: no string inside it can
        # close the tag, whatever the API's descriptions say.
        spec = self.render_json(request, openapi_schema).decode().replace("</", "<\\/")
        cookie, header = (html.escape(name, quote=True) for name in self._csrf)
        title = html.escape(openapi_schema["info"]["title"])
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{static_url(f"vendor/swagger-ui-{SWAGGER_UI}.css")}">
<script src="{static_url(f"vendor/swagger-ui-bundle-{SWAGGER_UI}.js")}"></script>
<script src="{static_url("api-page.js")}" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
<script type="application/json" id="openapi-document" data-csrf-cookie="{cookie}"
 data-csrf-header="{header}">{spec}</script>
</body>
</html>
""".encode()


def openapi_config(csrf_cookie: str, csrf_header: str) -> OpenAPIConfig:
    """The API's OpenAPI settings: Maillon's version, bearer tokens, and the local page."""
    return OpenAPIConfig(
        title="Maillon",
        version=maillon_version(),
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"bearer": []}],
        path="/schema",
        render_plugins=[
            _SwaggerPage(csrf_cookie, csrf_header),
            JsonRenderPlugin(),
            YamlRenderPlugin(),
        ],
    )


class _Conflict(ClientException):
    """A call the state of things refuses (a run that cannot be cancelled now, a name taken)."""

    status_code = 409


class _Unprocessable(ClientException):
    """A flow that cannot be saved: the body is well formed, its ``problems`` say what is wrong."""

    status_code = 422


def document_errors(app: Litestar) -> None:
    """Name in the document the errors every API call may answer, which Litestar cannot see
    (the engine raises its own, mapped to statuses by the app): 401 and 429 for the token, 404
    for a path naming something, 409 for a change the state of things refuses, 422 for a flow
    with problems. Generated clients then expect them rather than fail on them."""
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            raises: list[type[HTTPException]] = [NotAuthorizedException, TooManyRequestsException]
            if "{" in route.path:
                raises.append(NotFoundException)
            if handler.http_methods - {"GET", "HEAD"}:
                raises.append(_Conflict)
                if (
                    route.path.startswith("/api/flows")
                    and "data" in handler.parsed_fn_signature.parameters
                ):
                    raises.append(_Unprocessable)
            handler.raises = [*(handler.raises or ()), *raises]
