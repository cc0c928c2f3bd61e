"""``create_app()``: the Litestar application, composed from the engine and the web routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from math import ceil
from typing import Any

from litestar import Litestar, Request, Response, get, head
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandler

from maillon.engine.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from maillon.engine.flows import FlowValidationError
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.api import (
    AlertController,
    ConnectionController,
    ConnectorController,
    EventController,
    FlowController,
    QueueController,
    RejectedDeliveryController,
    RunController,
)
from maillon.web.api.deps import ServicesDep
from maillon.web.auth import PUBLIC, Authenticate, csrf_config
from maillon.web.edge import App, unexpected_error
from maillon.web.hooks import hooks
from maillon.web.oauth import oauth_callback, start_oauth
from maillon.web.openapi import document_errors, openapi_config
from maillon.web.ui import templates, ui_routes
from maillon.web.ui.errors import error_page, page_reader, wants_page

__all__ = ["create_app"]

log = logging.getLogger(__name__)


@get("/healthz", opt=PUBLIC, include_in_schema=False)
async def healthz() -> dict[str, str]:
    """Liveness for load balancers; says nothing about the data."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, include_in_schema=False)
async def readyz(services: ServicesDep) -> Response[dict[str, Any]]:
    """Readiness: 200 when every check is ok, else 503 with what is wrong."""
    readiness = await services.monitoring.ready()
    return Response(
        {"status": "ready" if readiness.ready else "not ready", "checks": readiness.checks},
        status_code=HTTP_200_OK if readiness.ready else HTTP_503_SERVICE_UNAVAILABLE,
    )


# Many load balancers' and uptime checkers' probes send HEAD: the same answers, without a body.
@head("/healthz", opt=PUBLIC, include_in_schema=False)
async def healthz_head() -> None:
    """Liveness, for probes that send HEAD."""


@head("/readyz", opt=PUBLIC, include_in_schema=False)
async def readyz_head(services: ServicesDep) -> Response[None]:
    """Readiness, for probes that send HEAD: 200 or 503."""
    readiness = await services.monitoring.ready()
    return Response(
        None, status_code=HTTP_200_OK if readiness.ready else HTTP_503_SERVICE_UNAVAILABLE
    )


@get("/metrics", opt=PUBLIC, include_in_schema=False)
async def metrics(request: Request[Any, Any, Any], services: ServicesDep) -> Response[bytes]:
    """Prometheus' scrape, with the metrics token (not a user's session or API token)."""
    text, content_type = await services.monitoring.scrape(request.headers.get("authorization"))
    return Response(text, media_type=content_type)


def _error(status: int) -> ExceptionHandler[Any]:
    def handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
        body: dict[str, Any] = {"status_code": status, "detail": str(exc)}
        headers: dict[str, str] = {}
        if isinstance(exc, Invalid):
            body["problems"] = exc.problems
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(ceil(exc.retry_after))
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        return Response(body, status_code=status, headers=headers)

    return handler


def _page_for_browsers(answer: ExceptionHandler[Any]) -> ExceptionHandler[Any]:
    """``answer``'s JSON, or for a browser asking for a page (not on the API or a hook: see
    :func:`~maillon.web.ui.errors.wants_page`) the UI's error page, with the same status and
    headers (``Retry-After``, ``Allow``)."""

    def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        json_answer = answer(request, exc)  # logs an unexpected error, whoever asked
        if not wants_page(request.scope):
            return json_answer
        page = error_page(request, exc, json_answer.status_code)
        for name, value in json_answer.headers.items():
            if name.lower() != "content-type":
                page.headers[name] = value
        return page

    return handler


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    workers: bool = True,
) -> Litestar:
    """The application. ``workers=False`` serves HTTP only (runs are executed elsewhere); the
    flows' schedules fire in it unless the settings say ``scheduler=False``. Worker processes
    that ``runtime`` started execute the runs in its stead (see
    :meth:`Runtime.start_worker_processes`)."""
    runtime = runtime or Runtime(settings or Settings())
    services = runtime.services
    csrf = csrf_config(runtime.settings)
    authenticate = Authenticate(services.accounts, services.tokens, csrf, runtime.settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        runtime.open()
        if workers:
            runtime.start_workers()
        if runtime.settings.scheduler:
            runtime.start_scheduler()
        try:
            yield
        finally:
            await runtime.stop_scheduler()
            await runtime.stop_workers()
            runtime.close()

    app = App(
        route_handlers=[
            healthz,
            healthz_head,
            readyz,
            readyz_head,
            metrics,
            hooks,
            start_oauth,
            oauth_callback,
            FlowController,
            EventController,
            RejectedDeliveryController,
            RunController,
            QueueController,
            ConnectionController,
            ConnectorController,
            AlertController,
            *ui_routes(runtime),
        ],
        middleware=[authenticate],
        template_config=templates(runtime.registry),
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        state=State({"runtime": runtime}),
        lifespan=[lifespan],
        request_max_body_size=runtime.settings.max_body_bytes,
        # JSON for the API and the hooks; a page for a browser anywhere else (an address no
        # route knows, a server error on a page), for which the hook finds who reads it.
        exception_handlers={
            kind: _page_for_browsers(answer)
            for kind, answer in {
                NotFound: _error(HTTP_404_NOT_FOUND),
                Conflict: _error(HTTP_409_CONFLICT),
                Forbidden: _error(HTTP_403_FORBIDDEN),
                RateLimited: _error(HTTP_429_TOO_MANY_REQUESTS),
                Unauthenticated: _error(HTTP_401_UNAUTHORIZED),
                # A flow that cannot be saved is a well-formed body with problems: 422, listed.
                FlowValidationError: _error(HTTP_422_UNPROCESSABLE_ENTITY),
                # Input refused says so as Invalid; any other ValueError is a bug or a broken
                # install (secrets sealed with another key), not the caller's fault: a 500.
                Invalid: _error(HTTP_400_BAD_REQUEST),
                HTTPException: create_exception_response,
                # Anything else is a bug: logged with its traceback and the request id.
                Exception: unexpected_error,
            }.items()
        },
        after_exception=[page_reader(authenticate)],
        openapi_config=openapi_config(csrf.cookie_name, csrf.header_name),
        logging_config=None,
    )
    document_errors(app)
    return app
