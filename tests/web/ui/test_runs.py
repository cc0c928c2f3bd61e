"""The runs pages and the dashboard in a real browser, over runs the served app really ran.

Flows send one HTTP request to a fake server, which answers what each test scripts: 200 for a
run that succeeds, 500 for one that fails (the step may try once). Flows and deliveries are set
up through the engine; what a person does (filter, page, open a run, replay) goes through the
browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from maillon.connectors.testing import FakeServer
from maillon.web.ui.runs import PAGE_SIZE
from tests.support.accounts import OWNER
from tests.support.browser import (
    NewPage,
    check_accessibility,
    has_no_horizontal_scroll,
    screenshot,
    sign_in,
)
from tests.support.web import UIServer

pytestmark = pytest.mark.browser


def test_a_failed_run_is_read_then_replayed_until_it_succeeds(
    page: Page, working_ui_server: UIServer, fake_server: FakeServer, tmp_path: Path
) -> None:
    server = working_ui_server
    server.set_up_owner()
    # The first request meets a server error, the next one succeeds; the step tries once.
    fake_server.on("POST", "/orders", (500, {"error": "database unavailable"}), (200, {"ok": 1}))
    _, token = server.http_flow("Orders to the back office", fake_server.url + "orders", attempts=1)
    [run_id] = server.deliver(token)

    sign_in(page, server.url)
    page.goto(f"{server.url}/runs/{run_id}")
    summary = page.locator("#run-summary")
    # The page follows the run until the worker has failed it.
    expect(summary.get_by_role("heading", level=2)).to_have_text(re.compile("Failed"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Run of “Orders to the back office”")
    expect(summary.locator(".problem-box")).to_contain_text(
        re.compile(r"step notify: POST http://127\.0\.0\.1:\d+/orders .*500.*gave up after 1")
    )
    failing = page.locator(".run-step-failing")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text("The run stopped at this step.")
    expect(failing.locator("dl.run-step-details")).to_contain_text("Answer status")
    expect(failing.locator("dl.run-step-details")).to_contain_text("500")
    expect(failing.locator("dl.run-step-details")).to_contain_text("database unavailable")
    # The rendered input is open on the failing step; the event is one click away.
    expect(failing.get_by_label("Input, as rendered of notify")).to_contain_text('"amount": 150000')
    page.get_by_text("The event's JSON").click()
    expect(page.get_by_label("The event's JSON")).to_contain_text('"currency": "EUR"')
    expect(page.get_by_text("Replay resumes from step “notify”")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "run", tmp_path, full_page=True)

    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("Replay queued")
    expect(summary.get_by_role("heading", level=2)).to_have_text(re.compile("Succeeded"))
    expect(page.locator("#run-steps .run-step")).to_contain_text("Succeeded")
    expect(page.locator("#run-steps .run-step-failing")).to_have_count(0)
    expect(page.get_by_role("button", name="Replay")).to_have_count(0)
    assert len(fake_server.received("POST", "/orders")) == 2
    # The failure the replay replaced is kept below, one click away.
    page.reload()
    replays = page.locator("#run-replays")
    expect(replays.get_by_role("heading", level=2)).to_have_text("Replayed once")
    expect(replays).to_contain_text(f"by {OWNER[0]}")
    expect(replays.locator(".run-step-error").first).to_contain_text("gave up after 1")
    replays.get_by_text("The step it replaced, as it was").click()
    expect(replays.locator(".run-step-failing dl.run-step-details")).to_contain_text(
        "database unavailable"
    )
    check_accessibility(page)
    assert has_no_horizontal_scroll(page)
    # The list marks the run as replayed, a succeeded run that had failed.
    page.goto(server.url + "/runs")
    row = page.locator("#runs-results tbody tr")
    expect(row).to_contain_text("Succeeded")
    row.get_by_role("link", name="replayed once").click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}#run-replays$"))
    check_accessibility(page)


def test_the_runs_list_filters_by_status_and_flow_and_pages_back(
    page: Page, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/ok", (200, {}))
    fake_server.on("POST", "/down", (500, {"error": "down"}))
    _, good = server.http_flow("Good flow", fake_server.url + "ok")
    _, bad = server.http_flow("Bad flow", fake_server.url + "down", attempts=1)
    _, paused = server.http_flow("Paused flow", fake_server.url + "ok", enabled=False)
    finished = server.deliver(good, 2) + server.deliver(bad, 2)
    held = server.deliver(paused, PAGE_SIZE + 3)
    server.wait_finished(finished)

    sign_in(page, server.url)
    page.goto(server.url + "/runs")
    rows = page.locator("#runs-results tbody tr")
    expect(rows).to_have_count(PAGE_SIZE)
    check_accessibility(page)

    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"/runs\?.*status=failed"))
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect(row).to_contain_text("Failed")
        expect(row).to_contain_text("Bad flow")
        expect(row).to_contain_text("gave up after 1 attempt)")
    check_accessibility(page)
    # One flow's failed runs replay all at once (after the app it calls was down).
    replay_all = page.get_by_role("button", name="Replay them all")
    expect(replay_all).to_have_count(0)
    page.get_by_label("Flow", exact=True).select_option(label="Bad flow")
    expect(page.locator("caption")).to_contain_text("of “Bad flow”")
    expect(replay_all).to_be_visible()
    check_accessibility(page)
    page.once("dialog", lambda dialog: dialog.accept())
    replay_all.click()
    expect(page.get_by_role("status")).to_contain_text("2 failed runs queued again")
    # The flow's runs follow, the replayed ones among them.
    expect(page).to_have_url(re.compile(r"/runs\?flow=[^&]*$"))

    page.get_by_label("Status").select_option("")
    page.get_by_label("Flow", exact=True).select_option(label="Paused flow")
    expect(rows).to_have_count(PAGE_SIZE)
    expect(page.locator("caption")).to_contain_text("of “Paused flow”")
    # Each held (or failed) run replays from its row.
    replay_one = rows.get_by_role("button", name=re.compile("^Replay the run of Paused flow, "))
    expect(replay_one).to_have_count(PAGE_SIZE)
    # Newest first: by id, which orders runs by their creation (the millisecond, then chance).
    newest_first = [f"/runs/{run_id}" for run_id in sorted(held, reverse=True)]
    first_page = rows.locator("a").evaluate_all("links => links.map(a => a.pathname)")
    assert first_page == newest_first[:PAGE_SIZE]
    page.get_by_role("link", name="Older").click()
    expect(page).to_have_url(re.compile(r"before="))
    expect(rows).to_have_count(3)
    older = rows.locator("a").evaluate_all("links => links.map(a => a.pathname)")
    assert older == newest_first[PAGE_SIZE:]
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
    check_accessibility(page)

    # The filtered, paged list is a URL: reloading it shows the same runs, the form filled in.
    page.reload()
    expect(rows).to_have_count(3)
    expect(page.get_by_label("Flow", exact=True)).to_have_value(
        re.compile(r"^[0-9a-f-]{36}$")  # the paused flow's id
    )
    page.get_by_role("link", name="Newest").click()
    expect(rows).to_have_count(PAGE_SIZE)

    # A time range that ends before these runs finds none.
    page.get_by_label("From (UTC)").fill("2020-01-01T00:00")
    page.get_by_label("To (UTC)").fill("2020-01-02T00:00")
    expect(page.get_by_label("Created")).to_have_value("range")
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.get_by_label("Created").select_option("1h")
    expect(rows).to_have_count(PAGE_SIZE)


def test_the_dashboard_shows_the_runs_of_the_last_day(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer, tmp_path: Path
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/ok", (200, {}))
    fake_server.on("POST", "/down", (500, {"error": "down"}))
    _, good = server.http_flow("Good flow", fake_server.url + "ok")
    bad_id, bad = server.http_flow("Bad flow", fake_server.url + "down", attempts=1)
    _, paused = server.http_flow("Paused flow", fake_server.url + "ok", enabled=False)
    failed = server.deliver(bad, 2)
    server.wait_finished(server.deliver(good, 3) + failed)
    server.deliver(paused)

    page = new_page()
    sign_in(page, server.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    activity = page.locator("section.activity")
    expect(activity.locator(".totals")).to_contain_text("3 ✓ succeeded")
    expect(activity.locator(".totals")).to_contain_text("2 ✗ failed")
    expect(activity.locator("svg.chart g.bar")).to_have_count(24)
    expect(activity.locator("svg.chart rect.ok")).to_have_count(1)
    screenshot(page, "dashboard", tmp_path, full_page=True)
    # The table alternative has the same figures, hour by hour.
    activity.get_by_text("The same figures as a table").click()
    table = activity.locator(".chart-table tbody tr")
    expect(table).to_have_count(24)
    sums = table.evaluate_all(
        "rows => [1, 2].map(i => rows.reduce((n, row) => n + Number(row.cells[i].textContent), 0))"
    )
    assert sums == [3, 2]
    expect(page.locator("dl.figures")).to_contain_text("Held")
    expect(page.get_by_role("link", name="1", exact=True)).to_have_attribute(
        "href", "/runs?status=held"
    )
    expect(page.get_by_role("link", name="Bad flow", exact=True)).to_have_attribute(
        "href", f"/runs?flow={bad_id}&status=failed"
    )
    failures = page.locator("ul.failures li")
    expect(failures).to_have_count(2)
    check_accessibility(page)

    # Replay from the dashboard: the run leaves the latest failures (and fails again).
    fake_server.on("POST", "/down", (200, {}))
    failures.first.get_by_role("button", name=re.compile("Replay")).click()
    expect(page.get_by_role("status")).to_contain_text("Replay queued")
    expect(failures).to_have_count(1)
    server.wait_finished(failed)

    phone = new_page(width=360, height=740)
    sign_in(phone, server.url)
    assert has_no_horizontal_scroll(phone)
    check_accessibility(phone)


def test_a_new_install_says_what_to_do_first(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    expect(page.get_by_role("link", name="Create your first flow")).to_have_attribute(
        "href", "/flows/new"
    )
    expect(page.locator("svg.chart g.bar")).to_have_count(24)
    expect(page.locator("svg.chart g.bar rect")).to_have_count(0)
    expect(page.locator("#chart-desc")).to_have_text("No run finished in the last 24 hours.")
    check_accessibility(page)
    page.goto(ui_server.url + "/runs")
    expect(page.get_by_role("link", name="Create a flow")).to_have_attribute("href", "/flows/new")
    check_accessibility(page)


def test_a_held_run_says_why_and_releases_its_flow(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/ok", (200, {}))
    _, paused = server.http_flow("Paused flow", fake_server.url + "ok", enabled=False)
    first, second = server.deliver(paused, 2)

    page = new_page(width=360, height=740)
    sign_in(page, server.url)
    page.goto(f"{server.url}/runs/{first}")
    expect(page.locator(".held-box")).to_contain_text("held because its flow is off")
    # Beside the release of them all, this one alone: not called a replay, it has not run.
    expect(page.get_by_role("button", name="Run only this one")).to_be_visible()
    expect(page.locator("#replay-hint")).to_contain_text(
        "Runs this held run alone, now; the flow’s other held runs stay held."
    )
    expect(page.get_by_role("button", name="Replay", exact=True)).to_have_count(0)
    assert has_no_horizontal_scroll(page)
    check_accessibility(page)
    page.get_by_role("button", name="Release all 2 held runs of this flow").click()
    expect(page).to_have_url(f"{server.url}/runs/{first}")
    expect(page.get_by_role("status")).to_contain_text("2 held runs queued.")
    expect(page.locator("#run-summary h2")).to_have_text(re.compile("Succeeded"))
    server.wait_finished([second])
    assert len(fake_server.received("POST", "/ok")) == 2


def test_a_run_waiting_at_a_delay_is_cancelled(
    new_page: NewPage, working_ui_server: UIServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    run_id = server.parked_run("1d")

    page = new_page()
    sign_in(page, server.url)
    page.goto(f"{server.url}/runs/{run_id}")
    summary = page.locator("#run-summary")
    expect(summary.get_by_role("heading", level=2)).to_have_text(re.compile("Waiting"))
    check_accessibility(page)
    # Asked first: what a run did cannot be undone, only replayed.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel the run").click()
    expect(summary.get_by_role("heading", level=2)).to_have_text(re.compile("Waiting"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel the run").click()
    expect(page.get_by_role("status")).to_contain_text("Run cancelled")
    expect(summary.get_by_role("heading", level=2)).to_have_text(re.compile("Cancelled"))
    expect(summary.locator(".held-box")).to_contain_text(f"cancelled by {OWNER[0]}")
    expect(page.locator("#step-wait h3")).to_contain_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel the run")).to_have_count(0)
    expect(page.get_by_role("button", name="Replay")).to_be_visible()
    check_accessibility(page)
    page.goto(f"{server.url}/runs?status=cancelled")
    expect(page.locator("#runs-results tbody tr")).to_contain_text("Cancelled")


def test_pages_fit_a_phone(
    new_page: NewPage, working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/x", (500, {"error": "a long answer " * 40}))
    _, bad = server.http_flow("A rather long name for a flow", fake_server.url + "x", attempts=1)
    [run_id] = server.deliver(bad)
    server.wait_finished([run_id])

    page = new_page(width=360, height=740)
    sign_in(page, server.url)
    for path in ["/runs", f"/runs/{run_id}"]:
        page.goto(server.url + path)
        assert has_no_horizontal_scroll(page), path
        check_accessibility(page)
