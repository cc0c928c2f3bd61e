"""Pipedrive's REST API through httpx: the company's client, its error bodies, its limits.

Pipedrive answers errors as ``{"success": false, "error": "...", "error_info": "..."}``; a 429
says when the window resets in ``x-ratelimit-reset`` (seconds) when it sends no Retry-After.
"""

from __future__ import annotations

from typing import Any

import httpx

from maillon.connectors.crm import Answer, Problem, RestApi
from maillon.connectors.pipedrive.connection import PipedriveConnection
from maillon.connectors.sdk import parse_retry_after

__all__ = ["api", "data_of"]


def _explain(answer: Answer) -> Problem:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
        info = body.get("error_info")
        if isinstance(info, str) and info and info not in message:
            message = f"{message} ({info})"
        code = body.get("code") or body.get("errorCode")
        retry_after = parse_retry_after(answer.headers.get("x-ratelimit-reset"))
        return Problem(message, str(code) if code else None, retry_after=retry_after)
    return Problem(answer.snippet())


def api(conn: PipedriveConnection, timeout: float) -> RestApi:
    """A client of the connection's company."""
    return RestApi(
        "Pipedrive", conn.base_url, headers=conn.auth_headers(), timeout=timeout, explain=_explain
    )


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a Pipedrive answer."""
    body = RestApi.json(response)
    return body.get("data") if isinstance(body, dict) else None
