"""Zoho CRM's REST API through httpx: its error bodies, per-record results and limits.

Zoho answers a refusal as ``{"code": "INVALID_TOKEN", "message": ..., "status": "error"}``, or,
for the records of a write, one such object per record in ``data`` with the field at fault in
``details.api_name``. Too many calls at once, or no API credits left for the day, are
``TOO_MANY_REQUESTS`` (429).
"""

from __future__ import annotations

from typing import Any

import httpx

from maillon.connectors.crm import Answer, Problem, RestApi
from maillon.connectors.sdk import PermanentError
from maillon.connectors.zoho_crm.connection import ZohoConnection

__all__ = ["api", "record_id"]

#: Codes that mean "later" whatever the status says.
_LIMIT_CODES = frozenset({"TOO_MANY_REQUESTS", "LIMIT_EXCEEDED", "API_LIMIT_EXCEEDED"})


def _describe(entry: dict[str, Any]) -> Problem:
    message = str(entry.get("message") or entry.get("code") or "error")
    details = entry.get("details")
    if isinstance(details, dict):
        if details.get("api_name"):
            message += f" (field {details['api_name']}"
            if details.get("expected_data_type"):
                message += f", expected {details['expected_data_type']}"
            message += ")"
        elif details.get("id"):
            message += f" (record {details['id']})"
    code = str(entry["code"]) if entry.get("code") else None
    return Problem(message, code, transient=True if code in _LIMIT_CODES else None)


def _explain(answer: Answer) -> Problem:
    body = answer.body
    if isinstance(body, dict):
        records = body.get("data")
        if isinstance(records, list) and records and isinstance(records[0], dict):
            return _describe(records[0])
        if body.get("code") or body.get("message"):
            return _describe(body)
    return Problem(answer.snippet())


def api(conn: ZohoConnection, timeout: float) -> RestApi:
    """A client of the organization's CRM API."""
    return RestApi(
        "Zoho CRM", conn.base_url, headers=conn.auth_headers(), timeout=timeout, explain=_explain
    )


def record_id(http: RestApi, response: httpx.Response, what: str) -> tuple[str, str | None]:
    """The record a write made or changed, and Zoho's word for it (``insert``/``update``).

    A write of one record can succeed as a request and still fail for its record (HTTP 202
    or 207 with ``status: error`` inside): that is raised as the refusal it is.
    """
    body = RestApi.json(response)
    records = body.get("data") if isinstance(body, dict) else None
    entry = records[0] if isinstance(records, list) and records else None
    if not isinstance(entry, dict):
        raise PermanentError(f"Zoho CRM answered {what} without a result")
    if entry.get("status") != "success":
        raise http.error(response, what)
    details = entry.get("details")
    if not isinstance(details, dict) or not details.get("id"):
        raise PermanentError(f"Zoho CRM answered {what} without the record's ID")
    action = entry.get("action")
    return str(details["id"]), str(action) if action else None
