"""Runs listed for people: newest first, with their flows' names, found by flow id or name."""

from __future__ import annotations

import time

import pytest

from maillon.engine.errors import Invalid, NotFound
from maillon.engine.models import RunRow, RunStatus
from maillon.engine.runtime import Runtime
from maillon.engine.services import runs as runs_service
from maillon.engine.services.runs import time_taken
from tests.support.flows import ECHO, deliver, make_flow, wait_status
from tests.support.services import Blocking


def test_runs_are_listed_with_their_flow_and_filtered(runtime: Runtime, services: Blocking) -> None:
    sales_id, sales = make_flow(services, ECHO, name="Sales alert")
    _, other = make_flow(
        services, {**ECHO, "input": {"text": "x", "fail": "permanent"}}, name="Other"
    )
    ok = deliver(runtime, sales).run_ids[0]
    bad = deliver(runtime, other).run_ids[0]
    wait_status(runtime, services, ok, RunStatus.SUCCEEDED)
    wait_status(runtime, services, bad, RunStatus.FAILED)

    lines = services.runs.browse()
    assert [(line.run.id, line.flow_name) for line in lines] == [
        (bad, "Other"),
        (ok, "Sales alert"),
    ]
    assert [line.run.id for line in services.runs.browse(flow="Sales alert")] == [ok]
    assert [line.run.id for line in services.runs.browse(flow=sales_id)] == [ok]
    assert [line.run.id for line in services.runs.browse(status=RunStatus.FAILED)] == [bad]
    assert services.runs.browse(since=time.time() + 60) == []
    with pytest.raises(NotFound, match="no flow Nope"):
        services.runs.browse(flow="Nope")

    # A deleted flow's runs stay, found by its id, without a name.
    services.flows.delete(sales_id)
    [line] = services.runs.browse(flow=sales_id)
    assert line.run.id == ok and line.flow_name is None


def test_a_listed_run_says_how_many_times_it_was_replayed(
    runtime: Runtime, services: Blocking
) -> None:
    _, fails = make_flow(
        services, {**ECHO, "input": {"text": "x", "fail": "permanent"}}, name="Fails"
    )
    once, twice, never = (deliver(runtime, fails).run_ids[0] for _ in range(3))
    for run_id in (once, twice, never):
        wait_status(runtime, services, run_id, RunStatus.FAILED)
    for run_id in (once, twice, twice):
        services.runs.replay(run_id)
        wait_status(runtime, services, run_id, RunStatus.FAILED)

    lines = {line.run.id: line for line in services.runs.browse()}
    assert {run_id: line.replays for run_id, line in lines.items()} == {
        once: 1,
        twice: 2,
        never: 0,
    }
    # Its time is counted from its last replay, as on its page.
    detail = services.runs.detail(twice)
    assert lines[twice].replayed_at == detail.replays[-1].row.replayed_at
    assert detail.took is not None
    assert lines[twice].took == detail.took
    assert lines[never].replayed_at is None
    # Paged and bounded in time like the API's list.
    [newest, *_] = services.runs.browse(limit=1)
    [older] = services.runs.browse(limit=1, before=newest.run.id)
    assert (newest.run.id, older.run.id) == (never, twice)
    assert services.runs.browse(until=time.time() - 3600) == []


def _run(started_at: float | None = None, finished_at: float | None = None) -> RunRow:
    return RunRow(
        id="r",
        flow_id="f",
        event_id="e",
        status=RunStatus.SUCCEEDED,
        available_at=0,
        created_at=0,
        started_at=started_at,
        finished_at=finished_at,
    )


def test_a_replayed_runs_time_leaves_out_its_wait_to_be_replayed() -> None:
    assert time_taken(_run(100, 105), None) == 5.0
    # Replayed at 200; it ended again at 203.
    assert time_taken(_run(100, 203), 200) == 3.0
    # Replayed at 300 and not ended since: its last end is the one before.
    assert time_taken(_run(100, 203), 300) is None
    assert time_taken(_run(), None) is None


def test_runs_are_found_by_what_their_event_or_error_says(
    runtime: Runtime, services: Blocking
) -> None:
    _, sales = make_flow(services, {**ECHO, "input": {"text": "x"}}, name="Sales alert")
    _, fails = make_flow(
        services, {**ECHO, "input": {"text": "x", "fail": "permanent"}}, name="Fails"
    )
    ada = deliver(runtime, sales, {"investor": {"email": "Ada@Example.com"}}).run_ids[0]
    deliver(runtime, sales, {"investor": {"email": "bob@example.com"}})
    promo = deliver(runtime, sales, {"code": "50%_OFF"}).run_ids[0]
    deliver(runtime, sales, {"code": "50a1OFF"})  # what % and _ would match unescaped
    refused = deliver(runtime, fails, {"id": 7}).run_ids[0]
    wait_status(runtime, services, refused, RunStatus.FAILED)

    def found(text: str, **filters: object) -> list[str]:
        return [line.run.id for line in services.runs.search(text, **filters).lines]

    assert found("ada@example.COM") == [ada]  # any case
    assert found("50%_off") == [promo]  # % and _ are the text's, not wildcards
    assert found("probe refused") == [refused]  # the run's error
    assert found("ada@example.com", flow="Fails") == []
    assert found("example.com", status=RunStatus.FAILED) == []
    assert services.runs.search("nobody").searched_to is None  # every run was read
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(Invalid):
            services.runs.search(bad)


def test_a_search_reads_a_window_of_runs_and_goes_on_from_where_it_stopped(
    runtime: Runtime, services: Blocking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_service, "SEARCH_WINDOW", 2)
    _, token = make_flow(services, ECHO, name="Sales alert")
    oldest = deliver(runtime, token, {"name": "Ada"}).run_ids[0]
    middle, newest = (deliver(runtime, token, {"name": "Bob"}).run_ids[0] for _ in range(2))

    first = services.runs.search("ada")
    # The two newest runs were read, without a match: the search stops there, and says where.
    assert (first.lines, first.searched_to) == ([], middle)
    further = services.runs.search("ada", before=first.searched_to)
    assert [line.run.id for line in further.lines] == [oldest]
    assert further.searched_to is None
    # A full page needs no going on: its last run is where the next page starts.
    page = services.runs.search("bob", limit=1)
    assert [line.run.id for line in page.lines] == [newest] and page.searched_to is None
