"""Drafts, publishing, history, diff and restore in a real browser; a run's version and its
two replays."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from tests.support.accounts import OWNER
from tests.support.browser import NewPage, check_accessibility, sign_in
from tests.support.wait import wait_for
from tests.support.web import UIServer

pytestmark = pytest.mark.browser


def test_a_draft_is_published_compared_and_an_old_version_restored(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    ui_server = working_ui_server
    ui_server.set_up_owner()
    fake_server.on("POST", "/v1", (200, {"ok": True}))
    fake_server.on("POST", "/v2", (200, {"ok": True}))
    flow_id, token = ui_server.http_flow("Versioned", fake_server.url + "v1")
    services = ui_server.runtime.services
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/flows/{flow_id}")
    expect(page.get_by_text("Published: version 1 is live.")).to_be_visible()

    # Saving keeps the change as a draft: the live flow still posts to /v1.
    url = page.get_by_role("textbox", name="URL (required)")
    url.fill(fake_server.url + "v2")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").filter(has_text="Draft saved.")).to_be_visible()
    expect(page.get_by_text("Unpublished changes")).to_be_visible()
    check_accessibility(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export the draft as YAML").click()
    assert f"url: {fake_server.url}v2" in Path(download.value.path()).read_text()
    assert httpx.post(f"{ui_server.url}/hooks/{token}", json={"amount": 1}).status_code == 200
    fake_server.wait_for("POST", "/v1")
    assert ui_server.call(services.flows.get(flow_id)).row.version == 1

    # The changes, as a table, before publishing them with a note.
    page.get_by_role("link", name="See the changes").click()
    row = page.get_by_role("row", name="steps[notify].input.url")
    expect(row).to_contain_text("Changed")
    expect(row).to_contain_text("v2")
    check_accessibility(page)
    page.get_by_role("link", name="Back to the editor").click()
    page.get_by_label("Note for the next version (optional)").fill("post to v2")
    page.get_by_role("button", name="Publish").click()
    expect(
        page.get_by_role("status").filter(has_text="Published: version 2 is live.")
    ).to_be_visible()
    assert httpx.post(f"{ui_server.url}/hooks/{token}", json={"amount": 2}).status_code == 200
    fake_server.wait_for("POST", "/v2")

    # The history names who published what and why; version 1 comes back as the draft.
    page.get_by_role("link", name="History", exact=True).first.click()
    versions = page.get_by_role("table").last
    expect(versions.get_by_role("row").nth(1)).to_contain_text("post to v2")
    expect(versions.get_by_role("row").nth(1)).to_contain_text("(live)")
    expect(versions.get_by_role("row").nth(1)).to_contain_text(OWNER[0])
    check_accessibility(page)
    page.get_by_role("button", name="Restore as draft: version 1").click()
    expect(
        page.get_by_role("status").filter(has_text="Version 1 is the draft again")
    ).to_be_visible()
    expect(url).to_have_value(fake_server.url + "v1")
    expect(page.get_by_text("Unpublished changes")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Discard").click()
    expect(url).to_have_value(fake_server.url + "v2")
    expect(page.get_by_text("Published: version 2 is live.")).to_be_visible()


def test_a_run_shows_its_version_and_replays_with_either(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    ui_server = working_ui_server
    ui_server.set_up_owner()
    fake_server.on("POST", "/old", (400, {"error": "gone"}))
    fake_server.on("POST", "/new", (200, {"ok": True}))
    flow_id, token = ui_server.http_flow("Replayed", fake_server.url + "old", attempts=1)
    accepted = httpx.post(f"{ui_server.url}/hooks/{token}", json={"amount": 3}).json()
    [run_id] = accepted["run_ids"]
    services = ui_server.runtime.services

    def status() -> str:
        return str(ui_server.call(services.runs.history(run_id))[0].status)

    wait_for(lambda: status() == "failed", what="the run to fail")
    # The fix, published (as PUT /api/flows/{id} does): version 2.
    document = ui_server.call(services.flows.get(flow_id)).document
    document["steps"][0]["input"]["url"] = fake_server.url + "new"
    ui_server.call(services.flows.save(FlowDocument.model_validate(document), flow_id))
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/runs/{run_id}")
    expect(page.get_by_role("definition").filter(has_text="Version 1")).to_contain_text(
        "(the published version is now 2)"
    )
    expect(page.get_by_role("button", name="Replay with version 1, the one it ran")).to_be_visible()
    check_accessibility(page)
    page.get_by_role("button", name="Replay with the current version (2)").click()
    expect(page.get_by_role("status").filter(has_text="Replay queued")).to_be_visible()
    fake_server.wait_for("POST", "/new")
    run = ui_server.call(ui_server.runtime.services.runs.history(run_id))[0]
    assert run.flow_version == 2
