"""The runs pages over real HTTP: what each answer holds, what it refuses, what it never shows.

The browser tests (tests/web/ui/test_runs.py) drive the pages as a person does; these check the
answers themselves on SQLite and PostgreSQL: htmx partials, downloads, CSRF, secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import httpx
import pytest

from maillon.connectors.testing import FakeServer
from maillon.engine.flows import FlowDocument
from maillon.engine.intake import Delivery
from maillon.engine.redaction import MASK as SECRET_MASK
from maillon.engine.services import runs as runs_service
from maillon.engine.settings import Settings
from maillon.web.ui.runs import PAGE_SIZE
from tests.support.accounts import OWNER
from tests.support.flows import TRANSACTION, webhook
from tests.support.wait import wait_for
from tests.support.web import UIServer, csrf_field, served, sign_in_client


def test_the_runs_list_answers_htmx_with_its_results_only(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, token = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    [run_id] = ui_server.deliver(token)
    with sign_in_client(ui_server.url) as client:
        full = client.get("/runs", params={"flow": flow_id, "status": "held", "period": "1h"})
        assert full.status_code == 200
        assert full.headers["vary"] == "HX-Request"
        assert "<html" in full.text
        assert f'href="/runs/{run_id}"' in full.text
        assert f'<option value="{flow_id}" selected>Paused</option>' in full.text

        partial = client.get("/runs", params={"status": "held"}, headers={"HX-Request": "true"})
        assert "<html" not in partial.text
        assert partial.text.count('<section id="runs-results"') == 1
        assert f'href="/runs/{run_id}"' in partial.text

        # A page restored from htmx's history is a whole page again.
        restored = client.get(
            "/runs",
            params={"status": "held"},
            headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
        )
        assert "<html" in restored.text

        none = client.get("/runs", params={"status": "succeeded"})
        assert "No run matches these filters." in none.text


def test_wrong_filters_are_explained_and_ignored(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    _, token = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    [run_id] = ui_server.deliver(token)
    with sign_in_client(ui_server.url) as client:
        page = client.get("/runs", params={"status": "lost"})
        assert page.status_code == 200
        assert "There is no status “lost”: showing every status." in page.text
        assert f'href="/runs/{run_id}"' in page.text
        page = client.get("/runs", params={"period": "range", "from": "yesterday"})
        assert "From: enter a date and time such as 2026-11-29T14:00." in page.text
        assert f'href="/runs/{run_id}"' in page.text
        # The heading says only what the list applies.
        said = " ".join(page.text.split())
        assert "created between" not in said and "yesterday" not in said.split("</form>")[1]
        page = client.get("/runs", params={"period": "range", "from": "2026-11-29T14:00"})
        assert "created since 2026-11-29T14:00" in " ".join(page.text.split())
        page = client.get(
            "/runs",
            params={"period": "range", "from": "2026-11-29T14:00", "to": "2026-11-28T14:00"},
        )
        assert "The start of the range is after its end: no run is in it." in page.text


def test_an_unknown_run_is_a_not_found_page(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        page = client.get("/runs/01a2-unknown")
        assert page.status_code == 404
        assert "No run 01a2-unknown" in page.text
        assert client.get("/events/01a2-unknown/body.json").status_code == 404
        # The engine's words, in the reader's language.
        french = client.get("/runs/01a2-unknown", headers={"Accept-Language": "fr"})
        assert french.status_code == 404
        assert "Aucune exécution 01a2-unknown" in french.text


def test_the_event_downloads_as_it_was_stored(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    _, token = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    [run_id] = ui_server.deliver(token)
    event_id = ui_server.call(ui_server.runtime.services.runs.history(run_id))[0].event_id
    assert httpx.get(f"{ui_server.url}/events/{event_id}/body.json").status_code == 303
    with sign_in_client(ui_server.url) as client:
        answer = client.get(f"/events/{event_id}/body.json")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert (
            answer.headers["content-disposition"] == f'attachment; filename="event-{event_id}.json"'
        )
        assert answer.json() == {**TRANSACTION, "n": 0}


def test_replay_needs_the_form_token_and_a_failed_or_held_run(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, token = ui_server.http_flow("Paused", "http://127.0.0.1:9/", enabled=False)
    [run_id] = ui_server.deliver(token)
    with sign_in_client(ui_server.url) as client:
        forged = client.post(f"/runs/{run_id}/replay", data={"next": "/"})
        assert forged.status_code == 403
        field = csrf_field(client.get(f"/runs/{run_id}").text)
        replayed = client.post(
            f"/runs/{run_id}/replay", data={"_csrf_token": field, "next": "//evil.example/"}
        )
        assert (replayed.status_code, replayed.headers["location"]) == (303, f"/runs/{run_id}")
        page = client.get(f"/runs/{run_id}")
        assert "Replay queued" in page.text
        assert "Queued" in page.text
        # The run was held before: it was run alone (it had not run), and by whom.
        replays = page.text[page.text.index('id="run-replays"') :]
        assert "Run alone" in replays and f"by {OWNER[0]}" in replays and "Replayed" not in replays
        assert "Before it, the run was" in replays and "Held" in replays
        # Queued now: a second replay is refused, and says why.
        again = client.post(f"/runs/{run_id}/replay", data={"_csrf_token": field, "next": "/"})
        assert again.headers["location"] == "/"
        assert "Not replayed: run" in client.get("/").text
        released = client.post(
            f"/flows/{flow_id}/release", data={"_csrf_token": field, "next": f"/runs/{run_id}"}
        )
        assert released.headers["location"] == f"/runs/{run_id}"
        assert "0 held runs queued." in client.get(f"/runs/{run_id}").text


def test_a_run_page_never_shows_a_secret_input(
    working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/orders", (201, {"id": 7}))
    _, token = server.http_flow(
        "With a token", fake_server.url + "orders", bearer_token="s3cret-{{ event.currency }}"
    )
    [run_id] = server.deliver(token)
    server.wait_finished([run_id])
    [request] = fake_server.received("POST", "/orders")
    assert request.headers["authorization"] == "Bearer s3cret-EUR"
    with sign_in_client(server.url) as client:
        page = client.get(f"/runs/{run_id}").text
        api = client.get(f"/api/runs/{run_id}").json()
    assert "s3cret" not in page
    assert SECRET_MASK in page
    assert api["steps"][0]["input"]["bearer_token"] == SECRET_MASK


def test_deep_events_stored_before_the_depth_limit_break_no_page(ui_server: UIServer) -> None:
    # Bodies nested 300-900 levels deep were stored and made the run page answer 500.
    ui_server.set_up_owner()
    flow_id, token = ui_server.http_flow("Deep", "http://127.0.0.1:9/", json_body={"x": "1"})
    accepted = []
    for depth in (300, 900):
        text = "[" * depth + "]" * depth
        meta = {"method": "POST", "headers": {}, "query": {}}
        accepted.append(ui_server.runtime.writer.submit_sync(Delivery(token, [], text, meta)))
    with sign_in_client(ui_server.url) as client:
        pages = ["/", "/runs", f"/flows/{flow_id}"]
        pages += [f"/runs/{a.run_ids[0]}" for a in accepted]
        pages += [f"/events/{a.event_id}/body.json" for a in accepted]
        for page in pages:
            assert client.get(page).status_code == 200, page


def test_a_filtered_run_says_which_condition_did_not_hold_and_a_run_which_branches_ran(
    working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/big", (200, {"ok": True}))
    doc = FlowDocument.model_validate(
        {
            "name": "Big ones",
            "steps": [
                {
                    "key": "big_only",
                    "filter": {
                        "all": [{"value": "{{ event.amount }}", "op": "at_least", "to": 100000}]
                    },
                },
                {
                    "key": "route",
                    "paths": {
                        "branches": [
                            {
                                "name": "big",
                                "steps": [
                                    {
                                        "key": "post",
                                        "action": "http.send_request",
                                        "input": {"method": "POST", "url": fake_server.url + "big"},
                                    }
                                ],
                            }
                        ]
                    },
                },
            ],
        }
    )
    row = server.call(server.runtime.services.flows.save(doc)).row
    small, big = (
        server.call(webhook(server.runtime, row.hook_token, {**TRANSACTION, "amount": amount}))
        for amount in (500, 150000)
    )
    server.wait_finished([*small.run_ids, *big.run_ids])
    with sign_in_client(server.url) as client:
        page = client.get(f"/runs/{small.run_ids[0]}").text
        assert "Filtered" in page
        assert (
            "A filter’s conditions did not hold: step big_only: event.amount (500) is "
            "less than 100000" in page
        )
        assert "The run stopped here: event.amount (500) is less than 100000." in page
        page = client.get(f"/runs/{big.run_ids[0]}").text
        assert "Branches run: big" in page
        listed = client.get("/runs", params={"status": "filtered", "flow": row.id}).text
        assert f'href="/runs/{small.run_ids[0]}"' in listed
        assert f'href="/runs/{big.run_ids[0]}"' not in listed
        assert client.get("/").status_code == 200
    assert len(fake_server.received("POST", "/big")) == 1


def test_every_failed_run_of_a_flow_replays_from_its_list(working_ui_server: UIServer) -> None:
    server = working_ui_server
    server.set_up_owner()
    flow_id, token = server.http_flow("Down", "http://127.0.0.1:9/", attempts=1)
    run_ids = server.deliver(token, count=2)
    server.wait_finished(run_ids)
    with sign_in_client(server.url) as client:
        # A failed run's page points to the flow's other failed runs, to replay them all.
        page = client.get(f"/runs/{run_ids[0]}").text
        assert f'href="/runs?flow={flow_id}&amp;status=failed"' in page
        assert "This flow has 1 other failed run: the list of its failed runs replays" in page
        listed = client.get("/runs", params={"flow": flow_id, "status": "failed"}).text
        assert "Replay them all" in listed
        # Each failed run also replays from its row, back to the same list.
        assert f'action="/runs/{run_ids[0]}/replay"' in listed
        assert f'name="next" value="/runs?flow={flow_id}&amp;status=failed"' in listed
        # Only where the list is one flow's failed runs.
        assert "Replay them all" not in client.get("/runs", params={"status": "failed"}).text
        assert "Replay them all" not in client.get("/runs", params={"flow": flow_id}).text
        forged = client.post("/runs/replay-failed", data={"flow": flow_id, "status": "failed"})
        assert forged.status_code == 403
        replayed = client.post(
            "/runs/replay-failed",
            data={"flow": flow_id, "status": "failed", "_csrf_token": csrf_field(listed)},
        )
        # Then the flow's runs, whatever their status: the replayed ones are no longer failed.
        back = f"/runs?flow={flow_id}"
        assert (replayed.status_code, replayed.headers["location"]) == (303, back)
        assert "2 failed runs queued again" in client.get(back).text
        # They fail again; a fix is published: the list offers to replay them with it.
        server.wait_finished(run_ids)
        server.http_flow("Down", "http://127.0.0.1:9/fixed", attempts=1, flow_id=flow_id)
        listed = client.get("/runs", params={"flow": flow_id, "status": "failed"}).text
        assert "Replay them all with the current version (2)" in listed
        assert "Replay them all, each with the version it ran" in listed
        client.post(
            "/runs/replay-failed",
            data={
                "flow": flow_id,
                "status": "failed",
                "version": "current",
                "_csrf_token": csrf_field(listed),
            },
        )
        server.wait_finished(run_ids)
        for run_id in run_ids:
            run, steps, _ = server.call(server.runtime.services.runs.history(run_id))
            assert run.flow_version == 2 and "/fixed" in (steps[0].input or "")
        quiet, _ = server.http_flow("Quiet", "http://127.0.0.1:9/")
        none = client.post(
            "/runs/replay-failed",
            data={"flow": quiet, "status": "failed", "_csrf_token": csrf_field(listed)},
            follow_redirects=True,
        )
        assert "No failed run to replay: none is left." in none.text
        gone = client.post(
            "/runs/replay-failed",
            data={"flow": "no-such-flow", "_csrf_token": csrf_field(listed)},
            follow_redirects=True,
        )
        assert "Not replayed: no flow no-such-flow." in gone.text
    for run_id in run_ids:
        assert len(server.call(server.runtime.services.runs.detail(run_id)).replays) == 2
    # A replayed run's duration leaves out the time it waited to be replayed.
    with sign_in_client(server.url) as client:
        page = client.get(f"/runs/{run_ids[0]}").text
    assert "Duration since the last replay" in page


def test_a_run_waiting_to_retry_says_so_and_when(
    make_settings: Callable[..., Settings], fake_server: FakeServer
) -> None:
    fake_server.on("POST", "/flaky", (503, {"error": "busy"}))
    patient = partial(make_settings, retry_base_delay=60.0, retry_max_delay=60.0)
    with served(patient, workers=True) as server:
        server.set_up_owner()
        _, token = server.http_flow("Flaky", fake_server.url + "flaky", attempts=5)
        [run_id] = server.deliver(token)
        runs = server.runtime.services.runs
        wait_for(
            lambda: any(s.status == "retrying" for s in server.call(runs.history(run_id))[1]),
            what="the step to fail once",
        )
        with sign_in_client(server.url) as client:
            page = client.get(f"/runs/{run_id}").text
            listed = client.get("/runs").text
            retrying = client.get("/runs?status=retrying").text
            waiting = client.get("/runs?status=waiting").text
    heading = page.split('id="summary-heading"', 1)[1].split("</h2>", 1)[0]
    assert "Retrying" in heading and "Queued" not in heading
    assert "Next attempt: " in page
    # The list says so too, from the run alone, and filters by it.
    assert "status-retrying" in listed and "status-queued" not in listed
    assert f"/runs/{run_id}" in retrying and f"/runs/{run_id}" not in waiting
    assert '<option value="retrying" selected>Retrying</option>' in retrying


def test_a_run_parked_by_a_delay_says_until_when_and_is_no_error(
    working_ui_server: UIServer,
) -> None:
    server = working_ui_server
    server.set_up_owner()
    run_id = server.parked_run("1h")
    with sign_in_client(server.url) as client:
        page = client.get(f"/runs/{run_id}").text
        listed = client.get("/runs").text
    heading = page.split('id="summary-heading"', 1)[1].split("</h2>", 1)[0]
    assert "Waiting" in heading and "Queued" not in heading
    assert "A delay step holds it until " in page and "Waits until " in page
    assert "status-waiting" in listed and "status-queued" not in listed
    assert '<span class="when">until ' in listed
    step = page.split('id="run-steps"', 1)[1]
    assert "Finished" not in step and "Duration" not in step
    # Nothing in the list's Error column, nor on the page: waiting is no error.
    assert "waiting until" not in listed and "problem-box" not in page


def test_deleting_a_flow_says_how_many_of_its_runs_were_cancelled(
    working_ui_server: UIServer,
) -> None:
    server = working_ui_server
    server.set_up_owner()
    run_id = server.parked_run("1h")
    [flow_id] = server.call(server.runtime.services.flows.names())
    with sign_in_client(server.url) as client:
        field = csrf_field(client.get(f"/flows/{flow_id}").text)
        deleted = client.post(f"/flows/{flow_id}/delete", data={"_csrf_token": field})
        assert deleted.status_code == 303
        listed = client.get(deleted.headers["location"]).text
        page = client.get(f"/runs/{run_id}").text
    assert "is deleted; its runs stay in the history. 1 run that had not run yet is" in listed
    assert "cancelled: its flow was deleted" in page
    # Its flow is gone: no replay is offered, nor promised.
    assert "/replay" not in page and "A replay brings it back" not in page


def test_replay_them_all_offers_the_current_version_for_runs_beyond_the_page(
    working_ui_server: UIServer,
) -> None:
    server = working_ui_server
    server.set_up_owner()
    flow_id, token = server.http_flow("Down", "http://127.0.0.1:9/", attempts=1)
    old = server.deliver(token, count=2)
    server.wait_finished(old)
    server.http_flow("Down", "http://127.0.0.1:9/v2", attempts=1, flow_id=flow_id)
    new = server.deliver(token, count=PAGE_SIZE)
    server.wait_finished(new)
    with sign_in_client(server.url) as client:
        listed = client.get("/runs", params={"flow": flow_id, "status": "failed"}).text
    # The page shows version 2's runs only; the two of version 1 are on the next one.
    assert "Replay them all with the current version (2)" in listed
    pager = listed.split('aria-label="Pages of runs"', 1)[1]
    assert f'href="/runs?flow={flow_id}&amp;status=failed&amp;before=' in pager


def test_a_step_tried_several_times_shows_its_last_attempts_times(
    working_ui_server: UIServer, fake_server: FakeServer
) -> None:
    server = working_ui_server
    server.set_up_owner()
    fake_server.on("POST", "/flaky", (503, {"error": "busy"}))
    _, token = server.http_flow("Flaky", fake_server.url + "flaky", attempts=2)
    run_ids = server.deliver(token)
    server.wait_finished(run_ids)
    with sign_in_client(server.url) as client:
        page = " ".join(client.get(f"/runs/{run_ids[0]}").text.split())
    assert "Attempts: 2" in page and "Last attempt started " in page
    assert "Last attempt took " in page and "Duration " not in page.split("run-steps", 1)[1]


def test_a_paused_flows_runs_say_it_is_paused_not_off(working_ui_server: UIServer) -> None:
    server = working_ui_server
    server.set_up_owner()
    flow_id, token = server.http_flow("Down", "http://127.0.0.1:9/", attempts=1, pause_after=1)
    [failed] = server.deliver(token)
    server.wait_finished([failed])
    flows = server.runtime.services.flows
    wait_for(lambda: server.call(flows.get(flow_id)).state == "paused", what="the pause")
    [held] = server.deliver(token)
    with sign_in_client(server.url) as client:
        failed_page = " ".join(client.get(f"/runs/{failed}").text.split())
        held_page = " ".join(client.get(f"/runs/{held}").text.split())
    assert "Down</a> (paused)" in failed_page
    assert "Down</a> (paused)" in held_page
    assert "This run is held because Maillon paused its flow" in held_page
    assert "even though the flow is paused." in held_page
    for page in (failed_page, held_page):
        assert re.search(r"\boff\b", page.split("<main", 1)[1]) is None


def test_a_run_held_when_run_by_hand_says_so_once_its_flow_is_on(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    doc = FlowDocument.model_validate(
        {
            "name": "Report",
            "enabled": False,
            # Once a year: the schedule itself does not tick during the test.
            "trigger": {"type": "schedule", "cron": "0 9 1 1 *"},
            "steps": [{"key": "notify", "action": "http.send_request", "input": {"url": "x"}}],
        }
    )
    flow_id = ui_server.call(services.flows.save(doc)).row.id
    started = ui_server.call(services.schedules.run_now(flow_id))
    assert started.held
    ui_server.call(services.flows.set_enabled(flow_id, True))
    with sign_in_client(ui_server.url) as client:
        page = " ".join(client.get(f"/runs/{started.run_id}").text.split())
    assert "held because its flow was off when it was run by hand. The flow is on now" in page
    assert "when the event arrived" not in page


def test_a_held_run_is_run_alone_and_said_so_and_a_flows_only_one_is_released(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    _, token = ui_server.http_flow("Off", "http://127.0.0.1:9/", enabled=False)
    first, second = ui_server.deliver(token, 2)
    with sign_in_client(ui_server.url) as client:
        page = client.get(f"/runs/{first}").text
        assert "Run only this one" in page and "Release all 2 held runs of this flow" in page
        client.post(
            f"/runs/{first}/replay",
            data={"_csrf_token": csrf_field(page), "held": "1", "next": f"/runs/{first}"},
        )
        said = client.get(f"/runs/{first}").text
        assert "Run queued: it runs now, alone; the flow’s other held runs stay held." in said
        assert "Run alone " in said and "Replayed" not in said
        # The flow's only held run now: its release does what running it alone would.
        last = client.get(f"/runs/{second}").text
        assert "Release the held run of this flow" in last and "Run only this one" not in last


def test_runs_are_searched_by_what_their_event_says_a_window_at_a_time(
    ui_server: UIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_service, "SEARCH_WINDOW", 2)
    ui_server.set_up_owner()
    _, token = ui_server.http_flow("Off", "http://127.0.0.1:9/", enabled=False)

    def deliver(investor: str) -> str:
        body = {**TRANSACTION, "investor": {"email": investor}}
        return ui_server.call(webhook(ui_server.runtime, token, body)).run_ids[0]

    ada = deliver("ada@example.com")
    deliver("bob@example.com")
    deliver("bob@example.com")
    with sign_in_client(ui_server.url) as client:
        first = client.get("/runs", params={"q": "ADA@example"}).text
        # The two newest runs were read: no match there, and the way further back.
        assert "No run matches these filters." in first
        assert "The search read the 2 newest runs of these filters from here" in first
        further = re.search(r'<a href="([^"]+)"[^>]*>Search further back</a>', first)
        assert further is not None
        back = client.get(further.group(1).replace("&amp;", "&")).text
        assert f'href="/runs/{ada}"' in back
        assert "whose event or error contains “ADA@example”" in back
        assert "Search further back" not in back
        # Replaying every failed run acts on the filters, not on a search: not offered.
        assert (
            "Replay them all"
            not in client.get("/runs", params={"q": "bob", "status": "failed"}).text
        )
