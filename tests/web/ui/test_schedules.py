"""A flow put on a schedule, and a digest set up and released, in the editor in a real browser."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from maillon.engine.flows import FlowDocument
from tests.support.browser import NewPage, check_accessibility, sign_in
from tests.support.flows import TRANSACTION
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

STEP = {
    "key": "notify",
    "action": "http.send_request",
    "input": {"method": "POST", "url": "http://127.0.0.1:9/report"},
}


def _flow(server: UIServer, **extra: object) -> str:
    doc = FlowDocument.model_validate({"name": "Report", "steps": [STEP], **extra})
    return server.call(server.runtime.services.flows.save(doc)).row.id


def test_a_flow_is_put_on_a_schedule_mistakes_shown_at_their_inputs(
    new_page: NewPage, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    flow_id = _flow(ui_server, enabled=False)
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(f"{ui_server.url}/flows/{flow_id}")

    page.get_by_label("What starts the flow").select_option("schedule")
    cron = page.get_by_label("Cron expression")
    expect(cron).to_be_visible()
    cron.fill("0 25 * * 1")
    page.get_by_label("Time zone").fill("Europe/Pari")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Not saved: 2 problems")).to_be_visible()
    expect(page.locator("#f-schedule-cron-problem")).to_contain_text(
        "the last value (25) is higher than the maximum value (23)"
    )
    expect(page.locator("#f-schedule-timezone-problem")).to_contain_text("Unknown time zone")
    assert "f-schedule-cron-problem" in (cron.get_attribute("aria-describedby") or "")
    check_accessibility(page)

    cron.fill("0 9 * * 1")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("group", name="When Maillon was stopped at a tick").get_by_label(
        "Skip missed ticks"
    ).check()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
    expect(page.locator("#next-tick")).to_contain_text("No tick while the flow is off.")
    page.get_by_role("button", name="Switch on").click()
    # Monday 9:00 in the schedule's own time zone, named, whatever the reader's (UTC).
    expect(page.locator("#next-tick")).to_contain_text(
        re.compile(
            r"Schedule: every Monday at 9:00\sAM \(Europe/Paris\)\. "
            r"Next tick: .*, 9:00\sAM \(Europe/Paris\)\."
        )
    )
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/runs/"))
    expect(
        page.get_by_text("Run started by hand; the schedule’s ticks go on as planned.")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Run of “Report”")).to_be_visible()
    expect(page.get_by_text("Run by hand, by ")).to_be_visible()
    saved = ui_server.call(ui_server.runtime.services.flows.get(flow_id)).spec.trigger
    assert saved.model_dump() == {
        "type": "schedule",
        "cron": "0 9 * * 1",
        "every": None,
        "timezone": "Europe/Paris",
        "missed": "skip",
    }
    page.goto(f"{ui_server.url}/flows")
    expect(
        page.get_by_text(re.compile(r"Schedule: every Monday at 9:00\sAM \(Europe/Paris\)"))
    ).to_be_visible()

    # A schedule changed in the draft: the next tick shown is still the published one's.
    page.goto(f"{ui_server.url}/flows/{flow_id}")
    page.get_by_label("Cron expression").fill("0 10 * * 1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#next-tick")).to_contain_text(
        "(the published version’s schedule: the one above takes over when you publish)"
    )


def test_a_digest_is_set_up_and_released_by_hand(
    new_page: NewPage, working_ui_server: UIServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    flow_id = _flow(server)
    page = new_page()
    sign_in(page, server.url)
    page.goto(f"{server.url}/flows/{flow_id}")

    page.get_by_label("Collect the events and run the steps once, on all of them").check()
    name = page.get_by_label("Digest name")
    expect(name).to_be_visible()
    name.fill("daily")
    page.get_by_label("What to keep of each event").fill('{"amount": "{{ event.amount }}"}')
    page.get_by_label("Release once this many events wait").fill("50")
    page.get_by_role("group", name="Release on a schedule").get_by_label("Cron expression").fill(
        "0 18 * * *"
    )
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
    expect(page.locator("#digest-state")).to_contain_text("0 events waiting; next release")
    check_accessibility(page)

    token = server.call(server.runtime.services.flows.get(flow_id)).row.hook_token
    collected = server.deliver(token, 2)
    server.wait_finished(collected)
    page.goto(f"{server.url}/runs/{collected[0]}")
    expect(page.locator("#run-steps")).to_contain_text(
        "The event was added to the digest “daily”: the flow’s steps run on all its events "
        "when it is released."
    )
    page.goto(f"{server.url}/flows/{flow_id}")
    expect(page.locator("#digest-state")).to_contain_text("2 events waiting")
    page.get_by_role("button", name="Release now").click()
    expect(page.get_by_text("Digest released: 2 items, one run queued.")).to_be_visible()
    expect(page.locator("#digest-state")).to_contain_text("0 events waiting")
    digest = server.call(server.runtime.services.flows.get(flow_id)).spec.digest
    assert digest is not None and digest.item == {"amount": "{{ event.amount }}"}
    assert digest.release.count == 50 and digest.release.cron == "0 18 * * *"
    with server.runtime.db.connect() as conn:
        [body] = conn.execute(
            text("SELECT body FROM events WHERE source = 'digest' AND flow_id = :f"), {"f": flow_id}
        ).scalars()
    assert json.loads(body)["items"] == [{"amount": TRANSACTION["amount"]}] * 2
