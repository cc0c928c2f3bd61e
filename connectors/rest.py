"""What the REST connectors (Dropbox, Mailchimp, Trello) share: one request over httpx, and
the classification of a failure that every JSON API answers alike.

Each app words its refusals its own way, so a connector reads the app's message out of the
body itself and hands it to :func:`refusal`, which decides transient or permanent by status:

- no answer (refused, reset, timed out) → :class:`TransientError`;
- 408, 425, 429, 5xx → :class:`TransientError`, waiting what ``Retry-After`` asks;
- 401 → :class:`PermanentError` that ends with what to do about the credentials;
- 403, 404, other 4xx → :class:`PermanentError` with the app's own message.

httpx is imported on first use: loading a connector to list it must not load its client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maillon.connectors.sdk import ConnectorError, PermanentError, TransientError, parse_retry_after

if TYPE_CHECKING:
    import httpx

__all__ = ["USER_AGENT", "refusal", "send"]

USER_AGENT = "Maillon/0.1"
#: Statuses that say "try again later" rather than "this request is wrong".
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


async def send(
    client: httpx.AsyncClient, method: str, url: str, *, app: str, **kwargs: Any
) -> httpx.Response:
    """Send one request with ``client``; a request that got no answer raises a connector error.

    ``kwargs`` go to :meth:`httpx.AsyncClient.request`. The answer is returned whatever its
    status: the caller reads the app's refusals (see :func:`refusal`).
    """
    import httpx

    try:
        return await client.request(method, url, **kwargs)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(f"{app}'s API URL is not usable: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise TransientError(
            f"{app} did not answer in time ({method} {_path(url)})",
            details={"error": type(exc).__name__},
        ) from exc
    except httpx.TransportError as exc:
        raise TransientError(
            f"could not reach {app}: {type(exc).__name__}: {exc}",
            details={"error": type(exc).__name__},
        ) from exc


def refusal(
    response: httpx.Response,
    *,
    app: str,
    message: str,
    auth_hint: str,
    details: dict[str, object] | None = None,
    retry_after: float | None = None,
) -> ConnectorError:
    """The error for a refused call: ``message`` is the app's own words, ``auth_hint`` what to do
    when it refuses the credentials (``"reconnect this Dropbox account"``), ``retry_after`` the
    wait an app gives in its body, used when no ``Retry-After`` header says it."""
    status = response.status_code
    facts: dict[str, object] = {"status": status, **(details or {})}
    if status in _TRANSIENT_STATUSES or status >= 500:
        header = parse_retry_after(response.headers.get("Retry-After"))
        retry_after = header if header is not None else retry_after
        facts["retry_after"] = retry_after
        busy = "is rate-limiting" if status == 429 else "is busy or failing"
        return TransientError(
            f"{app} {busy} (HTTP {status}): {message}", retry_after=retry_after, details=facts
        )
    if status == 401:
        return PermanentError(
            f"{app} refused the credentials ({message}): {auth_hint}", details=facts
        )
    if status == 403:
        return PermanentError(f"{app} denied access: {message}", details=facts)
    if status == 404:
        return PermanentError(f"{app} found no such thing: {message}", details=facts)
    return PermanentError(f"{app} refused the request: {message}", details=facts)


def _path(url: str) -> str:
    # The query may hold credentials: messages show the path only.
    return url.split("?", 1)[0]
