"""Shared plumbing of the Slack actions: cached clients and error classification.

The engine owns retries, so the clients are built with no retry handlers of their own (the
default one silently retries connection errors once, which could post a message twice), and
every failure is turned into a :class:`TransientError` or a :class:`PermanentError`.
"""

from __future__ import annotations

import http.client
import math
from functools import lru_cache
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient, WebhookResponse

from maillon.connectors.sdk import ConnectorError, PermanentError, TransientError, parse_retry_after
from maillon.connectors.slack.connection import SlackConnection

__all__ = [
    "CLIENT_ERRORS",
    "classify_api_error",
    "classify_network_error",
    "classify_webhook_response",
    "web_client",
    "webhook_client",
]

#: What the clients raise besides ``SlackApiError``: urllib's URLError and socket errors
#: (OSError), a garbled or truncated answer (HTTPException), and slack_sdk's own
#: SlackClientError (bad URL or proxy).
CLIENT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    http.client.HTTPException,
    SlackClientError,
)

#: Error codes that Slack documents as temporary even when it answers HTTP 200.
_TRANSIENT_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

#: What the user should do about the common permanent errors (shown in the run history).
_HINTS: dict[str, str] = {
    "channel_not_found": "check the channel ID; a private channel is invisible until the bot "
    "is invited",
    "not_in_channel": "invite the bot to the channel (/invite @your-bot)",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token is not valid: update the Slack connection",
    "not_authed": "no token was sent: set bot_token on the Slack connection",
    "token_revoked": "the bot token was revoked: reinstall the app and update the connection",
    "token_expired": "the bot token expired: update the Slack connection",
    "account_inactive": "the token belongs to a deleted user or a disabled workspace",
    "missing_scope": "add the scope to the Slack app and reinstall it",
    "invalid_blocks": "the blocks are not valid Block Kit",
    "invalid_blocks_format": "blocks must be a list of Block Kit objects",
    "msg_too_long": "the text is too long (40,000 characters at most)",
    "no_text": "give a text or blocks",
    "restricted_action": "a workspace preference forbids posting in this channel",
    # Incoming-webhook answers (plain-text codes rather than JSON).
    "no_service": "the webhook was removed or its URL is wrong",
    "no_team": "the workspace of this webhook no longer exists",
    "invalid_token": "the webhook URL is wrong or was revoked",
    "action_prohibited": "an admin restricted this webhook",
    "channel_is_archived": "the webhook's channel is archived",
    "invalid_payload": "Slack could not read the message",
}

#: Distinct timeouts are few (one per step configuration), so a small cache holds them all.
_CACHE_SIZE = 64


def _client_timeout(timeout: float) -> int:
    # slack_sdk types the timeout as int; round up so that a short budget never becomes 0.
    return max(1, math.ceil(timeout))


@lru_cache(maxsize=_CACHE_SIZE)
def _cached_web_client(token: str, base_url: str, timeout: int) -> WebClient:
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def web_client(conn: SlackConnection, timeout: float) -> WebClient:
    """The Web API client of this connection (built once, then reused across steps).

    ``WebClient`` keeps no per-call state, so one instance is safe to share between the worker
    threads that run sync actions.
    """
    if conn.bot_token is None or not conn.bot_token.get_secret_value().strip():
        raise PermanentError(
            "The Slack connection has no bot token: set bot_token (xoxb-...) to send messages "
            "through the Web API, or use send_webhook_message with an incoming webhook.",
            details={"missing": "bot_token"},
        )
    return _cached_web_client(
        conn.bot_token.get_secret_value(), conn.base_url, _client_timeout(timeout)
    )


@lru_cache(maxsize=_CACHE_SIZE)
def _cached_webhook_client(url: str, timeout: int) -> WebhookClient:
    return WebhookClient(url=url, timeout=timeout, retry_handlers=[])


def webhook_client(conn: SlackConnection, timeout: float) -> WebhookClient:
    """The incoming-webhook client of this connection (built once, then reused)."""
    if conn.webhook_url is None or not conn.webhook_url.get_secret_value().strip():
        raise PermanentError(
            "The Slack connection has no incoming webhook URL: set webhook_url "
            "(https://hooks.slack.com/services/...), or use send_message with a bot token.",
            details={"missing": "webhook_url"},
        )
    return _cached_webhook_client(conn.webhook_url.get_secret_value(), _client_timeout(timeout))


def _header(headers: Any, name: str) -> str | None:
    """A header value looked up case-insensitively (slack_sdk hands back plain dicts)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == wanted:
            return value[0] if isinstance(value, list) else str(value)
    return None


def _describe(code: str) -> str:
    hint = _HINTS.get(code)
    return f"{code} ({hint})" if hint else code


def classify_api_error(exc: SlackApiError, refused: str = "the message") -> ConnectorError:
    """Turn a Web API refusal into a transient or permanent error carrying Slack's code.

    ``refused``: what Slack refused, as the message says it ("the bot token" for a test).
    """
    response = exc.response
    status: int = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    details: dict[str, object] = {"error": code, "status": status}

    if status == 429 or code == "ratelimited":
        retry_after = parse_retry_after(_header(response.headers, "Retry-After"))
        details["retry_after"] = retry_after
        return TransientError(
            f"Slack rate limit hit (retry after {retry_after}s)",
            retry_after=retry_after,
            details=details,
        )
    if status >= 500 or code in _TRANSIENT_CODES:
        return TransientError(f"Slack is unavailable: {code} (HTTP {status})", details=details)

    message = f"Slack refused {refused}: {_describe(code)}"
    if code == "missing_scope" and data.get("needed"):
        details["needed"] = data["needed"]
        details["provided"] = data.get("provided")
        message += f"; needed scope: {data['needed']}"
    # Block Kit validation errors say which block is wrong in response_metadata.messages.
    problems = (data.get("response_metadata") or {}).get("messages")
    if problems:
        details["messages"] = list(problems)
        message += "; " + "; ".join(str(p) for p in problems)
    return PermanentError(message, details=details)


def classify_webhook_response(response: WebhookResponse) -> ConnectorError | None:
    """``None`` for a delivered message, else the error to raise.

    ``WebhookClient.send`` does not raise on HTTP errors (a 404 comes back as a response), so
    the status code has to be checked by hand.
    """
    status = response.status_code
    if status == 200:
        return None
    code = (response.body or "").strip()[:200] or f"http_{status}"
    details: dict[str, object] = {"error": code, "status": status}
    if status == 429:
        retry_after = parse_retry_after(_header(response.headers, "Retry-After"))
        details["retry_after"] = retry_after
        return TransientError(
            f"Slack rate limit hit (retry after {retry_after}s)",
            retry_after=retry_after,
            details=details,
        )
    if status >= 500:
        return TransientError(f"Slack is unavailable: {code} (HTTP {status})", details=details)
    return PermanentError(
        f"Slack refused the webhook message: {_describe(code)} (HTTP {status})", details=details
    )


def classify_network_error(exc: Exception) -> ConnectorError:
    """Connection refused/reset, DNS failure or timeout: worth retrying. Bad URL: not."""
    if isinstance(exc, SlackClientError):
        # slack_sdk raises SlackRequestError for a non-http(s) URL or an invalid proxy.
        return PermanentError(f"Slack client error: {exc}", details={"error": type(exc).__name__})
    reason = getattr(exc, "reason", exc)  # urllib wraps the socket error in URLError.reason
    if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
        return TransientError("Slack did not answer in time", details={"error": "timeout"})
    kind = type(reason).__name__
    return TransientError(f"Could not reach Slack: {kind}: {reason}", details={"error": kind})
