"""The flows list and the flow editor in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from tests.support.browser import (
    NewPage,
    check_accessibility,
    has_no_horizontal_scroll,
    screenshot,
    sign_in,
)
from tests.support.flows import webhook
from tests.support.web import UIServer, sign_in_client

pytestmark = pytest.mark.browser

TRANSACTION = {
    "id": "tx-1",
    "amount": 150000,
    "currency": "EUR",
    "investor": {"email": "ada@example.com", "name": "Ada Lovelace"},
    "items": [{"sku": "bond-a"}],
}


def _new_flow(page: Page, url: str, name: str) -> str:
    page.goto(url + "/flows")
    expect(page.get_by_text("No flow yet")).to_be_visible()
    page.get_by_role("link", name="New flow").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create and add steps").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.rsplit("/", 1)[1].split("?")[0]


def test_a_webhook_flow_is_built_tested_and_switched_on_in_the_editor(
    new_page: NewPage, ui_server: UIServer, fake_server: FakeServer, tmp_path: Path
) -> None:
    ui_server.set_up_owner()
    page = new_page()
    sign_in(page, ui_server.url)
    flow_id = _new_flow(page, ui_server.url, "Notify the back office")

    # An HTTP step, added from the catalog of actions.
    page.get_by_label("Find an action").fill("http")
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    expect(page.get_by_role("heading", name="Send an HTTP request")).to_be_visible()

    # Wait for a test event, and post one to the flow's URL, as an app would.
    hook_url = page.get_by_label("The flow's URL").input_value()
    page.get_by_role("button", name="Wait for a test event").click()
    expect(page.get_by_text("Waiting for a delivery")).to_be_visible()
    assert httpx.post(hook_url, json=TRANSACTION).status_code == 200
    expect(page.get_by_text("The delivery received")).to_be_visible(timeout=10_000)

    # Fields are picked into the input at the cursor; the preview follows.
    url_input = page.get_by_role("textbox", name="URL (required)")
    url_input.fill(fake_server.url + "orders/")
    url_input.press("End")
    page.get_by_role("button", name="Insert id (event.id)").click()
    expect(url_input).to_have_value(fake_server.url + "orders/{{ event.id }}")
    expect(page.locator("#preview-steps-0-input-url")).to_contain_text(
        fake_server.url + "orders/tx-1"
    )
    page.get_by_label("Method").select_option("POST")
    body = page.get_by_label("JSON body")
    body.fill('{"email": "{{ event.investor.emial }}"}')
    expect(page.locator("#preview-steps-0-input-json_body")).to_contain_text("no field 'emial'")
    body.fill('{"email": "{{ event.investor.email }}", "amount": "{{ event.amount }}"}')
    expect(page.locator("#preview-steps-0-input-json_body")).to_contain_text("ada@example.com")
    # The picker is reachable by keyboard too.
    page.get_by_role("button", name="Insert investor (event.investor)").focus()
    screenshot(page.locator("#picker"), "editor-picker", tmp_path)
    check_accessibility(page)

    # Test the step: the request really goes out, and its answer shows.
    fake_server.on("POST", "/orders/tx-1", (201, {"ok": True}))
    page.get_by_role("button", name="Test this step").click()
    expect(page.get_by_text("The step succeeded.")).to_be_visible()
    [sent] = fake_server.received("POST", "/orders/tx-1")
    # A template that is one expression keeps its type: the amount stays a number.
    assert json.loads(sent.body) == {"email": "ada@example.com", "amount": 150000}

    # Save, switch on, and the flow runs for the next delivery.
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
    # The step's real output, from its test, is offered to later steps.
    tested = page.locator('[data-insert="{{ steps.send_request.body.ok }}"]')
    expect(tested).to_have_count(1)  # in the folded "body" branch of the tree
    page.get_by_role("button", name="Switch on").click()
    expect(page.get_by_text("is on.")).to_be_visible()
    saved = ui_server.call(ui_server.runtime.services.flows.get(flow_id))
    assert saved.row.enabled
    assert saved.spec.actions()[0].input["url"] == fake_server.url + "orders/{{ event.id }}"
    assert saved.spec.actions()[0].input["json_body"] == {
        "email": "{{ event.investor.email }}",
        "amount": "{{ event.amount }}",
    }


def test_a_broken_template_is_refused_with_the_reason_next_to_its_input(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    page = new_page()
    sign_in(page, ui_server.url)
    _new_flow(page, ui_server.url, "Broken")
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    page.get_by_role("textbox", name="URL (required)").fill("https://example.com/{{ event.id ")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Not saved: 1 problem")).to_be_visible()
    problem = page.locator("#f-steps-0-input-url-problem")
    expect(problem).to_contain_text("template syntax error")
    # The reason is tied to its input for screen readers.
    assert "f-steps-0-input-url-problem" in (
        page.get_by_role("textbox", name="URL (required)").get_attribute("aria-describedby") or ""
    )
    check_accessibility(page)


def test_a_picked_field_goes_into_a_json_body_quoted_and_a_bare_one_is_refused_plainly(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    page = new_page()
    sign_in(page, ui_server.url)
    flow_id = _new_flow(page, ui_server.url, "Post the amount")
    hook_url = page.get_by_label("The flow's URL").input_value()
    assert httpx.post(hook_url, json={"amount": 1500.5}).status_code == 200
    page.reload()
    expect(page.get_by_text("The delivery received")).to_be_visible()
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    page.get_by_role("textbox", name="URL (required)").fill("https://example.com/orders")
    preview = page.locator("#preview-steps-0-input-json_body")

    # Picked where the JSON takes a value, the field goes in quotes: it keeps its type.
    body = page.get_by_label("JSON body")
    body.fill('{"name": "Zoé", "amount": ')
    body.press("End")
    page.get_by_role("button", name="Insert amount (event.amount)").click()
    expect(body).to_have_value('{"name": "Zoé", "amount": "{{ event.amount }}"')
    body.press("End")
    body.type("}")
    expect(preview).to_contain_text('{"name": "Zoé", "amount": 1500.5}')  # as it is sent
    # Inside a string, it is part of the text.
    body.fill('{"name": "order ')
    body.press("End")
    page.get_by_role("button", name="Insert amount (event.amount)").click()
    expect(body).to_have_value('{"name": "order {{ event.amount }}')

    # Typed without quotes, the preview says what saving says, in plain words.
    body.fill('{"name": "x", "amount": {{ event.amount }}}')
    plainly = 'a template in a JSON value goes in quotes: "{{ event.amount }}"'
    expect(preview).to_contain_text(plainly)
    expect(preview).not_to_contain_text("1500.5")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Not saved: 1 problem")).to_be_visible()
    expect(page.locator("#f-steps-0-input-json_body-problem")).to_contain_text(plainly)
    # The focus goes to the input with the problem (it may be far below the message).
    expect(page.get_by_label("JSON body")).to_be_focused()
    expect(page.locator("#preview-steps-0-input-json_body")).not_to_contain_text("null")
    check_accessibility(page)

    page.get_by_label("JSON body").fill('{"name": "x", "amount": "{{ event.amount }}"}')
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    saved = ui_server.call(ui_server.runtime.services.flows.get(flow_id))
    assert saved.editing.actions()[0].input["json_body"] == {
        "name": "x",
        "amount": "{{ event.amount }}",
    }


def test_keyboard_picks_optional_connections_and_unsaved_edits_in_the_editor(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    base = {"base_url": "https://warehouse.example.com/"}
    ui_server.call(services.connections.create("http", "warehouse-api", base))
    page = new_page()
    sign_in(page, ui_server.url)
    _new_flow(page, ui_server.url, "Keyboard")
    hook_url = page.get_by_label("The flow's URL").input_value()
    assert httpx.post(hook_url, json={"amount": 1500.5}).status_code == 200
    page.reload()
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    # The button is gone with the editor it was in: the focus goes to the new step.
    expect(page.locator("#step-0-heading")).to_be_focused()

    # An HTTP request may take its base URL and headers from an HTTP connection.
    connection = page.get_by_label("Connection", exact=True)
    expect(connection).to_have_accessible_description(re.compile("^Optional"))
    connection.select_option("warehouse-api")

    # Tabbed into, an input's text is selected: a field picked from the keyboard goes at its
    # end instead of over it, and the picker names the input it goes into.
    url = page.get_by_role("textbox", name="URL (required)")
    url.fill("orders/")
    url.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(url).to_be_focused()
    expect(page.locator("#picker-target")).to_have_text("Goes into: URL, step 1")
    page.get_by_role("button", name="Insert amount (event.amount)").focus()
    page.keyboard.press("Enter")
    expect(url).to_have_value("orders/{{ event.amount }}")
    check_accessibility(page)

    # Leaving with edits not saved asks first (staying keeps them); once saved, it does not.
    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    runs = page.get_by_role("link", name="Runs", exact=True).first
    runs.click()  # the click ends once the question is answered
    assert asked == ["beforeunload"]
    expect(url).to_have_value("orders/{{ event.amount }}")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    # Inputs left at their default stay folded under "More inputs" once saved.
    expect(page.locator("#f-steps-0-input-follow_redirects")).to_be_hidden()
    runs.click()
    expect(page).to_have_url(re.compile(r"/runs"))
    assert asked == ["beforeunload"]


def test_the_picker_offers_an_input_only_the_steps_before_it(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    steps = [
        {"key": key, "action": "http.send_request", "input": {"url": "http://127.0.0.1:9/"}}
        for key in ("first", "second")
    ]
    doc = FlowDocument.model_validate({"name": "Two steps", "enabled": False, "steps": steps})
    flow_id = ui_server.call(ui_server.runtime.services.flows.save(doc)).row.id
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/flows/{flow_id}")
    first = page.get_by_role("list", name="Output of step 1. first")
    second = page.get_by_role("list", name="Output of step 2. second")
    left_out = page.locator("#picker-later")
    # Before any input is chosen, the picker shows everything it has.
    expect(first).to_be_visible()
    expect(second).to_be_visible()
    expect(left_out).to_be_hidden()

    page.locator("#f-steps-1-input-url").focus()
    expect(first).to_be_visible()
    expect(second).to_be_hidden()
    expect(left_out).to_be_visible()

    page.locator("#f-steps-0-input-url").focus()
    expect(first).to_be_hidden()
    expect(second).to_be_hidden()

    # The trigger's dedup key is rendered before any step runs.
    page.locator("#f-steps-1-input-url").focus()
    expect(first).to_be_visible()
    page.get_by_text("Ignore repeated deliveries").click()
    page.locator("#f-dedup").focus()
    expect(first).to_be_hidden()
    expect(page.get_by_role("list", name="Event")).to_be_visible()


def test_saving_in_the_editor_keeps_what_it_has_no_inputs_for_and_adds_no_defaults(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    ui_server.call(services.connections.create("webhook", "sender", {"secret": "shh"}))
    signature = {"connection": "sender", "preset": "github"}
    step = {"key": "post", "action": "http.send_request", "input": {"url": "http://127.0.0.1:9/"}}
    doc = FlowDocument.model_validate(
        {
            "name": "Signed",
            "enabled": False,
            "trigger": {"type": "webhook", "signature": signature},
            "max_attempts": 9,
            "retention": {"days": 1},
            "steps": [step],
        }
    )
    flow_id = ui_server.call(services.flows.save(doc)).row.id
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/flows/{flow_id}")
    expect(page.get_by_text("Only signed deliveries start the flow")).to_be_visible()
    expect(page.get_by_text("each step is tried up to 9 times")).to_be_visible()

    # Saved untouched, the flow is the same: no draft, no input added at its default.
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved: no change from the live version.")).to_be_visible()

    # Renamed and published: the rest stays, the signature check first of all.
    page.get_by_role("textbox", name="Name", exact=True).fill("Signed, renamed")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".message-success")).to_contain_text("Published: version 2 is live.")
    published = ui_server.call(services.flows.get(flow_id)).spec
    assert published.model_dump(exclude_none=True) == {
        **doc.spec.model_dump(exclude_none=True),
        "name": "Signed, renamed",
    }


def test_the_flows_list_searches_switches_and_fits_a_phone(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    flows = ui_server.runtime.services.flows
    for name in ("Investor e-mails", "Sheets register"):
        doc = FlowDocument.model_validate(
            {
                "name": name,
                "steps": [
                    {"key": "a", "action": "http.send_request", "input": {"url": "https://x.y"}}
                ],
            }
        )
        ui_server.call(flows.save(doc))
    page = new_page(width=360, height=740)
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/flows")
    expect(page.get_by_role("link", name="Investor e-mails")).to_be_visible()
    page.get_by_label("Search flows by name").fill("sheets")
    expect(page.get_by_role("link", name="Investor e-mails")).to_have_count(0)
    expect(page.get_by_role("link", name="Sheets register")).to_be_visible()
    switch = page.get_by_role("switch", name="Sheets register is on")
    switch.click()
    expect(page.get_by_role("switch", name="Sheets register is off")).to_be_visible()
    listed = ui_server.call(flows.all("sheets"))
    assert not listed[0].row.enabled
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    # What the switch said goes with the next search: it is not about those results.
    expect(page.locator("#messages")).to_contain_text("Sheets register")
    page.get_by_label("Search flows by name").fill("nothing like it")
    expect(page.get_by_text("No flow's name contains")).to_be_visible()
    expect(page.locator("#messages")).not_to_contain_text("Sheets register")


SID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
APPEND = f"/v4/spreadsheets/{SID}/values/A1:append"  # no sheet named: the first one
SEND = "/gmail/v1/users/me/messages/send"


def test_a_particeep_event_flow_mails_and_adds_a_row_through_the_editor(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    from examples.particeep.entities import make_transaction
    from examples.particeep.fake_api import FakeParticeep
    from maillon.connectors.google.client import _credentials, session

    server, google = working_ui_server, fake_server
    google.on("POST", "/token", (200, {"access_token": "fresh", "expires_in": 3600}))
    google.on("POST", SEND, (200, {"id": "m1", "threadId": "t1"}))
    google.on("POST", APPEND, (200, {"updates": {"updatedRange": "Sheet1!A2:C2"}}))
    connections = server.runtime.services.connections
    server.set_up_owner()
    with FakeParticeep("k", "s") as particeep:
        values = {"api_key": "k", "api_secret": "s", "environment": "custom"}
        server.call(
            connections.create("particeep", "particeep-prod", {**values, "base_url": particeep.url})
        )
        server.call(
            connections.create(
                "google",
                "backoffice-google",
                {
                    "client_id": "cid",
                    "client_secret": "cs",
                    "refresh_token": "r1",
                    "token_uri": google.url + "token",
                    "api_endpoint": google.url,
                },
            )
        )
        page = new_page()
        sign_in(page, server.url)
        page.goto(server.url + "/flows/new")
        page.get_by_label("Name").fill("New investment")
        page.get_by_label("Particeep event").check()
        page.get_by_role("button", name="Create and add steps").click()
        page.get_by_label("Account").select_option("particeep-prod")
        page.get_by_role("combobox", name="Event").fill("transaction_created")
        page.get_by_role("combobox", name="Event").press("Tab")
        # The catalog's sample: its fields are offered before any delivery.
        expect(page.get_by_text("The app's example of this event")).to_be_visible()
        expect(page.get_by_role("button", name="Insert amount (event.amount)")).to_be_visible()

        page.get_by_role("button", name="Gmail: Send an email").click()
        page.locator("#f-steps-0-connection").select_option("backoffice-google")
        page.get_by_label("To", exact=True).fill("backoffice@example.com")
        page.get_by_label("Plain-text body").fill("Transaction {{ event.id }}")
        subject = page.get_by_label("Subject")
        subject.fill("New transaction: ")
        page.get_by_role("button", name="Insert amount (event.amount)").click()
        expect(subject).to_have_value("New transaction: {{ event.amount }}")
        page.get_by_text("Add a step").click()  # folded once the flow has a step
        page.get_by_role("button", name="Google Sheets: Append a row").click()
        page.locator("#f-steps-1-connection").select_option("backoffice-google")
        page.get_by_label("Spreadsheet").fill(SID)
        page.get_by_label("Values").fill(
            '["{{ event.id }}", "{{ event.amount }}", "{{ steps.send_email.message_id }}"]'
        )
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
        page.get_by_role("button", name="Switch on").click()
        expect(page.get_by_text("is on.")).to_be_visible()
        expect(page.get_by_text("Registered at the app")).to_be_visible()
        assert len(particeep.webhooks("transaction_created")) == 1

        transaction = make_transaction()
        particeep.emit("transaction_created", transaction)
        assert particeep.wait_idle()
        [row] = google.wait_for("POST", APPEND)
    session.cache_clear()
    _credentials.cache_clear()
    [mail] = google.received("POST", SEND)
    assert mail.headers["authorization"] == "Bearer fresh"
    assert row.json() == {"values": [[transaction["id"], transaction["amount"], "m1"]]}


def test_the_editor_works_with_the_keyboard_and_fits_a_phone(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    page = new_page(width=360, height=740)
    sign_in(page, ui_server.url)
    _new_flow(page, ui_server.url, "Phone")
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    url = page.get_by_role("textbox", name="URL (required)")
    url.fill("https://example.com/")
    # Keyboard only: from the input to a field of the picker, Enter inserts it at the cursor.
    url.focus()
    url.press("End")
    event = page.get_by_role("button", name="Insert event (event)")
    event.focus()
    event.press("Enter")
    expect(url).to_have_value("https://example.com/{{ event }}")
    expect(url).to_be_focused()
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)


def test_the_deliveries_to_preview_with_say_what_each_holds(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, token = ui_server.http_flow("Orders", "http://127.0.0.1:9/", enabled=False)
    for body in ({"type": "user_created", "id": "u-1"}, {"type": "transaction_created"}):
        ui_server.call(webhook(ui_server.runtime, token, body))
    with sign_in_client(ui_server.url) as client:
        editor = client.get(f"/flows/{flow_id}").text
    start = editor.index('id="f-sample_event"')
    options = editor[start : editor.index("</select>", start)]
    # Newest first, each with its first values.
    assert options.index(": type: transaction_created<") < options.index(
        ": type: user_created · id: u-1<"
    )


def test_flows_are_imported_from_a_yaml_file_through_the_form(
    new_page: NewPage, ui_server: UIServer, tmp_path: Path
) -> None:
    ui_server.set_up_owner()
    exported = tmp_path / "order-hook.yaml"
    exported.write_text(
        "name: Order hook\n"
        "steps:\n"
        "  - key: notify\n"
        "    action: http.send_request\n"
        "    input: {method: POST, url: 'https://example.com/orders'}\n"
    )
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/flows")
    page.get_by_text("Import flows from a YAML file").click()
    page.get_by_label("YAML file").set_input_files(exported)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported “Order hook”.")).to_be_visible()
    page.get_by_role("link", name="Order hook").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order hook")
    [imported] = ui_server.call(ui_server.runtime.services.flows.all())
    assert imported.row.name == "Order hook"
