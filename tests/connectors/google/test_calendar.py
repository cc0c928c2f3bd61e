from __future__ import annotations

import pytest
from pydantic import ValidationError

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.calendar import CreateEvent
from maillon.connectors.testing import FakeServer
from tests.connectors.google.support import ctx, google_error

EVENTS = "/calendar/v3/calendars/primary/events"
CREATED = {
    "id": "ev1",
    "htmlLink": "https://www.google.com/calendar/event?eid=ZXYx",
    "status": "confirmed",
}


@pytest.fixture
def calendar(google: FakeServer) -> FakeServer:
    google.on("POST", EVENTS, (200, CREATED))
    return google


def test_timed_event_with_utc_offsets_and_a_time_zone(
    calendar: FakeServer, conn: GoogleConnection
) -> None:
    data = CreateEvent.Input(
        summary="Appel avec Zoë",
        description="Souscription de 2 500 €",
        location="Paris",
        start="2025-03-30T01:30:00+01:00",
        end="2025-03-30T03:30:00+02:00",  # the night clocks change in Paris: one hour later
        time_zone="Europe/Paris",
        attendees="Zoë Martin <zoe@example.org>, ops@example.com",
        send_updates="all",
    )

    out = CreateEvent().run(ctx(), conn, data)

    assert out.model_dump() == {
        "event_id": "ev1",
        "html_link": "https://www.google.com/calendar/event?eid=ZXYx",
        "status": "confirmed",
    }
    (request,) = calendar.received("POST", EVENTS)
    assert request.query == {"sendUpdates": ["all"], "alt": ["json"]}
    body = request.json()
    event_id = body.pop("id")
    assert len(event_id) == 40
    assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")  # base32hex
    assert body == {
        "summary": "Appel avec Zoë",
        "description": "Souscription de 2 500 €",
        "location": "Paris",
        "start": {"dateTime": "2025-03-30T01:30:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2025-03-30T03:30:00+02:00", "timeZone": "Europe/Paris"},
        "attendees": [
            {"email": "zoe@example.org", "displayName": "Zoë Martin"},
            {"email": "ops@example.com"},
        ],
    }


def test_local_times_take_the_time_zone_and_default_to_one_hour(
    calendar: FakeServer, conn: GoogleConnection
) -> None:
    data = CreateEvent.Input(
        summary="Call", start="2025-06-01T09:00:00", time_zone="America/New_York"
    )

    CreateEvent().run(ctx(), conn, data)

    body = calendar.received("POST", EVENTS)[0].json()
    assert body["start"] == {"dateTime": "2025-06-01T09:00:00", "timeZone": "America/New_York"}
    assert body["end"] == {"dateTime": "2025-06-01T10:00:00", "timeZone": "America/New_York"}
    assert "attendees" not in body
    assert calendar.received("POST", EVENTS)[0].query["sendUpdates"] == ["none"]


@pytest.mark.parametrize(
    ("start", "end", "google_end"),
    [
        ("2025-03-10", None, "2025-03-11"),  # one day
        ("2025-03-10", "2025-03-12", "2025-03-13"),  # the last day is inclusive for people
        ("2025-12-31", "2025-12-31", "2026-01-01"),
    ],
)
def test_all_day_events_use_dates_with_an_exclusive_end(
    calendar: FakeServer, conn: GoogleConnection, start: str, end: str | None, google_end: str
) -> None:
    data = CreateEvent.Input(summary="Closing", start=start, end=end, time_zone="Europe/Paris")

    CreateEvent().run(ctx(), conn, data)

    body = calendar.received("POST", EVENTS)[0].json()
    assert body["start"] == {"date": start}
    assert body["end"] == {"date": google_end}


def test_other_calendar_id_is_escaped_in_the_path(
    google: FakeServer, conn: GoogleConnection
) -> None:
    path = "/calendar/v3/calendars/team%40group.calendar.google.com/events"
    google.on("POST", path, (200, CREATED))

    CreateEvent().run(
        ctx(),
        conn,
        CreateEvent.Input(
            calendar_id="team@group.calendar.google.com",
            summary="x",
            start="2025-03-10T10:00:00Z",
        ),
    )

    assert len(google.received("POST", path)) == 1


def test_a_retry_after_a_lost_answer_returns_the_event_made_before(
    calendar: FakeServer, conn: GoogleConnection
) -> None:
    data = CreateEvent.Input(summary="Call", start="2025-03-10T10:00:00Z")
    CreateEvent().run(ctx("run1:event"), conn, data)
    event_id = calendar.received("POST", EVENTS)[0].json()["id"]
    calendar.on(
        "POST",
        EVENTS,
        (409, google_error(409, "The requested identifier already exists.", "duplicate")),
    )
    calendar.on("GET", f"{EVENTS}/{event_id}", (200, {**CREATED, "id": event_id}))

    out = CreateEvent().run(ctx("run1:event"), conn, data)

    assert out.event_id == event_id
    assert calendar.received("POST", EVENTS)[1].json()["id"] == event_id
    assert len(calendar.received("GET", f"{EVENTS}/{event_id}")) == 1


def test_event_ids_differ_between_steps(calendar: FakeServer, conn: GoogleConnection) -> None:
    data = CreateEvent.Input(summary="Call", start="2025-03-10")
    CreateEvent().run(ctx("run1:a"), conn, data)
    CreateEvent().run(ctx("run1:b"), conn, data)

    ids = {r.json()["id"] for r in calendar.received("POST", EVENTS)}
    assert len(ids) == 2


def test_a_midnight_time_is_not_mistaken_for_a_day() -> None:
    data = CreateEvent.Input(summary="x", start="2025-03-10T00:00:00Z")
    assert data.event_body()["start"] == {"dateTime": "2025-03-10T00:00:00+00:00"}
    assert CreateEvent.Input(summary="x", start=" 2025-03-10 ").event_body()["start"] == {
        "date": "2025-03-10"
    }


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"start": "2025-03-10T10:00:00"}, "UTC offset"),
        ({"start": "2025-03-10", "end": "2025-03-10T10:00:00Z"}, "both dates"),
        ({"start": "2025-03-10T10:00:00Z", "end": "2025-03-10T09:00:00Z"}, "end after it starts"),
        ({"start": "2025-03-10", "end": "2025-03-09"}, "end after it starts"),
        ({"start": "2025-03-10T10:00:00Z", "time_zone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_inconsistent_times_are_refused(fields: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        CreateEvent.Input.model_validate({"summary": "x", **fields})
