"""Authentication: who is calling, checked on every route that is not marked public.

Routes are of three kinds, by their handler's ``opt``:

- :data:`PUBLIC`: the hook endpoints (their URL carries an unguessable secret), the OAuth
  callback (its single-use ``state``), the health check and the static files. The middleware
  is skipped for them before it runs, so the hot intake path pays nothing for it.
- :data:`ANONYMOUS`: the pages that let a person in (set-up, sign-in, choosing a password).
  Nobody needs to be signed in, but their forms are checked against CSRF like every other.
- Every other route needs a user. The REST API takes either a bearer token or the browser's
  session cookie; UI routes (:data:`UI`) take the session only and send a stranger to the
  sign-in page (the set-up page on an empty install) rather than answering 401.

Marking the public and anonymous handlers, rather than listing protected ones, makes
forgetting safe: a new route is protected by default.

CSRF: a browser attaches cookies to any request, including one forged by another site, but
never an ``Authorization`` header by itself. So requests authenticated by a bearer token skip
the CSRF check, and every other unsafe request (signed in by cookie, or to an anonymous form)
must carry the token of the ``csrftoken`` cookie in the ``x-csrftoken`` header or the
``_csrf_token`` form field (Litestar's CSRF middleware, composed here so that it runs after we
know how the caller authenticated). A bearer token that is present but invalid is a 401, never
a fallback to the cookie. A client address that sent too many wrong tokens is answered 429
for a while, whatever token it sends (:class:`~maillon.engine.services.tokens.Tokens`).

The same middleware sets the language the request is answered in, once the user is known: the
account's language, else the best the browser's ``Accept-Language`` offers, else
``MAILLON_DEFAULT_LOCALE``; and the time zone of the times shown, the account's, else
``MAILLON_DEFAULT_TIME_ZONE`` (see :mod:`maillon.engine.i18n`). It is set before the CSRF check, so
that its refusal is worded in that language too. The API's JSON answers stay in English. An
error that no route's check saw (an address no route knows) is shown to a browser as a page
all the same: :meth:`Authenticate.identify` says who reads it (:mod:`maillon.web.ui.errors`).

The check is one app-wide middleware that public handlers opt out of, not a guard: Litestar
calls every guard with a fresh copy of the route handler, which cost the hook endpoint about a
tenth of its time per request even though the guard returned at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, Headers
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, CSRFMiddleware, generate_csrf_hash
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from maillon.engine.i18n import negotiate, set_locale, supported
from maillon.engine.models import ApiToken
from maillon.engine.services.accounts import Accounts, SignedIn, User
from maillon.engine.services.base import Actor
from maillon.engine.services.tokens import Tokens
from maillon.engine.settings import Settings

__all__ = [
    "ANONYMOUS",
    "PUBLIC",
    "SESSION_COOKIE",
    "UI",
    "Authenticate",
    "actor",
    "client_address",
    "csrf_config",
    "request_locale",
    "session_cookie",
]

_PUBLIC_KEY = "public"
#: ``opt`` of a route handler that needs no authentication and no CSRF token.
PUBLIC = {_PUBLIC_KEY: True}
#: ``opt`` of a page anyone may use (set-up, sign-in): no user needed, CSRF checked.
ANONYMOUS = {"anonymous": True}
#: ``opt`` of the UI's routes: signed-in browsers only; strangers are sent to sign in.
UI = {"ui": True}

SESSION_COOKIE = "maillon_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_config(settings: Settings) -> CSRFConfig:
    """CSRF protection for the UI's forms and cookie-authenticated API calls.

    The signing secret is derived from the install's secret key, so that every process of the
    install accepts the tokens of the others. Public routes are excluded by their ``opt``.
    """
    secret = hmac.new(settings.encryption_key.encode(), b"maillon csrf", hashlib.sha256).hexdigest()
    return CSRFConfig(
        secret=secret,
        cookie_secure=settings.cookies_secure,
        exclude_from_csrf_key=_PUBLIC_KEY,
    )


def session_cookie(settings: Settings, signed_in: SignedIn | None) -> Cookie:
    """The cookie that carries a session to the browser (``None``: the one that deletes it)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=signed_in.token if signed_in else "",
        max_age=max(0, int(signed_in.expires_at - time.time())) if signed_in else 0,
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
        path="/",
    )


def _signed(token: str, csrf: CSRFConfig) -> bool:
    """Whether the current secret signed this CSRF cookie."""
    random_part, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return hmac.compare_digest(signature, generate_csrf_hash(random_part, csrf.secret))


def _forget_stale_csrf_cookie(cookies: dict[str, str], csrf: CSRFConfig) -> None:
    """Drop a CSRF cookie the current secret did not sign, so that this answer hands out a new
    one: Litestar keeps whatever cookie a browser has, and one signed before the secret key
    changed (a rotation, then a restart) would otherwise fail every form until it expires.

    ``cookies`` is the request's parsed cookies, which Litestar's CSRF check reads after this.
    """
    token = cookies.get(csrf.cookie_name)
    if token is not None and not _signed(token, csrf):
        del cookies[csrf.cookie_name]


def actor(request: Request[Any, Any, Any]) -> Actor:
    """Who acts, for the history (a flow's versions, a run's replays): the API token a request
    came with, else the signed-in user's e-mail address (a browser, on a page or the API)."""
    if request.auth is not None:
        return request.auth  # type: ignore[no-any-return]
    return request.user.email if request.user else None


def client_address(scope: Scope) -> str:
    """The caller's address (its proxy's, unless the server trusts the proxy's headers)."""
    client = scope.get("client")
    return client[0] if client else ""


def request_locale(user: User | None, accept_language: str | None, default: str) -> str:
    """The account's language if it chose one, else the best the browser accepts, else
    ``default``."""
    chosen = supported(user.locale) if user is not None else None
    return chosen or negotiate(accept_language) or default


async def _send_redirect(send: Send, location: str, htmx: bool) -> None:
    # htmx follows a 303 inside its XMLHttpRequest and would swap the sign-in page into
    # whatever the request targeted: ask it to navigate the whole page instead.
    status, header = (401, b"hx-redirect") if htmx else (303, b"location")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(header, location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class Authenticate(ASGIMiddleware):
    """Sets ``request.user`` (a signed-in user, or ``None``), ``request.auth`` (the API token)
    and, for pages, the language and time zone of the answer.

    See the module's docstring for the rules.
    """

    exclude_opt_key = _PUBLIC_KEY

    def __init__(
        self, accounts: Accounts, tokens: Tokens, csrf: CSRFConfig, settings: Settings
    ) -> None:
        self.accounts = accounts
        self.tokens = tokens
        self.csrf = csrf
        self.settings = settings

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        opt: dict[str, Any] = scope["route_handler"].opt
        headers = Headers.from_scope(scope)
        authorization = headers.get("authorization")
        if authorization is not None and not opt.get("ui"):
            scope["auth"] = await self._token(authorization, client_address(scope))
            scope["user"] = None
            await next_app(scope, receive, send)
            return
        request = scope["litestar_app"].request_class(scope, receive)
        session = request.cookies.get(SESSION_COOKIE)
        user = await self.accounts.session_user(session) if session else None
        if opt.get("ui") or opt.get("anonymous"):  # pages; the API answers in English
            self._set_reader_locale(user, headers)
        if user is None and not opt.get("anonymous"):
            if not opt.get("ui"):
                raise NotAuthorizedException(
                    "sign in, or send an API token: Authorization: Bearer <token>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            await _send_redirect(send, await self._entry(scope), "hx-request" in headers)
            return
        scope["user"] = user
        scope["auth"] = None
        if scope.get("method", "GET") in _SAFE_METHODS:  # a websocket has no method
            _forget_stale_csrf_cookie(request.cookies, self.csrf)
        await CSRFMiddleware(next_app, self.csrf)(scope, receive, send)

    async def identify(self, scope: Scope) -> None:
        """Who reads a page that no route's check prepared (the error page of an address no
        route knows): the signed-in user or ``None``, their language and time zone, and the
        CSRF token of the layout's sign-out form (the browser's cookie, if this install signed
        it). Nobody is refused here: the page says no more to a stranger than to anyone."""
        request = scope["litestar_app"].request_class(scope)
        session = request.cookies.get(SESSION_COOKIE)
        user = await self.accounts.session_user(session) if session else None
        self._set_reader_locale(user, request.headers)
        scope["user"] = user
        scope["auth"] = None
        token = request.cookies.get(self.csrf.cookie_name)
        if user is not None and token is not None and _signed(token, self.csrf):
            ScopeState.from_scope(scope).csrf_token = token

    def _set_reader_locale(self, user: User | None, headers: Headers) -> None:
        """The language and time zone of the page answered to ``user``'s browser."""
        set_locale(
            request_locale(user, headers.get("accept-language"), self.settings.default_locale),
            (user.time_zone if user else None) or self.settings.default_time_zone,
        )

    async def _token(self, authorization: str, client: str) -> ApiToken:
        scheme, _, token = authorization.partition(" ")
        # The scheme is no secret: a plain comparison (compare_digest raises on non-ASCII text).
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                "an API token is required: Authorization: Bearer <token> (maillon tokens create)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        row = await self.tokens.check(token.strip(), client)
        if row is None:
            raise NotAuthorizedException(
                "invalid API token", headers={"WWW-Authenticate": "Bearer"}
            )
        return row

    async def _entry(self, scope: Scope) -> str:
        """Where a stranger goes: the set-up of an empty install, else sign-in and back here."""
        if await self.accounts.needs_setup():
            return "/setup"
        if scope.get("method", "GET") not in _SAFE_METHODS:  # a websocket has no method
            return "/sign-in"
        back = scope["path"]
        if scope["query_string"]:
            back += "?" + scope["query_string"].decode("latin-1")
        return "/sign-in?next=" + quote(back, safe="")
