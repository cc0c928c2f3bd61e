"""Shared plumbing of the Google connectors: credentials, cached API clients, error mapping.

One :class:`GoogleSession` exists per (connection, API) and is reused across steps: building an
API client from its discovery document and minting an access token are the costly parts, and the
credentials object keeps the refreshed access token in memory for the next step.

google-api-python-client, httplib2 and google-auth are imported inside functions, so that
importing a Google connector module (which the registry does to list actions) stays cheap.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from maillon.connectors.google.connection import DEFAULT_TOKEN_URI, AuthMode, GoogleConnection
from maillon.connectors.sdk import (
    ActionContext,
    ConnectorError,
    PermanentError,
    TransientError,
    parse_retry_after,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.auth.exceptions import RefreshError

__all__ = [
    "CALENDAR",
    "DRIVE",
    "GMAIL",
    "SHEETS",
    "GoogleApi",
    "GoogleSession",
    "map_http_error",
    "new_credentials",
    "refresh_error",
    "session",
]


@dataclass(frozen=True)
class GoogleApi:
    """A Google API as google-api-python-client names it, and the scopes our actions need."""

    name: str
    version: str
    scopes: tuple[str, ...]


GMAIL = GoogleApi("gmail", "v1", ("https://www.googleapis.com/auth/gmail.send",))
SHEETS = GoogleApi("sheets", "v4", ("https://www.googleapis.com/auth/spreadsheets",))
CALENDAR = GoogleApi("calendar", "v3", ("https://www.googleapis.com/auth/calendar.events",))
# The full Drive scope: copying a template, or finding a folder by name, touches files that
# Maillon did not create, which the narrower drive.file scope does not reach.
DRIVE = GoogleApi("drive", "v3", ("https://www.googleapis.com/auth/drive",))

# 403 reasons that mean "slow down", not "you may not": Google answers some rate limits with 403.
_RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
)


class GoogleSession:
    """The credentials and the API client of one connection for one API.

    :meth:`resource` builds requests (``session.resource("users", "messages").send(...)``);
    :meth:`execute` sends one, refreshing the access token when needed, and turns every failure
    into a :class:`~maillon.connectors.sdk.TransientError` or
    :class:`~maillon.connectors.sdk.PermanentError`.
    """

    def __init__(self, conn: GoogleConnection, api: GoogleApi) -> None:
        from googleapiclient.discovery import build_from_document
        from googleapiclient.discovery_cache import get_static_doc

        self.conn = conn
        self.api = api
        self.credentials = _credentials(conn, () if conn.mode is AuthMode.OAUTH else api.scopes)
        document = get_static_doc(api.name, api.version)
        if document is None:  # pragma: no cover - the three APIs ship with the library
            raise PermanentError(f"no discovery document for {api.name} {api.version}")
        client_options: dict[str, str] = {}
        description: str | dict[str, Any] = document
        if conn.api_endpoint:
            # A custom endpoint replaces rootUrl *and* servicePath (Calendar's is "calendar/v3/"),
            # so put the service path back to keep one endpoint setting valid for every API.
            # Media uploads (Drive) are addressed from the document's rootUrl, which the
            # endpoint option does not change: the document's root moves to the endpoint too.
            root = conn.api_endpoint.rstrip("/") + "/"
            parsed: dict[str, Any] = json.loads(document)
            parsed["rootUrl"] = root
            client_options["api_endpoint"] = root + parsed.get("servicePath", "")
            description = parsed
        self.service: Any = build_from_document(
            description, credentials=self.credentials, client_options=client_options or None
        )
        self._resources: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        # httplib2.Http is not thread-safe and the engine runs steps in worker threads: each
        # thread gets its own authorized HTTP object, kept for connection reuse.
        self._local = threading.local()

    def resource(self, *path: str) -> Any:
        """The API resource at ``path``, e.g. ``("spreadsheets", "values")``, built once.

        Building a resource renders the documentation of all its methods, which is slow enough to
        show in every step; the built objects only create requests, so threads can share them.
        """
        with self._lock:
            found = self._resources.get(path)
            if found is None:
                found = self.service
                for name in path:
                    found = getattr(found, name)()
                self._resources[path] = found
            return found

    def _http(self, timeout: float) -> Any:
        import google_auth_httplib2
        import httplib2

        cached = getattr(self._local, "http", None)
        if cached is not None and cached[0] == timeout:
            return cached[1]
        if cached is not None:
            cached[1].http.close()
        authorized = google_auth_httplib2.AuthorizedHttp(
            self.credentials, http=httplib2.Http(timeout=timeout)
        )
        self._local.http = (timeout, authorized)
        return authorized

    def execute(self, ctx: ActionContext, request: Any) -> Any:
        """Send ``request`` (an ``HttpRequest``) once; the engine owns retries."""
        import httplib2
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        try:
            return request.execute(http=self._http(ctx.timeout), num_retries=0)
        except HttpError as exc:
            raise map_http_error(exc, self.conn) from exc
        except RefreshError as exc:
            raise refresh_error(exc, self.conn) from exc
        except ssl.SSLCertVerificationError as exc:
            # Checked before OSError: an untrusted endpoint stays untrusted on retry.
            raise PermanentError(
                f"the Google API endpoint's certificate is not trusted: {exc}"
            ) from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
            # OSError covers refused connections, resets and socket timeouts.
            self._drop_http()
            raise TransientError(f"could not reach Google: {exc}") from exc

    def _drop_http(self) -> None:
        cached = getattr(self._local, "http", None)
        if cached is not None:
            cached[1].http.close()
            self._local.http = None


@lru_cache(maxsize=128)
def session(conn: GoogleConnection, api: GoogleApi) -> GoogleSession:
    """The cached :class:`GoogleSession` of ``conn`` for ``api``.

    Keyed on the whole (frozen, hashable) connection: editing a connection's secrets yields a new
    key and so fresh credentials, while the old entry ages out of the cache.
    """
    return GoogleSession(conn, api)


@lru_cache(maxsize=128)
def _credentials(conn: GoogleConnection, scopes: tuple[str, ...]) -> Credentials:
    # OAuth user credentials carry the scopes granted at consent, so all APIs share one object
    # (scopes=()) and one access token; a service account asks for the scopes of each API, which
    # is what domain-wide delegation authorizes scope by scope.
    return new_credentials(conn, scopes)


def new_credentials(conn: GoogleConnection, scopes: tuple[str, ...]) -> Credentials:
    """Fresh google-auth credentials of ``conn`` (not cached: a connection test refreshes them
    without touching the ones steps use)."""
    token_uri = conn.token_uri or DEFAULT_TOKEN_URI
    if conn.mode is AuthMode.OAUTH:
        from google.oauth2.credentials import Credentials as UserCredentials

        assert conn.client_secret is not None
        assert conn.refresh_token is not None
        # google-auth's constructors carry no annotations.
        return UserCredentials(  # type: ignore[no-untyped-call]
            token=conn.access_token.get_secret_value() if conn.access_token else None,
            refresh_token=conn.refresh_token.get_secret_value(),
            client_id=conn.client_id,
            client_secret=conn.client_secret.get_secret_value(),
            token_uri=token_uri,
        )

    from google.oauth2 import service_account

    info = conn.service_account_info()
    info["token_uri"] = conn.token_uri or info.get("token_uri") or DEFAULT_TOKEN_URI
    try:
        creds: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(scopes), subject=conn.subject
        )
    except ValueError as exc:
        # The library's message names the bad field, never the key's content.
        raise PermanentError(f"the service account key cannot be used: {exc}") from exc
    return creds


def refresh_error(exc: RefreshError, conn: GoogleConnection) -> ConnectorError:
    """Classify a failed token request."""
    detail = str(exc.args[0]) if exc.args else str(exc)
    if exc.retryable:
        # google-auth already retried a few times (5xx, temporarily_unavailable).
        return TransientError(f"Google's token endpoint failed: {detail}")
    if conn.mode is AuthMode.OAUTH:
        return PermanentError(
            f"Google refused to refresh the access token ({detail}): reconnect this Google account",
            details={"error": detail},
        )
    return PermanentError(
        f"Google refused the service account's token request ({detail}): check the key, the "
        "user it acts as, and that domain-wide delegation grants these scopes",
        details={"error": detail},
    )


def _error_facts(content: bytes) -> tuple[str | None, list[str], str | None]:
    """Google's message, reasons and status string from an error body, as far as present."""
    try:
        data = json.loads(content)
    except ValueError:
        return None, [], None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # OAuth-style {"error": "invalid_grant", "error_description": ..}
        description = data.get("error_description")
        return (str(description) if description else None), [error], None
    if not isinstance(error, dict):
        return None, [], None
    reasons: list[str] = []
    # Older APIs list reasons in "errors"; newer ones in google.rpc.ErrorInfo "details".
    for key in ("errors", "details"):
        for item in error.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                reasons.append(item["reason"])
    message = error.get("message")
    status = error.get("status")
    return (
        str(message) if message else None,
        list(dict.fromkeys(reasons)),
        str(status) if status else None,
    )


def map_http_error(exc: Any, conn: GoogleConnection | None = None) -> ConnectorError:
    """Turn a ``googleapiclient.errors.HttpError`` into a transient or permanent error."""
    status = int(exc.status_code)
    message, reasons, google_status = _error_facts(exc.content)
    message = message or exc.reason or "no message"
    details: dict[str, object] = {"status": status, "reasons": reasons}
    if google_status:
        details["google_status"] = google_status
    said = f"{message} (HTTP {status}{', ' + ', '.join(reasons) if reasons else ''})"

    rate_limited = status == 403 and not _RATE_LIMIT_REASONS.isdisjoint(reasons)
    if status in (408, 429) or status >= 500 or rate_limited:
        return TransientError(
            f"Google is busy or rate-limiting: {said}",
            retry_after=parse_retry_after(exc.resp.get("retry-after")),
            details=details,
        )
    if status == 401:
        # The client already refreshed the token and replayed once: the grant itself is bad.
        if conn is not None and conn.mode is AuthMode.SERVICE_ACCOUNT:
            hint = "check the service account and its domain-wide delegation"
        else:
            hint = "reconnect this Google account"
        return PermanentError(f"Google rejected the credentials: {said}; {hint}", details=details)
    if status == 403:
        return PermanentError(f"Google denied access: {said}", details=details)
    if status == 404:
        return PermanentError(f"Google found no such resource: {said}", details=details)
    return PermanentError(f"Google rejected the request: {said}", details=details)
