"""Connecting app accounts with OAuth 2.0, and keeping their access tokens fresh.

1. :meth:`OAuth.start` (an authenticated user) records a one-time ``state`` with what the
   callback will need (sealed: it holds the client secret and the PKCE verifier) and answers the
   URL of the app's consent screen.
2. The user grants access; the app sends the browser to ``/oauth/<app>/callback``, which is
   public: the unguessable, single-use, short-lived ``state`` is what protects it.
3. :meth:`OAuth.finish` trades the code for tokens and saves the connection, encrypted.
   Connecting an existing connection again ("Reconnect") keeps its settings.

A consent started from a page of the UI names that page (``return_to``, a path on this site,
kept in the sealed state): the callback then brings the person back there, whether the consent
worked (:attr:`Connected.return_to`) or not (:class:`ConsentFailed`). Consents started from
the API or the command line name none, and the callback answers with a page of its own.

For connectors whose client library does not refresh tokens itself, :meth:`OAuth.fresh` gives a
step a connection whose access token is valid, refreshing it first (and storing what the app
granted, including a rotated refresh token) when it expires within a minute, or at once when the
app refused it (``force``: some apps give tokens no lifetime, or end sessions early).

URL placeholders are filled from the settings asked before consent, read by their fields' types
(a URL setting without its trailing slash), and from the model's defaults for those not given
(Salesforce's production login host), so a default need not be typed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import SecretStr, TypeAdapter, ValidationError
from sqlalchemy import Engine, delete
from sqlmodel import col

from maillon.connectors.base import Connection, Connector
from maillon.connectors.errors import ConnectorError, PermanentError
from maillon.connectors.oauth import OAuth2
from maillon.engine.connections import moved_destinations
from maillon.engine.crypto import SecretBox
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.models import OAuthStateRow
from maillon.engine.oauth import authorization_url, new_secret, refreshable, request_tokens
from maillon.engine.redirects import is_local_path
from maillon.engine.services.base import Service
from maillon.engine.services.connections import Connections, ConnectionView, check_name
from maillon.engine.settings import Settings

__all__ = [
    "CALLBACK_PATH",
    "Connected",
    "Consent",
    "ConsentFailed",
    "ConsentForm",
    "OAuth",
]

#: The callback route, ``{app}`` filled in; appended to the public URL it is the redirect URI
#: to register with the app.
CALLBACK_PATH = "/oauth/{app}/callback"
#: How long a consent may take, from start to callback.
STATE_TTL = 600.0
#: Refresh an access token this long before it expires, so that it cannot expire mid-step.
_REFRESH_MARGIN = 60.0
#: How often a task waiting for another's refresh of the same connection looks again.
_LOCK_POLL = 0.05


@dataclass(frozen=True)
class Consent:
    """Where to send the user, and the redirect URI the app must list."""

    authorize_url: str
    redirect_uri: str
    expires_in: int


@dataclass(frozen=True)
class Connected:
    """A connection made or renewed by a consent, and which account it is (when known)."""

    connection: ConnectionView
    account: str | None
    #: The page the consent was started from, to go back to (``None``: the API or the CLI).
    return_to: str | None = None


class ConsentFailed(Exception):
    """A consent started from a page failed once the app sent the person back.

    Raised by :meth:`OAuth.finish` instead of the error itself (its ``__cause__``) when the
    consent named a page: ``message`` says why, ``return_to`` is the page.
    """

    def __init__(self, message: str, return_to: str) -> None:
        super().__init__(message)
        self.message = message
        self.return_to = return_to


@dataclass(frozen=True)
class ConsentForm:
    """What a page asks before sending someone to an app's consent screen."""

    #: The app's name in words ("Google").
    provider: str
    #: The redirect URI to register with the app.
    redirect_uri: str
    #: Connection fields to ask: the account's settings, then the OAuth client's fields when
    #: the install has no client for the app.
    fields: tuple[str, ...]
    #: Fields that must be given (the OAuth client's, when the install has none).
    required: tuple[str, ...]
    #: Fields that replace the app's URLs for one account (a gateway, a test server): rarely
    #: needed, so a page may fold them away.
    advanced: tuple[str, ...]
    #: Whether the install has an OAuth client for the app.
    client_configured: bool


class OAuth(Service):
    """The consent flow and token refresh for connectors that declare :class:`OAuth2`."""

    def __init__(
        self, db: Engine, box: SecretBox, connections: Connections, settings: Settings
    ) -> None:
        super().__init__(db)
        self._box = box
        self._connections = connections
        self._settings = settings
        self._refreshing: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def redirect_uri(self, app: str) -> str:
        """The redirect URI to register with ``app`` for this install."""
        return self._settings.base_url + CALLBACK_PATH.format(app=app)

    def _declaration(self, app: str) -> tuple[Connector, OAuth2]:
        connector = self._connections.connector(app)
        if connector.oauth is None:
            raise Invalid([f"{app} accounts do not connect with OAuth"])
        return connector, connector.oauth

    def form(self, app: str) -> ConsentForm:
        """What to ask before sending someone to ``app``'s consent (raises :class:`Invalid`)."""
        _, oauth = self._declaration(app)
        default_id, default_secret = self._settings.oauth_client(app)
        configured = bool(default_id and default_secret)
        client = () if configured else (oauth.client_id_field, oauth.client_secret_field)
        advanced = tuple(f for f in (oauth.authorize_url_field, oauth.token_url_field) if f)
        return ConsentForm(
            provider=oauth.provider,
            redirect_uri=self.redirect_uri(app),
            fields=(*oauth.settings, *client),
            required=client,
            advanced=advanced,
            client_configured=configured,
        )

    async def start(
        self,
        app: str,
        name: str,
        values: dict[str, Any],
        *,
        new: bool = False,
        return_to: str | None = None,
    ) -> Consent:
        """Begin connecting (or reconnecting) the connection ``name`` of ``app``.

        ``values``: settings asked before consent (a tenant, an OAuth client of its own, ...);
        those of an existing connection of that name are kept. ``new``: refuse a name that is
        taken, rather than reconnect that connection. ``return_to``: the page (a path on this
        site) to bring the person back to once the app sends them to the callback.

        Raises :class:`Invalid` when no OAuth client is configured, a setting the app's URLs
        need is missing, or ``return_to`` is not a path on this site; :class:`Conflict` when
        the name is taken (``new``) or by a connection of another app.
        """
        connector, oauth = self._declaration(app)
        name = check_name(name)
        if return_to is not None and not is_local_path(return_to):
            raise Invalid(["return_to: not a path on this site"])
        try:
            current = await self._connections.get(name)
        except NotFound:
            existing: dict[str, Any] = {}
        else:
            if new:
                raise Conflict(f"a connection named {name!r} exists")
            if current.row.app != app:
                raise Conflict(f"connection {name!r} is for {current.row.app}, not {app}")
            existing = await self._connections.values(name)
        chosen = {k: v for k, v in values.items() if v not in (None, "")}
        baseline = {**_defaults(connector.connection), **existing}
        if moved_destinations(connector.connection, baseline, chosen, ()) and not chosen.get(
            oauth.client_secret_field
        ):
            # The client secret (the connection's, or the install's) would be posted to a
            # token URL chosen in this request: whoever chose it must know the secret already.
            raise Invalid(
                [
                    f"a URL of your own needs {oauth.client_secret_field} in the same request: "
                    "the stored or configured client secret is never sent to a URL chosen here"
                ]
            )
        given = _with_settings(connector, oauth, {**existing, **chosen})
        default_id, default_secret = self._settings.oauth_client(app)
        client_id = str(given.get(oauth.client_id_field) or default_id or "")
        client_secret = _secret(given.get(oauth.client_secret_field)) or default_secret or ""
        problems: list[str] = []
        if not client_id or not client_secret:
            problems.append(
                f"no OAuth client for {app}: give {oauth.client_id_field} and "
                f"{oauth.client_secret_field}, or set {self._settings.oauth_client_hint(app)}"
            )
        urls: list[str] = []
        for field, template in (
            (oauth.authorize_url_field, oauth.authorize_url),
            (oauth.token_url_field, oauth.token_url),
        ):
            try:
                urls.append(_override(given, field) or oauth.url(template, given))
            except ValueError as exc:
                if str(exc) not in problems:
                    problems.append(str(exc))
        if problems:
            raise Invalid(problems)
        base, token_url = urls
        state = new_secret()
        verifier = new_secret() if oauth.pkce else None
        redirect = self.redirect_uri(app)
        payload = {
            "name": name,
            "values": given,
            "client_id": client_id,
            "client_secret": client_secret,
            "verifier": verifier,
            "redirect_uri": redirect,
            "token_url": token_url,
            "new": new,
            "return_to": return_to,
        }
        row = OAuthStateRow(
            state=state, provider=app, payload=self._box.seal(payload), created_at=time.time()
        )
        await self.sync(self._put_state, row)
        url = authorization_url(
            oauth,
            base,
            client_id=client_id,
            redirect_uri=redirect,
            state=state,
            verifier=verifier,
        )
        return Consent(authorize_url=url, redirect_uri=redirect, expires_in=int(STATE_TTL))

    def _put_state(self, row: OAuthStateRow) -> None:
        with self.session(write=True) as s:
            s.add(row)
            s.commit()

    def _take_state(self, state: str, app: str) -> dict[str, Any]:
        """The payload of a consent in progress, once: a state cannot be replayed."""
        with self.session(write=True) as s:
            # Expired states of abandoned consents are swept here, when someone comes back.
            s.exec(
                delete(OAuthStateRow).where(col(OAuthStateRow.created_at) < time.time() - STATE_TTL)
            )
            row = s.get(OAuthStateRow, state)
            if row is None or row.provider != app:
                s.commit()
                raise Invalid(["unknown or expired state: start connecting again"])
            s.delete(row)
            s.commit()
        return self._box.open(row.payload)

    async def finish(
        self, app: str, state: str, code: str | None, error: str | None = None
    ) -> Connected:
        """Complete a consent: trade ``code`` for tokens and save the connection.

        ``error`` is what the app said instead of a code (``access_denied``). Raises
        :class:`Invalid` (unknown state, refusal), :class:`Conflict` (the name was taken
        meanwhile), or the connector errors of the token endpoint: :class:`PermanentError`
        when it refuses, ``TransientError`` when unreachable. A consent started from a page
        raises :class:`ConsentFailed` instead, once its state is known.
        """
        _, oauth = self._declaration(app)
        flow = await self.sync(self._take_state, state, app)
        return_to = flow.get("return_to")
        try:
            view = await self._complete(app, oauth, flow, code, error)
        except (Invalid, Conflict, ConnectorError) as exc:
            if return_to is None:
                raise
            message = exc.message if isinstance(exc, ConnectorError) else str(exc)
            raise ConsentFailed(message, return_to) from exc
        account = view.config.get("account_email") or view.config.get("account")
        return Connected(view, account if isinstance(account, str) else None, return_to)

    async def _complete(
        self,
        app: str,
        oauth: OAuth2,
        flow: dict[str, Any],
        code: str | None,
        error: str | None,
    ) -> ConnectionView:
        if error or not code:
            raise Invalid([f"{oauth.provider} said: {error or 'no authorization code'}"])
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow["redirect_uri"],
        }
        if flow["verifier"]:
            form["code_verifier"] = flow["verifier"]
        tokens = await request_tokens(
            oauth,
            flow["token_url"],
            client_id=flow["client_id"],
            client_secret=flow["client_secret"],
            form=form,
            provider=oauth.provider,
        )
        if oauth.needs_refresh_token and not tokens.refresh_token:
            raise PermanentError(
                f"{oauth.provider} granted no refresh token; start connecting again (offline "
                "access must be asked for)"
            )
        values = {
            **flow["values"],
            oauth.client_id_field: flow["client_id"],
            oauth.client_secret_field: flow["client_secret"],
            **oauth.to_connection(tokens),
        }
        if flow.get("new"):
            return await self._connections.create(app, flow["name"], values)
        return await self._connections.put(app, flow["name"], values, replace=True)

    async def fresh(
        self, name: str, connector: Connector, conn: Connection, *, force: bool = False
    ) -> Connection:
        """``conn`` with an access token valid for at least a minute, refreshed if needed.

        ``force``: the app refused ``conn``'s access token, so refresh it whatever its expiry
        says (unless another task already replaced it). Connections without a refresh token,
        and connectors that refresh on their own, are returned as they are. Raises
        :class:`PermanentError` when the app no longer accepts the refresh token (the account
        must be connected again).
        """
        oauth = connector.oauth
        if not refreshable(connector, conn) or not (force or _expiring(conn)):
            return conn
        assert oauth is not None  # refreshable() says so
        lock = self._refreshing[name]
        # A rotated refresh token works once: refresh one connection from one task at a time,
        # and let the others use what it stored. A lock of threads (the tasks may belong to
        # different event loops), tried without a thread: a thread left waiting for it by a
        # task cancelled meanwhile (its step timed out) would take it and never give it back.
        while not lock.acquire(blocking=False):  # noqa: ASYNC110 (no event crosses loops)
            await asyncio.sleep(_LOCK_POLL)
        try:
            values = _with_settings(connector, oauth, await self._connections.values(name))
            current = connector.connection.model_validate(values)
            if force:
                # Another task may have refreshed it while this one waited for the lock.
                if _secret(getattr(current, "access_token", None)) != _secret(
                    getattr(conn, "access_token", None)
                ):
                    return current
            elif not _expiring(current):
                return current
            refresh_token = _secret(values.get("refresh_token"))
            if not refresh_token:
                raise PermanentError(
                    f"the {oauth.provider} access token expired and there is no refresh token: "
                    f"connect {name!r} again"
                )
            try:
                tokens = await request_tokens(
                    oauth,
                    _override(values, oauth.token_url_field) or oauth.url(oauth.token_url, values),
                    client_id=str(values.get(oauth.client_id_field) or ""),
                    client_secret=_secret(values.get(oauth.client_secret_field)),
                    form={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    provider=oauth.provider,
                )
            except PermanentError as exc:
                raise PermanentError(
                    f"{exc.message}: reconnect this account (connection {name!r})",
                    details=exc.details,
                ) from exc
            await self._connections.update(name, oauth.to_connection(tokens))
            return connector.connection.model_validate(await self._connections.values(name))
        finally:
            lock.release()


def _with_settings(connector: Connector, oauth: OAuth2, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the settings asked before consent read as their fields read them (a URL
    setting loses its trailing slash, a choice outside its list is refused), and the model's
    defaults for those not given: they fill the URLs. Raises ``ValidationError`` naming the
    setting."""
    filled = dict(values)
    fields = connector.connection.model_fields
    for name in oauth.settings:
        info = fields.get(name)
        if info is None:
            continue
        if filled.get(name) in (None, ""):
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            if default is not None:
                filled[name] = default
            continue
        # The field's type with its validators (Annotated metadata), without the whole model,
        # whose other fields (the tokens) are not known before consent.
        kind: Any = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        try:
            filled[name] = TypeAdapter(kind).validate_python(filled[name])
        except ValidationError as exc:
            # Only the reasons: pydantic's own text quotes the input.
            raise Invalid([f"{name}: {'; '.join(e['msg'] for e in exc.errors())}"]) from None
    return filled


def _defaults(model: type[Connection]) -> dict[str, Any]:
    """The values ``model``'s fields take when not given."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in model.model_fields.items()
        if not info.is_required()
    }


def _override(values: dict[str, Any], field: str | None) -> str | None:
    value = values.get(field) if field else None
    return str(value) if value else None


def _secret(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value or "")


def _expiring(conn: Connection) -> bool:
    """Whether the (refreshable) connection's access token is missing or expires soon."""
    expires_at = getattr(conn, "expires_at", None)
    if not getattr(conn, "access_token", None):
        return True
    return expires_at is not None and float(expires_at) < time.time() + _REFRESH_MARGIN
