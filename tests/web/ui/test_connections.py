"""The connections pages in a real browser, against fake Slack, Google and Particeep servers:
adding, testing, editing without retyping a secret, deleting, connecting with Google, an app
account's registrations, and the form the flow editor shows in a dialog."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.i18n import use_locale
from maillon.engine.services.connections import ConnectionView, FlowUse
from maillon.web.ui.connections import _saved
from tests.connectors.google.support import id_token
from tests.support.browser import NewPage, check_accessibility, has_no_horizontal_scroll, sign_in
from tests.support.web import UIServer, csrf_field, sign_in_client

pytestmark = pytest.mark.browser

AUTH_TEST = "/api/auth.test"
TOKEN = "xoxb-kept-secret"


def labelled(scope: Page | Locator, label: str) -> Locator:
    """The input labelled ``label``, required or not (its label then ends "* (required)")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}(\s*\*\s*\(required\))?$"))


def _check_region(page: Page) -> Locator:
    """The live region that shows how the connection's last test went."""
    return page.locator(".check[aria-live=polite]")


def test_a_slack_connection_is_added_tested_and_edited_without_retyping_its_token(
    page: Page, ui_server: UIServer, fake_server: FakeServer
) -> None:
    fake_server.on(
        "POST",
        AUTH_TEST,
        (200, {"ok": True, "team": "Acme", "user": "maillon"}),
        (200, {"ok": False, "error": "invalid_auth"}),
    )
    ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_text("No connection yet")).to_be_visible()
    check_accessibility(page)

    page.get_by_role("link", name="Add a connection").click()
    check_accessibility(page)
    page.get_by_role("link", name="Slack", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New Slack connection")
    check_accessibility(page)
    labelled(page, "Name").fill("team-slack")
    labelled(page, "Bot token").fill(TOKEN)
    labelled(page, "Web API base URL").fill(fake_server.url + "api/")
    page.get_by_role("button", name="Save connection").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("team-slack")
    expect(page.locator("#messages")).to_contain_text("Connection “team-slack” saved.")
    expect(labelled(page, "Bot token")).to_have_attribute(
        "placeholder", "set — leave empty to keep"
    )
    assert TOKEN not in page.content()
    check_accessibility(page)

    # Tested in place: the outcome lands in the live region.
    page.get_by_role("button", name="Test connection").click()
    expect(_check_region(page)).to_contain_text("Works")
    expect(_check_region(page)).to_contain_text("workspace Acme, bot user maillon")
    check_accessibility(page)
    page.get_by_role("button", name="Test connection").click()
    expect(_check_region(page)).to_contain_text("Failed")
    expect(_check_region(page)).to_contain_text(
        "Slack refused the bot token: invalid_auth (the bot token is not valid"
    )

    # Edited: renamed, the token left empty, so kept.
    labelled(page, "Name").fill("sales-slack")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#messages")).to_contain_text("Connection “sales-slack” saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("sales-slack")
    # The last test was before the change, and says so.
    expect(_check_region(page)).to_contain_text("before the last change")
    assert TOKEN not in page.content()
    page.get_by_role("button", name="Test connection").click()
    expect(_check_region(page)).not_to_contain_text("before the last change")
    tokens = [r.headers["authorization"] for r in fake_server.received("POST", AUTH_TEST)]
    assert tokens == [f"Bearer {TOKEN}"] * 3

    page.get_by_role("link", name="Connections", exact=True).first.click()
    row = page.get_by_role("row", name="sales-slack")
    expect(row).to_contain_text("Slack")
    expect(row).to_contain_text("Failed")
    assert TOKEN not in page.content()
    check_accessibility(page)


def test_problems_are_shown_next_to_their_inputs(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/connections/new?app=smtp")
    name = labelled(page, "Name")
    name.fill("mail/relay")
    labelled(page, "Server").fill("smtp.example.com")
    labelled(page, "Port").fill("70000")
    page.get_by_role("button", name="Save connection").click()

    expect(page.locator("#messages")).to_contain_text("Not saved: 2 problems")
    expect(name).to_have_value("mail/relay")
    expect(name).to_have_accessible_description(re.compile("cannot contain “/”"))
    expect(labelled(page, "Port")).to_have_accessible_description(
        re.compile("less than or equal to 65535")
    )
    check_accessibility(page)

    # A rule about several fields is said above the form.
    name.fill("mail-relay")
    labelled(page, "Port").fill("587")
    labelled(page, "Username").fill("robot")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Give both a username and a password, or neither."
    )
    expect(labelled(page, "Username")).to_have_value("robot")
    check_accessibility(page)


def test_a_connection_used_by_a_flow_cannot_be_deleted(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    ui_server.call(services.connections.create("slack", "team-slack", {"bot_token": TOKEN}))
    doc = FlowDocument.model_validate(
        {
            "name": "Tell sales",
            "enabled": False,
            "steps": [
                {
                    "key": "post",
                    "action": "slack.send_message",
                    "connection": "team-slack",
                    "input": {"channel": "C1", "text": "A new investor"},
                }
            ],
        }
    )
    flow = ui_server.call(services.flows.save(doc))
    page = new_page(width=360)
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/connections")
    expect(page.get_by_role("link", name="Tell sales")).to_have_attribute(
        "href", f"/flows/{flow.row.id}"
    )
    assert has_no_horizontal_scroll(page)

    # In use, it offers no Delete that would ask to confirm and then refuse.
    expect(page.get_by_role("button", name="Delete team-slack")).to_have_count(0)
    page.get_by_role("link", name="Edit team-slack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("team-slack")
    expect(
        page.get_by_text("Flows use this connection: it can be deleted once none does.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Delete this connection")).to_have_count(0)
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)

    # A flow that starts using it after the page was read: the deletion is refused.
    ui_server.call(services.flows.delete(flow.row.id))
    page.reload()
    again = ui_server.call(services.flows.save(doc))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this connection").click()
    expect(page.locator("#messages")).to_contain_text(
        f"Flow 'Tell sales' ({again.row.id}) uses connection 'team-slack': change it to use "
        "another connection, or delete it, first."
    )
    ui_server.call(services.flows.delete(again.row.id))
    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this connection").click()
    expect(page.locator("#messages")).to_contain_text("Connection “team-slack” deleted.")
    expect(page.get_by_text("No connection yet")).to_be_visible()


def test_connect_with_google_comes_back_to_the_connection(
    new_page: NewPage, ui_server: UIServer, fake_server: FakeServer
) -> None:
    granted = {
        "access_token": "at",
        "refresh_token": "rt-never-shown",
        "expires_in": 3600,
        "id_token": id_token({"email": "ada@example.com"}),
    }
    fake_server.on("POST", "/token", (200, granted))
    ui_server.set_up_owner()
    page = new_page(width=360)
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/connections/new")
    page.get_by_role("link", name="Google", exact=True).click()
    redirect_uri = ui_server.url + "/oauth/google/callback"
    expect(labelled(page, "Redirect URI to register with Google")).to_have_value(redirect_uri)
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)

    labelled(page, "Name").first.fill("backoffice-google")
    labelled(page, "OAuth client ID").first.fill("cid")
    labelled(page, "OAuth client secret").first.fill("cs")
    page.get_by_text("Other Google addresses").click()
    labelled(page, "Authorization URL").first.fill(fake_server.url + "auth")
    labelled(page, "Token URL").first.fill(fake_server.url + "token")
    page.get_by_role("button", name="Connect with Google").click()

    # The browser is at the (fake) consent screen; Google would send it back with a code.
    page.wait_for_url(fake_server.url + "auth?*")
    consent = parse_qs(urlsplit(page.url).query)
    assert consent["redirect_uri"] == [redirect_uri] and consent["client_id"] == ["cid"]
    page.goto(f"{redirect_uri}?state={consent['state'][0]}&code=c0de")

    expect(page.get_by_role("heading", level=1)).to_have_text("backoffice-google")
    expect(page.locator("#messages")).to_contain_text(
        "ada@example.com is connected as “backoffice-google”."
    )
    assert "rt-never-shown" not in page.content()
    [exchange] = fake_server.received("POST", "/token")
    assert exchange.form()["code"] == ["c0de"]
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)

    # Reconnecting keeps the settings (the consent goes to the same place), and a refusal
    # comes back here too.
    page.get_by_role("button", name="Reconnect with Google").click()
    page.wait_for_url(fake_server.url + "auth?*")
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    page.goto(f"{redirect_uri}?state={state}&error=access_denied")
    expect(page.locator("#messages")).to_contain_text(
        "Connecting failed: Google said: access_denied."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("backoffice-google")


def test_the_flow_editor_creates_a_connection_without_leaving(
    page: Page, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    ui_server.call(services.connections.create("slack", "old-slack", {"bot_token": "xoxb-old"}))
    doc = FlowDocument.model_validate(
        {
            "name": "Tell sales",
            "enabled": False,
            "steps": [
                {
                    "key": "post",
                    "action": "slack.send_message",
                    "connection": "old-slack",
                    "input": {"channel": "C1", "text": "A new investor"},
                }
            ],
        }
    )
    flow = ui_server.call(services.flows.save(doc))
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/flows/{flow.row.id}")
    page.get_by_role("button", name="New connection").click()
    dialog = page.get_by_role("dialog", name="New connection")
    expect(labelled(dialog, "Name")).to_be_focused()
    check_accessibility(page)

    # Refused: the form comes back in place, the problem next to its input.
    labelled(dialog, "Name").fill("team/slack")
    dialog.get_by_role("button", name="Save connection").click()
    expect(labelled(dialog, "Name")).to_have_accessible_description(
        re.compile("cannot contain “/”")
    )
    check_accessibility(page)
    labelled(dialog, "Name").fill("team-slack")
    labelled(dialog, "Bot token").fill(TOKEN)
    dialog.get_by_role("button", name="Save connection").click()

    # Saved: the dialog closes, the step uses the new connection, the page says so.
    expect(dialog).to_be_hidden()
    expect(page.locator("#f-steps-0-connection")).to_have_value("team-slack")
    expect(page.locator("#messages")).to_contain_text("Connection “team-slack” saved.")
    assert ui_server.call(services.connections.values("team-slack"))["bot_token"] == TOKEN


def test_the_inline_answer_is_an_event_and_the_messages(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    # A flow's first version sent a secret token through "api"; its current version does
    # not use it, so "api" could be renamed, and a new connection take its name.
    ui_server.call(services.connections.create("http", "api", {"base_url": "https://a.test/"}))
    call = {"key": "call", "action": "http.send_request"}
    first = FlowDocument.model_validate(
        {
            "name": "Orders",
            "steps": [
                {**call, "connection": "api", "input": {"url": "/o", "bearer_token": "t0ken"}}
            ],
        }
    )
    flow = ui_server.call(services.flows.save(first))
    second = FlowDocument.model_validate(
        {"name": "Orders", "steps": [{**call, "input": {"url": "https://b.test/"}}]}
    )
    ui_server.call(services.flows.save(second, flow.row.id))
    ui_server.call(services.connections.update("api", {}, name="old-api"))
    with sign_in_client(ui_server.url) as client:
        form = client.get("/connections/new", params={"app": "slack", "inline": "1"})
        assert "<html" not in form.text and 'id="connection-inline-form"' in form.text
        answer = client.post(
            "/connections/new?app=slack&inline=1",
            data={"name": "s", "values.bot_token": TOKEN, "_csrf_token": csrf_field(form.text)},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200 and "<form" not in answer.text
        assert json.loads(answer.headers["hx-trigger"]) == {
            "connection-created": {"name": "s", "app": "slack"}
        }
        assert 'id="messages"' in answer.text and 'hx-swap-oob="true"' in answer.text
        assert "Connection “s” saved." in answer.text
        # Under the old name: the message names the flow whose old version lost its token.
        form = client.get("/connections/new", params={"app": "http", "inline": "1"})
        answer = client.post(
            "/connections/new?app=http&inline=1",
            data={
                "name": "api",
                "values.base_url": "https://elsewhere.test/",
                "_csrf_token": csrf_field(form.text),
            },
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200
        assert "Older versions of flow “Orders” gave those steps secret inputs too" in " ".join(
            answer.text.split()
        )
        # Without a CSRF token, nothing is saved.
        forged = client.post("/connections/new?app=slack", data={"name": "x"})
        assert forged.status_code == 403
    stranger = httpx.get(ui_server.url + "/connections/new?app=slack&inline=1")
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/sign-in")


def test_an_app_accounts_registrations_are_compared_and_repaired(
    page: Page, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    with FakeParticeep("key-1", "secret-1") as particeep:
        values = {
            "api_key": "key-1",
            "api_secret": "secret-1",
            "environment": "custom",
            "base_url": particeep.url,
        }
        ui_server.call(services.connections.create("particeep", "particeep-prod", values))
        trigger = {"type": "particeep.event", "connection": "particeep-prod"}
        step = {"key": "s", "action": "http.send_request", "input": {"url": "http://127.0.0.1:9/"}}
        doc = FlowDocument.model_validate(
            {
                "name": "New transaction",
                "trigger": {**trigger, "event": "transaction_created"},
                "steps": [step],
            }
        )
        ui_server.call(services.flows.save(doc))
        [webhook] = particeep.webhooks("transaction_created")
        particeep.remove_webhook(webhook["id"])  # someone removed it in Particeep's back office

        sign_in(page, ui_server.url)
        page.goto(ui_server.url + "/connections/particeep-prod")
        registrations = page.get_by_role("table", name="What the app was told, per event")
        expect(registrations.get_by_role("row", name="transaction_created")).to_contain_text(
            "registered"
        )
        check_accessibility(page)

        page.get_by_role("button", name="Compare with Particeep").click()
        expect(page.locator("#messages")).to_contain_text(
            "Missing at Particeep: transaction_created."
        )
        assert particeep.webhooks("transaction_created") == []  # a comparison changes nothing
        page.get_by_role("button", name="Repair").click()
        expect(page.locator("#messages")).to_contain_text(
            "Registered at Particeep: transaction_created."
        )
        [again] = particeep.webhooks("transaction_created")
        assert again["url"] == webhook["url"]
        page.get_by_role("button", name="Compare with Particeep").click()
        expect(page.locator("#messages")).to_contain_text(
            "Particeep has what the flows need (events: transaction_created)."
        )
        check_accessibility(page)


def test_saving_a_connection_that_now_sends_elsewhere_names_the_flows_to_mend(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    view = ui_server.call(
        services.connections.create("http", "api", {"base_url": "https://api.example.com/"})
    )
    step = {
        "key": "call",
        "action": "http.send_request",
        "connection": "api",
        "input": {"url": "/orders", "bearer_token": "a-token-of-the-flow"},
    }
    doc = FlowDocument.model_validate({"name": "Orders", "enabled": False, "steps": [step]})
    ui_server.call(services.flows.save(doc))
    with sign_in_client(ui_server.url) as client:
        page = client.get(f"/connections/{view.row.id}")
        saved = client.post(
            f"/connections/{view.row.id}",
            data={
                "name": "api",
                "values.base_url": "https://elsewhere.example.net/",
                "_csrf_token": csrf_field(page.text),
            },
            follow_redirects=True,
        )
    assert saved.status_code == 200
    text = " ".join(saved.text.split())
    assert "Connection “api” saved." in text
    assert (
        "It now sends elsewhere, so the secret inputs of the steps that use it were dropped, as "
        "they would have been sent there: give them again (until then those steps fail) in "
        "flow “Orders”."
    ) in text


def test_the_flows_to_mend_fit_the_message_however_many() -> None:
    # Cut to 500 characters, the message lost its instruction and a name mid-word.
    flows = tuple(FlowUse(str(n), f"Relancer les investisseurs {n}" * 5, True) for n in range(12))
    view = cast(
        "ConnectionView", SimpleNamespace(secret_inputs_dropped=flows, older_versions_dropped=())
    )
    with use_locale("fr"):
        [_saved_flash, (kind, text)] = _saved(view, "ok")
    assert kind == "info" and len(text) <= 500
    assert text.startswith("Elle envoie désormais ailleurs")
    assert text.endswith(", 7 autres.")


def test_flows_where_only_older_versions_held_them_are_told_apart() -> None:
    # Their current definition has nothing to give again: their older runs replay with it.
    older = (FlowUse("f1", "Orders", True),)
    view = cast(
        "ConnectionView", SimpleNamespace(secret_inputs_dropped=(), older_versions_dropped=older)
    )
    [_saved_flash, (kind, text)] = _saved(view, "ok")
    assert kind == "info"
    assert text == (
        "Older versions of flow “Orders” gave those steps secret inputs too, dropped as well: its "
        "failed runs of those versions replay only with the current version now."
    )
