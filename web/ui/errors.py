"""Errors as pages: what a browser is shown instead of JSON when something fails.

The UI's routes show their errors as pages (:func:`error_page`, their router's handler). The
app's own handlers, which answer JSON to the API and the hooks, show the same page when a
browser asks for a page anywhere else (:func:`wants_page`): an address no route knows, and a
server error on a page. Such an error may happen before any route's check has run, so that
nobody has said yet who reads it: :func:`page_reader` finds out (the signed-in user, for the
layout's navigation, and their language) before the handler renders the page.

Browsers say they want HTML (``Accept: text/html, ...``); scripts and API clients send
``*/*`` or ``application/json``, and keep their JSON answers wherever they call.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from litestar.types import AfterExceptionHookHandler, Scope

from maillon.engine.errors import NotFound
from maillon.engine.i18n import gettext as _
from maillon.web.auth import Authenticate
from maillon.web.ui.render import render

__all__ = ["error_page", "page_reader", "wants_page"]

log = logging.getLogger(__name__)

#: First segments of the addresses that answer machines, in JSON, whoever asks.
_MACHINE_PATHS = frozenset({"api", "hooks", "healthz", "readyz", "metrics"})


def _asks_for_html(accept: str) -> bool:
    """Whether an ``Accept`` header names ``text/html`` (not merely ``*/*``) and does not
    refuse it (``q=0``)."""
    for media_range in accept.split(","):
        media, *params = (part.strip() for part in media_range.split(";"))
        if media.lower() != "text/html":
            continue
        for param in params:
            name, _sep, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def wants_page(scope: Scope) -> bool:
    """Whether this request is a browser's, for a page: it asks for HTML, at an address
    outside the API, the hooks and the probes."""
    # The path as sent: a mount (the hooks') sees only what follows its own prefix.
    raw = scope.get("raw_path") or scope["path"].encode()
    first = raw.lstrip(b"/").partition(b"/")[0].decode("latin-1")
    if first in _MACHINE_PATHS:
        return False
    return _asks_for_html(Headers.from_scope(scope).get("accept", ""))


def page_reader(authenticate: Authenticate) -> AfterExceptionHookHandler[Exception]:
    """The app's ``after_exception`` hook: who reads the error page of a request that no
    route's check has seen (see :meth:`Authenticate.identify`). It runs before the exception's
    handler renders the page, and does nothing for JSON answers or when the route said it."""

    async def identify(_exc: Exception, scope: Scope) -> None:
        if scope["type"] != ScopeType.HTTP or "user" in scope or not wants_page(scope):
            return
        try:
            await authenticate.identify(scope)
        except Exception:  # the database may be the very cause: a page without the user
            log.warning("the reader of an error page is unknown", exc_info=True)
            scope["user"] = None

    return identify


def _detail(request: Request[Any, Any, Any], exc: Exception, status: int) -> str:
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        # Never the exception's text, which may hold anything: the request id, to quote.
        return _(
            "something went wrong in Maillon: the server's log has its cause under request id "
            "%(id)s.",
            id=request.scope.get("request_id", ""),
        )
    if status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return _("what was sent is larger than Maillon accepts: send less, or a smaller file.")
    if not isinstance(exc, HTTPException):
        return str(exc)  # the engine's words, in the reader's language
    if exc.detail == HTTPStatus(status).phrase or exc.detail.startswith("Validation failed"):
        # Litestar's own words (an address, a parameter or a form it could not read): say it
        # in the reader's, about what the reader did.
        if request.method in ("GET", "HEAD"):
            return _("this address is not one Maillon understands: check it, or start again.")
        return _("this form could not be read: reload its page and send it again.")
    return exc.detail


def error_page(
    request: Request[Any, Any, Any], exc: Exception, status: int | None = None
) -> Response[Any]:
    """The page of an error, in the reader's language: ``status`` when a JSON handler chose
    it (else Litestar's exception's, or 404 for what is not found and 403 for the rest)."""
    request.scope.setdefault("user", None)
    if isinstance(exc, PermissionDeniedException):  # Litestar raises it for CSRF only here
        status = HTTP_403_FORBIDDEN
        detail = _("this form has expired or did not come from this site: reload it and try again.")
    else:
        if status is None:
            if isinstance(exc, HTTPException):
                status = exc.status_code
            else:
                status = HTTP_404_NOT_FOUND if isinstance(exc, NotFound) else HTTP_403_FORBIDDEN
        detail = _detail(request, exc, status)
    return render(
        request, "error.html", status=status, code=status, detail=detail[:1].upper() + detail[1:]
    )
