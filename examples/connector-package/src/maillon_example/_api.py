"""One request to the help desk's API, with every failure classified for Maillon's retries.

Maillon owns retries: this module never retries itself. It says whether trying again later can
help (:class:`TransientError`: the network, a timeout, 429, 5xx, with ``Retry-After``) or not
(:class:`PermanentError`: a refused token, a missing ticket, input the API rejects), and words
the message for the person reading the run history.

httpx is imported inside the functions, not at the top: Maillon imports every installed connector
to list the apps, and a process that never opens a ticket need not load an HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maillon.connectors.sdk import PermanentError, TransientError, parse_retry_after

if TYPE_CHECKING:
    import httpx

    from maillon_example.connection import HelpdeskConnection

__all__ = ["call", "client"]

#: What the user should do about a refusal, by status.
_HINTS = {
    401: "the API token is not valid: create a new one and update the connection",
    403: "the API token may not do this: give it the tickets permission",
    404: "not found: check the connection's API URL",
}


def client(conn: HelpdeskConnection, *, timeout: float) -> httpx.AsyncClient:
    """An HTTP client for the connection's API, to use in ``async with``.

    One client per step keeps the example simple; a busy connector pools one per connection and
    event loop, and closes them in ``Connector(close=...)``.
    """
    import httpx

    return httpx.AsyncClient(
        base_url=conn.base_url,
        timeout=timeout,
        headers={"Authorization": f"Bearer {conn.api_token.get_secret_value()}"},
    )


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send one request; return the JSON answer of a 2xx, raise a classified error otherwise."""
    import httpx

    url = http.base_url.join(path)
    try:
        response = await http.request(method, url, json=json, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientError(f"{method} {url} timed out") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise _refusal(method, url, response)
    try:
        return response.json() if response.content else None
    except ValueError as exc:
        # The help desk did the work but its answer is unreadable: a retry could do it twice.
        raise PermanentError(
            f"{method} {url} answered {response.status_code} with a body that is not JSON"
        ) from exc


def _refusal(
    method: str, url: httpx.URL, response: httpx.Response
) -> TransientError | PermanentError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    # The help desk explains a refusal in {"message": ...}; a proxy in front of it, in text.
    reason = str(body.get("message", "")) if isinstance(body, dict) else response.text[:200]
    message = f"{method} {url} answered {status}: {_HINTS.get(status, reason or 'no reason')}"
    details: dict[str, object] = {"status": status, "reason": reason}
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return TransientError(message, retry_after=retry_after, details=details)
    return PermanentError(message, details=details)
