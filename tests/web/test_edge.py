"""What every answer carries (request id, security headers, no server header) and what becomes
of an error nobody expected, over real HTTP as ``maillon serve`` serves."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text

from maillon.engine.logs import ContextFilter
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from maillon.web.app import create_app
from maillon.web.edge import HTML_CSP
from maillon.web.serving import uvicorn_options
from tests.support.api import Live
from tests.support.server import LiveServer


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Runtime]]:
    """The app behind uvicorn with ``maillon serve``'s own options."""
    settings = make_settings()
    runtime = Runtime(settings)
    with LiveServer(create_app(runtime=runtime, workers=False), **uvicorn_options(settings)) as url:
        yield url, runtime


def test_an_unexpected_error_is_logged_with_its_traceback_and_request_id(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter())
    with live.runtime.db.begin() as conn:
        conn.execute(text("DROP TABLE steps"))
        conn.execute(text("DROP TABLE runs"))
    with caplog.at_level(logging.ERROR):
        answer = live.client.get("/api/runs")
    assert answer.status_code == 500
    rid = answer.headers["x-request-id"]
    assert answer.json()["request_id"] == rid
    assert "runs" not in answer.json()["detail"]  # the cause stays in the log
    [record] = [r for r in caplog.records if r.name == "maillon.web.edge"]
    assert record.exc_info is not None
    assert getattr(record, "request_id", None) == rid
    assert "GET /api/runs" in record.getMessage()


@pytest.mark.parametrize(
    ("path", "html"),
    [("/api/flows", False), ("/setup", True), ("/nowhere", False), ("/hooks/nope", False)],
)
def test_every_answer_has_the_security_headers_and_no_server_header(
    served: tuple[str, Runtime], path: str, html: bool
) -> None:
    url, _ = served
    answer = httpx.get(url + path)
    headers = answer.headers
    assert "server" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    assert len(headers["x-request-id"]) == 36
    csp = headers["content-security-policy"]
    if html:
        assert csp == HTML_CSP
    else:
        assert csp == "default-src 'none'; frame-ancestors 'none'"


def test_static_files_keep_their_cache_policy(served: tuple[str, Runtime]) -> None:
    url, _ = served
    answer = httpx.get(url + "/static/maillon.css")
    assert answer.headers["cache-control"] != "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_request_id_from_the_caller_is_kept_when_sane(served: tuple[str, Runtime]) -> None:
    url, _ = served
    kept = httpx.get(url + "/healthz", headers={"X-Request-ID": "proxy-1234.abc"})
    assert kept.headers["x-request-id"] == "proxy-1234.abc"
    replaced = httpx.get(url + "/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 36
