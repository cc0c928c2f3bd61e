"""The product's front door, end to end, through the browser only: from an empty install to a
webhook that posts to Slack, and its run seen in the runs list and on its page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from maillon.connectors.testing import FakeServer
from tests.support.accounts import OWNER
from tests.support.browser import check_accessibility, screenshot
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

EMAIL, NAME, PASSWORD = OWNER
POST_MESSAGE = "/api/chat.postMessage"
TRANSACTION = {"id": "tx-42", "amount": 150000, "currency": "EUR", "investor": "Ada Lovelace"}


def _required(page: Page, label: str) -> Locator:
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(\s*\*\s*\(required\))?$"))


def test_from_an_empty_install_to_a_slack_message_through_the_ui(
    page: Page, working_ui_server: UIServer, fake_server: FakeServer, tmp_path: Path
) -> None:
    server, slack = working_ui_server, fake_server
    slack.on("POST", "/api/auth.test", (200, {"ok": True, "team": "Acme", "user": "maillon"}))
    slack.on("POST", POST_MESSAGE, (200, {"ok": True, "channel": "C1", "ts": "1.2"}))

    # The first visit creates the owner.
    page.goto(server.url)
    expect(page).to_have_url(server.url + "/setup")
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the owner account").click()

    # A Slack connection, pointing at a fake Slack.
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="Add a connection").click()
    page.get_by_role("link", name="Slack", exact=True).click()
    _required(page, "Name").fill("team-slack")
    _required(page, "Bot token").fill("xoxb-journey")
    _required(page, "Web API base URL").fill(slack.url + "api/")
    page.get_by_role("button", name="Save connection").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".check[aria-live=polite]")).to_contain_text("Works")

    # A webhook flow: a Slack message built from a test event's fields.
    page.get_by_role("link", name="Flows").click()
    page.get_by_role("link", name="New flow").click()
    page.get_by_label("Name").fill("New transaction to Slack")
    page.get_by_role("button", name="Create and add steps").click()
    page.get_by_role("button", name="Slack: Send a message", exact=True).click()
    page.locator("#f-steps-0-connection").select_option("team-slack")
    page.get_by_role("textbox", name="Channel (required)").fill("#sales")
    hook_url = page.get_by_label("The flow's URL").input_value()
    page.get_by_role("button", name="Wait for a test event").click()
    assert httpx.post(hook_url, json=TRANSACTION).status_code == 200
    expect(page.get_by_text("The delivery received")).to_be_visible(timeout=10_000)
    text = page.get_by_label("Text")
    text.fill("New investment: ")
    page.get_by_role("button", name="Insert amount (event.amount)").click()
    expect(text).to_have_value("New investment: {{ event.amount }}")
    text.fill("New investment: {{ event.amount | money('EUR') }} by {{ event.investor }}")
    expect(page.locator("#preview-steps-0-input-text")).to_contain_text(
        "New investment: 1,500.00 EUR by Ada Lovelace"
    )
    page.get_by_role("button", name="Test this step").click()
    expect(page.get_by_text("The step succeeded.")).to_be_visible()
    # A viewport as tall as the editor: the sample panel stays beside the steps in the picture.
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "editor", tmp_path)
    [tested] = slack.received("POST", POST_MESSAGE)
    assert json.loads(tested.body)["text"] == "New investment: 1,500.00 EUR by Ada Lovelace"
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
    page.get_by_role("button", name="Switch on").click()
    expect(page.get_by_text("is on.")).to_be_visible()
    check_accessibility(page)

    # The app posts a transaction: the flow runs and Slack gets the message.
    second = {**TRANSACTION, "id": "tx-43", "amount": 2500}
    assert httpx.post(hook_url, json=second).status_code == 200
    [_, delivered] = slack.wait_for("POST", POST_MESSAGE, count=2)
    assert json.loads(delivered.body)["text"] == "New investment: 25.00 EUR by Ada Lovelace"
    assert delivered.headers["authorization"] == "Bearer xoxb-journey"

    # The run, in the runs list and on its page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    rows = page.locator("#runs-results tbody tr")
    # The test step made no run; the test event, sent while the flow was off, is held.
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Held")
    expect(rows.first).to_contain_text("Succeeded")
    expect(rows.first).to_contain_text("New transaction to Slack")
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run of “New transaction to Slack”")
    expect(page.get_by_label("The event's JSON")).to_contain_text('"id": "tx-43"')
    expect(page.locator("#run-steps .run-step")).to_contain_text("Succeeded")
    expect(page.locator("#run-steps .run-step")).to_contain_text("New investment: 25.00 EUR")
    check_accessibility(page)
