"""The OpenAPI page in a real browser: every asset comes from Maillon itself, and "Try it out"
calls the API with the signed-in session."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from maillon.engine.flows import FlowDocument
from tests.support.browser import sign_in
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

OFF = FlowDocument.model_validate(
    {
        "name": "Ping",
        "enabled": False,
        "steps": [
            {"key": "ping", "action": "http.send_request", "input": {"url": "http://127.0.0.1:9/"}}
        ],
    }
)


def test_the_page_loads_only_from_maillon_and_tries_calls(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    sign_in(page, ui_server.url)

    page.goto(ui_server.url + "/schema")

    expect(page.get_by_role("heading", name="Maillon")).to_be_visible()
    operation = page.locator("#operations-flows-ApiFlowsListFlows")
    expect(operation).to_be_visible()
    here = urlsplit(ui_server.url).netloc
    assert {urlsplit(url).netloc for url in requested if not url.startswith("data:")} == {here}
    assert failed == []

    # "Try it out" with the signed-in session: a read, and a change (which needs the CSRF
    # token the page sends along).
    operation.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_have_text("200")

    flow_id = ui_server.call(ui_server.runtime.services.flows.save(OFF)).row.id
    enable = page.locator("#operations-flows-ApiFlowsFlowIdEnableEnableFlow")
    enable.click()
    enable.get_by_role("button", name="Try it out").click()
    enable.get_by_placeholder("flow_id").fill(flow_id)
    enable.get_by_role("button", name="Execute").click()
    expect(enable.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    assert ui_server.call(ui_server.runtime.services.flows.get(flow_id)).row.enabled


def test_the_document_and_the_page_need_a_user(ui_server: UIServer) -> None:
    assert httpx.get(ui_server.url + "/schema").status_code == 401
    assert httpx.get(ui_server.url + "/schema/openapi.json").status_code == 401
    assert httpx.get(ui_server.url + "/static/vendor/swagger-ui-LICENSE.txt").status_code == 200
