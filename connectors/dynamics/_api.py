"""Dynamics 365's Web API (OData v4) through httpx, with tokens from MSAL.

MSAL's ``ConfidentialClientApplication`` gets the app's token (client credentials) and keeps
it in its cache until it nears expiry; one application is kept per connection. A token the
Web API refuses (401) is replaced once, by a new application with an empty cache: client
credentials need no refresh token, so the connector renews them itself.

The Web API answers a refusal as ``{"error": {"code": "0x80040237", "message": ...}}``, and its
service protection limits as 429 with ``Retry-After``. A new record's ID comes back in the
``OData-EntityId`` header.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
import httpx

from maillon.connectors.crm import Answer, Problem, RestApi
from maillon.connectors.dynamics.connection import DynamicsConnection
from maillon.connectors.sdk import PermanentError, TransientError

if TYPE_CHECKING:
    import msal

__all__ = ["dynamics", "entity_id"]

#: Where the Web API says an app is not an application user of the environment.
_NOT_A_USER = (
    ": check that the app registration is an application user of the environment, with a "
    "security role"
)

_apps: dict[tuple[DynamicsConnection, float], msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()


def entity_id(response: httpx.Response, what: str) -> str:
    """The record ID of ``OData-EntityId: https://.../contacts(<id>)``."""
    header = str(response.headers.get("OData-EntityId") or "")
    if "(" not in header:
        raise PermanentError(f"Dynamics 365 answered {what} without the record's ID")
    return header.rsplit("(", 1)[1].rstrip(")")


def _explain(answer: Answer) -> Problem:
    hint = _NOT_A_USER if answer.status in (401, 403) else ""
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    if isinstance(error, dict):
        code = str(error["code"]) if error.get("code") else None
        return Problem(str(error.get("message") or code) + hint, code)
    return Problem(answer.snippet() + hint)


def _app(
    conn: DynamicsConnection, timeout: float, *, renew: bool
) -> msal.ConfidentialClientApplication:
    import msal

    key = (conn, timeout)
    with _apps_lock:
        app = None if renew else _apps.get(key)
        if app is None:
            app = _apps[key] = msal.ConfidentialClientApplication(
                conn.client_id,
                client_credential=conn.client_secret.get_secret_value(),
                authority=f"{conn.authority_host}/{conn.tenant}",
                # The authority is the one given: no lookup of Microsoft's list of hosts,
                # which a national cloud, a proxy or a test server is not on.
                instance_discovery=False,
                timeout=timeout,
            )
    return app


def _acquire(conn: DynamicsConnection, timeout: float, renew: bool) -> str:
    """A token for the environment (blocking: MSAL uses requests)."""
    import requests

    try:
        result = _app(conn, timeout, renew=renew).acquire_token_for_client(scopes=[conn.scope])
    except requests.RequestException as exc:
        raise TransientError(
            f"Microsoft's sign-in service is unreachable at {conn.authority_host}: {exc}",
            details={"error": type(exc).__name__},
        ) from exc
    except ValueError as exc:
        # MSAL's word for a tenant its sign-in service does not know.
        raise PermanentError(f"Microsoft refused the tenant {conn.tenant!r}: {exc}") from exc
    if "access_token" not in result:
        error = result.get("error", "error")
        description = str(result.get("error_description", "")).split("\r\n")[0]
        raise PermanentError(
            f"Microsoft refused to sign the app in ({error}: {description})",
            details={"error": error, "codes": result.get("error_codes")},
        )
    return str(result["access_token"])


@asynccontextmanager
async def dynamics(
    conn: DynamicsConnection,
    timeout: float,  # noqa: ASYNC109 (the HTTP timeout, not a cancel scope)
) -> AsyncIterator[RestApi]:
    """The environment's Web API for the length of a step, with the app's token."""

    async def token(renew: bool = True) -> str:
        return await anyio.to_thread.run_sync(_acquire, conn, timeout, renew)

    async with RestApi(
        "Dynamics 365",
        conn.base_url,
        headers={"OData-MaxVersion": "4.0", "OData-Version": "4.0"},
        timeout=timeout,
        explain=_explain,
        token=await token(renew=False),
        renew=token,
    ) as http:
        yield http
