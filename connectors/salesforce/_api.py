"""Salesforce's REST API through httpx: sessions, SOQL quoting, error bodies and limits.

An OAuth connection's access token is the engine's to refresh (Salesforce gives sessions no
stated lifetime, so a refusal is how an ended one shows: the engine refreshes and retries on
:class:`~maillon.connectors.sdk.AccessTokenRejected`). A JWT bearer connection has no refresh
token: this module signs an assertion for a new session, keeps the session in memory for the
connection, and asks for a new one once when Salesforce refuses it.

Salesforce answers a refusal as a list of ``{"message", "errorCode", "fields"}``; a 403
``REQUEST_LIMIT_EXCEEDED`` is the org's API limit, which lifts with time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from maillon.connectors.crm import Answer, Problem, RestApi
from maillon.connectors.salesforce.connection import SalesforceConnection
from maillon.connectors.sdk import PermanentError, TransientError

__all__ = ["data_path", "salesforce", "soql_name", "soql_value"]

_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: An assertion is valid this long; Salesforce allows up to three minutes.
_ASSERTION_SECONDS = 180
#: Codes that mean "later": the org's API request limit, and a record locked by another save.
_LATER = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
#: API names of sObjects and fields (``Account``, ``Particeep_User_Id__c``, ``Account.Name``).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")

#: JWT sessions by connection: (access token, instance URL).
_sessions: dict[SalesforceConnection, tuple[str, str]] = {}
_sessions_lock = threading.Lock()


def soql_name(name: str) -> str:
    """An sObject or field API name, refused unless it is one (it goes into SOQL as is)."""
    if not _NAME.fullmatch(name):
        raise PermanentError(f"{name!r} is not a Salesforce API name")
    return name


def soql_value(value: str) -> str:
    """A string literal for SOQL, quoted as Salesforce documents (backslash escapes)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _explain(answer: Answer) -> Problem:
    body = answer.body
    entries = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    messages, code = [], None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        message = str(entry.get("message") or entry.get("error_description") or "")
        fields = entry.get("fields")
        if fields:
            message += f" (fields: {', '.join(map(str, fields))})"
        messages.append(message)
        code = code or entry.get("errorCode") or entry.get("error")
    if not messages:
        return Problem(answer.snippet())
    return Problem("; ".join(messages), code, transient=True if code in _LATER else None)


@asynccontextmanager
async def salesforce(
    conn: SalesforceConnection,
    timeout: float,  # noqa: ASYNC109 (the HTTP timeout, not a cancel scope)
) -> AsyncIterator[RestApi]:
    """The org's REST API for the length of a step, with the session's token."""

    async def renew() -> str:
        return (await _jwt_session(conn, timeout, renew=True))[0]

    if conn.jwt:
        token, instance = await _jwt_session(conn, timeout, renew=False)
    else:
        assert conn.instance_url is not None  # the model requires it
        token = conn.access_token.get_secret_value() if conn.access_token else ""
        instance = conn.instance_url
    async with RestApi(
        "Salesforce",
        conn.instance_url or instance,
        headers={},
        timeout=timeout,
        explain=_explain,
        token=token,
        # The engine renews OAuth sessions; JWT ones are this module's.
        renew=renew if conn.jwt else None,
    ) as http:
        yield http


def data_path(conn: SalesforceConnection, path: str) -> str:
    """``path`` under the data API of the connection's version."""
    return f"services/data/v{conn.api_version}/{path}"


async def _jwt_session(
    conn: SalesforceConnection,
    timeout: float,  # noqa: ASYNC109 (the HTTP timeout, not a cancel scope)
    *,
    renew: bool,
) -> tuple[str, str]:
    """A session for the integration user: the one kept, or a new one (``renew``)."""
    with _sessions_lock:
        known = None if renew else _sessions.get(conn)
    if known is not None:
        return known
    form = {"grant_type": _JWT_GRANT, "assertion": _assertion(conn)}
    async with RestApi(
        "Salesforce", conn.login_url, headers={}, timeout=timeout, explain=_explain
    ) as login:
        try:
            response = await login.call(
                "POST", "services/oauth2/token", data=form, what="a session for the user"
            )
        except PermanentError as exc:  # a 401 from the token endpoint among them
            raise PermanentError(
                f"{exc.message}: check that {conn.username} is pre-authorized in the "
                "connected app (Manage → Edit Policies: admin approved users), and that "
                "the app has this certificate",
                details=exc.details,
            ) from exc
    answer = RestApi.json(response) or {}
    if not answer.get("access_token") or not answer.get("instance_url"):
        raise TransientError("Salesforce's token endpoint answered without a session")
    session = (str(answer["access_token"]), str(answer["instance_url"]))
    with _sessions_lock:
        _sessions[conn] = session
    return session


def _assertion(conn: SalesforceConnection) -> str:
    """The JWT that proves the connected app's certificate, for the integration user."""
    import jwt

    assert conn.private_key is not None
    claims = {
        "iss": conn.client_id,
        "sub": conn.username,
        "aud": conn.login_url,
        "exp": int(time.time()) + _ASSERTION_SECONDS,
    }
    try:
        return jwt.encode(claims, conn.private_key.get_secret_value(), algorithm="RS256")
    except (ValueError, TypeError) as exc:
        # cryptography's message names no secret; the key itself is never shown.
        raise PermanentError(f"the private key cannot sign: {exc}") from None
