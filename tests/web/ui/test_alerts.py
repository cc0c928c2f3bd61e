"""Failures in a real browser: where alerts go, an error flow built in the editor, the failure
settings of a flow, and a paused flow shown on the dashboard and resumed from there."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import RUN_FAILED, FlowDocument
from tests.support.browser import NewPage, check_accessibility, has_no_horizontal_scroll, sign_in
from tests.support.wait import wait_for
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

POST = ("POST", "/api/chat.postMessage")
OK = (200, {"ok": True, "channel": "C1", "ts": "1.2"})


def slack(ui_server: UIServer, fake_server: FakeServer) -> None:
    values = {"bot_token": "xoxb-t", "base_url": fake_server.url + "api/"}
    ui_server.call(ui_server.runtime.services.connections.create("slack", "team-slack", values))


def test_alerts_are_set_refused_with_the_reason_and_tested(
    new_page: NewPage, ui_server: UIServer, fake_server: FakeServer
) -> None:
    fake_server.on(*POST, OK)
    ui_server.set_up_owner()
    slack(ui_server, fake_server)
    values = {"host": "127.0.0.1", "port": 25, "from_address": "m@example.com"}
    ui_server.call(ui_server.runtime.services.connections.create("smtp", "mail", values))
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/settings")
    page.get_by_role("link", name="Failure alerts").click()
    expect(page.get_by_text("Alerts are off")).to_be_visible()
    check_accessibility(page)

    page.get_by_label("Send through").select_option("mail")
    page.get_by_label("Send to", exact=True).fill("not an address")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Give e-mail addresses", exact=False)).to_be_visible()
    expect(page.get_by_label("Send to", exact=True)).to_have_value("not an address")  # kept
    check_accessibility(page)

    # Each connection with its app's name as people write it.
    expect(page.get_by_label("Send through").locator("option[value=team-slack]")).to_have_text(
        "team-slack (Slack)"
    )
    page.get_by_label("Send through").select_option("team-slack")
    page.get_by_label("Send to", exact=True).fill("#ops")
    page.get_by_label("At most one message per flow every (seconds)").fill("600")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.locator(".alerts-state")).to_contain_text("Alerts go to #ops through team-slack")
    page.get_by_role("button", name="Send a test alert").click()
    expect(page.get_by_role("status")).to_contain_text("Test alert sent")
    [message] = fake_server.received(*POST)
    assert message.json()["channel"] == "#ops"
    settings = ui_server.call(ui_server.runtime.services.alerts.settings())
    assert settings is not None and settings.interval == 600


def test_an_error_flow_and_a_pause_are_set_in_the_editor(
    new_page: NewPage, ui_server: UIServer, fake_server: FakeServer
) -> None:
    ui_server.set_up_owner()
    slack(ui_server, fake_server)
    failing_id, _ = ui_server.http_flow("Confirm investment", "http://127.0.0.1:9/")
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/flows/new")
    page.get_by_label("Name").fill("Tell the back office")
    page.get_by_label("A run of another flow fails").check()
    page.get_by_role("button", name="Create and add steps").click()
    expect(page.get_by_label("What starts the flow")).to_have_value(RUN_FAILED)
    page.get_by_label("Confirm investment").check()
    page.get_by_label("Which failures").select_option("exhausted")
    # The sample is an example failure: its fields are in the picker.
    expect(page.get_by_role("button", name="Insert run (event.run)")).to_be_visible()
    page.get_by_label("Find an action").fill("slack")
    page.get_by_role("button", name="Slack: Send a message", exact=True).click()
    # The editor comes back with the step: only then is the form to fill the one shown.
    expect(page.locator("#f-steps-0-connection")).to_be_visible()
    page.get_by_label("Send failure alerts").uncheck()
    page.get_by_label("Pause the flow after this many failed runs in a row").fill("5")
    page.locator("#f-steps-0-connection").select_option("team-slack")
    page.get_by_role("textbox", name="Channel (required)").fill("#backoffice")
    page.get_by_label("Text").fill("{{ event.flow.name }} failed: {{ event.run.url }}")
    expect(page.locator("#preview-steps-0-input-text")).to_contain_text(
        "New Particeep transaction to Slack failed: http://127.0.0.1:8000/runs/"
    )
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Published: version 2 is live.")
    check_accessibility(page)

    [view] = [
        v for v in ui_server.call(ui_server.runtime.services.flows.all()) if v.row.id != failing_id
    ]
    assert view.spec.trigger.model_dump() == {
        "type": RUN_FAILED,
        "flows": ["Confirm investment"],
        "failure": "exhausted",
    }
    assert view.spec.failure_policy.model_dump() == {"alert": False, "pause_after": 5}
    page.goto(ui_server.url + "/flows")
    expect(page.get_by_role("row", name="Tell the back office")).to_contain_text("Failed runs")


def test_a_paused_flow_is_on_the_dashboard_and_resumed_from_it(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    fake_server.on("POST", "/orders", (400, {"error": "refused"}))
    server.set_up_owner()
    flow_id, token = server.http_flow("Confirm investment", fake_server.url + "orders")
    flows = server.runtime.services.flows
    view = server.call(flows.get(flow_id))
    document = view.document | {"on_failure": {"pause_after": 2}}
    server.call(flows.save(FlowDocument.model_validate(document), flow_id))
    server.wait_finished(server.deliver(token, 2))
    wait_for(lambda: server.call(flows.get(flow_id)).state == "paused", what="the pause")
    [held] = server.deliver(token)

    page = new_page(width=360)
    sign_in(page, server.url)
    card = page.locator("section.paused")
    expect(card).to_contain_text("Confirm investment, paused")
    expect(card).to_contain_text("after 2 failed runs in a row")
    check_accessibility(page)
    assert has_no_horizontal_scroll(page)
    page.get_by_role("link", name="Confirm investment").first.click()
    expect(page.locator(".paused-note")).to_contain_text("Maillon paused this flow")
    check_accessibility(page)
    page.go_back()

    fake_server.on("POST", "/orders", (200, {"ok": True}))  # the cause is fixed
    page.get_by_role("button", name="Resume Confirm investment").click()
    expect(page.get_by_role("status")).to_contain_text("is on again; 1 held run queued")
    expect(page.locator("section.paused")).to_have_count(0)
    server.wait_finished([held])
    assert server.call(server.runtime.services.runs.history(held))[0].status == "succeeded"
