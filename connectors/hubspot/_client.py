"""HubSpot's official client (hubspot-api-client), set up for Maillon, and its failures.

The client is generated from HubSpot's OpenAPI documents and runs on urllib3: it is built with
no retries of its own (the engine owns them; urllib3's default would resend a POST whose
connection dropped), pointed at the connection's API URL, and kept per token, since each
``crm.objects.*_api`` it hands out carries a connection pool. Only the generic CRM objects API
is used: one set of calls for contacts, companies, deals, notes and custom objects alike.

HubSpot refuses with ``{"message", "category", "errors": [...]}``; its burst limits (per second,
per ten seconds) are 429 with ``policyName`` and ``X-HubSpot-RateLimit-Interval-Milliseconds``
saying how long the window is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from maillon.connectors.crm import Answer, Problem, refusal
from maillon.connectors.hubspot.connection import HubSpotConnection
from maillon.connectors.sdk import ConnectorError, TransientError

if TYPE_CHECKING:
    from hubspot.crm.objects import BasicApi, BatchApi, SearchApi

__all__ = ["Apis", "apis", "classify", "failures"]

#: Burst windows, by policy, when HubSpot does not say the interval.
_WINDOWS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}


class Apis:
    """The CRM objects APIs of one account."""

    def __init__(self, basic: BasicApi, batch: BatchApi, search: SearchApi) -> None:
        self.basic, self.batch, self.search = basic, batch, search


@lru_cache(maxsize=32)
def _apis(token: str, host: str) -> Apis:
    from hubspot import HubSpot
    from urllib3.util.retry import Retry

    objects = HubSpot(access_token=token, host=host, retry=Retry(0)).crm.objects
    return Apis(objects.basic_api, objects.batch_api, objects.search_api)


def apis(conn: HubSpotConnection) -> Apis:
    """The account's APIs (kept for the token: a refreshed token gets new ones)."""
    return _apis(conn.token, conn.api_url)


def failures() -> tuple[type[Exception], ...]:
    """What the client raises: HubSpot's refusals, and urllib3's network failures."""
    from hubspot.crm.objects import ApiException
    from urllib3.exceptions import HTTPError

    return ApiException, HTTPError


def _explain(answer: Answer) -> Problem:
    body = answer.body if isinstance(answer.body, dict) else {}
    message = str(body.get("message") or answer.snippet())
    code = body.get("category") or body.get("errorType")
    policy = body.get("policyName")
    retry_after = None
    if answer.status == 429 and policy in _WINDOWS:
        interval = answer.headers.get("x-hubspot-ratelimit-interval-milliseconds")
        retry_after = float(interval) / 1000 if interval else _WINDOWS[policy]
    return Problem(message, str(code) if code else None, retry_after=retry_after)


def classify(exc: Exception, what: str) -> ConnectorError:
    """The SDK error for a failure of the client (one of :func:`failures`)."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or status == 0:
        # urllib3's connection, timeout and TLS failures (the client reports the last as 0).
        reason = getattr(exc, "reason", None) or exc
        return TransientError(
            f"HubSpot is unreachable: {reason}", details={"error": type(exc).__name__}
        )
    body = getattr(exc, "body", None)
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    answer = Answer.of(status, dict(getattr(exc, "headers", None) or {}), text)
    return refusal("HubSpot", answer, what, _explain)
