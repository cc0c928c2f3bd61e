"""Google Calendar: create an event."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from maillon.connectors.google import french
from maillon.connectors.google.check import check_connection
from maillon.connectors.google.client import CALENDAR, session
from maillon.connectors.google.connection import GoogleConnection
from maillon.connectors.google.oauth import GOOGLE_OAUTH
from maillon.connectors.mailmessage import AddressList, parse_address
from maillon.connectors.sdk import Action, ActionContext, Connector, PermanentError, choice_labels

__all__ = ["CreateEvent", "connector"]

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_or_datetime(value: object) -> object:
    # Pydantic would read "2025-03-10T00:00:00" as a date if dates came first in the union, and
    # "2025-03-10" as a midnight datetime otherwise: decide by the text's shape instead.
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return value


#: A date and time, or a date alone (all-day), as the text says.
Moment = Annotated[datetime | date, BeforeValidator(_date_or_datetime)]


class CreateEventInput(BaseModel):
    """An event to put on a calendar."""

    calendar_id: str = Field(
        default="primary",
        title="Calendar",
        description='The calendar\'s ID (Settings → "Integrate calendar"), or "primary" for the '
        "account's own calendar.",
        examples=["primary", "team@group.calendar.google.com"],
    )
    summary: str = Field(title="Title", examples=["Call with Ada Lovelace"])
    description: str | None = Field(
        default=None, title="Description", examples=["About her 2,500 € subscription."]
    )
    location: str | None = Field(
        default=None, title="Location", examples=["12 rue de la Paix, Paris"]
    )
    start: Moment = Field(
        title="Start",
        description="A date and time (with a UTC offset, or with a time zone below), or a "
        "date alone for an all-day event.",
        examples=["2025-03-10T14:00:00+01:00", "2025-03-10T14:00:00", "2025-03-10"],
    )
    end: Moment | None = Field(
        default=None,
        title="End",
        description="Same kind as the start. For an all-day event, the last day (inclusive). "
        "Leave empty for one hour, or one day for an all-day event.",
        examples=["2025-03-10T15:00:00+01:00", "2025-03-12"],
    )
    time_zone: str | None = Field(
        default=None,
        title="Time zone",
        description="IANA name. Needed when start and end carry no UTC offset.",
        examples=["Europe/Paris"],
    )
    attendees: AddressList = Field(
        default_factory=list,
        title="Attendees",
        description="Guests' email addresses: a list or one comma-separated string.",
        examples=[["ada@example.com"]],
    )
    send_updates: Literal["all", "externalOnly", "none"] = Field(
        default="none",
        title="Send invitations",
        json_schema_extra=choice_labels(
            {
                "all": "Everyone",
                "externalOnly": "Guests outside your organization",
                "none": "Nobody",
            }
        ),
        description="Whom Google emails an invitation: everyone, guests outside your "
        "organization, or nobody.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        timed = isinstance(self.start, datetime)
        if self.end is not None and isinstance(self.end, datetime) != timed:
            raise ValueError("start and end must both be dates, or both dates with times")
        if timed and self.time_zone is None:
            for moment in (self.start, self.end):
                if isinstance(moment, datetime) and moment.utcoffset() is None:
                    raise ValueError(
                        "give the time with a UTC offset (e.g. +01:00) or set a time zone"
                    )
        if self.end is not None and not _ordered(self.start, self.end, self.time_zone):
            raise ValueError("the event must end after it starts")
        return self

    def event_body(self) -> dict[str, Any]:
        """The ``events.insert`` body, without the ID."""
        body: dict[str, Any] = {"summary": self.summary}
        if self.description is not None:
            body["description"] = self.description
        if self.location is not None:
            body["location"] = self.location
        if isinstance(self.start, datetime):
            end = self.end if self.end is not None else self.start + timedelta(hours=1)
            body["start"] = self._moment(self.start)
            body["end"] = self._moment(end)
        else:
            # Google's end date is exclusive; ours is the last day, as people say it.
            last = self.end if self.end is not None else self.start
            body["start"] = {"date": self.start.isoformat()}
            body["end"] = {"date": (last + timedelta(days=1)).isoformat()}
        if self.attendees:
            body["attendees"] = [_attendee(a) for a in self.attendees]
        return body

    def _moment(self, moment: datetime | date) -> dict[str, str]:
        out = {"dateTime": moment.isoformat()}
        if self.time_zone:
            out["timeZone"] = self.time_zone
        return out


def _ordered(start: datetime | date, end: datetime | date, time_zone: str | None) -> bool:
    if isinstance(start, datetime) and isinstance(end, datetime):
        # Naive times are in the event's zone; aware ones may carry different offsets.
        zone = ZoneInfo(time_zone) if time_zone else None
        start = start if start.tzinfo else start.replace(tzinfo=zone)
        end = end if end.tzinfo else end.replace(tzinfo=zone)
        return start < end
    return start <= end  # all-day: the end is the last day, which may be the first


def _attendee(text: str) -> dict[str, str]:
    address = parse_address(text)
    out = {"email": address.addr_spec}
    if address.display_name:
        out["displayName"] = address.display_name
    return out


class CreateEventOutput(BaseModel):
    """The created event."""

    event_id: str = Field(title="Event ID", examples=["5f0c2b9e1d7a4c3b8a6e9d0f1c2b3a4d5e6f7a8b"])
    html_link: str = Field(
        title="Link",
        description="Opens the event in Google Calendar.",
        examples=["https://www.google.com/calendar/event?eid=NWYwYzJi"],
    )
    status: str = Field(default="confirmed", title="Status", examples=["confirmed"])


class CreateEvent(Action[GoogleConnection, CreateEventInput, CreateEventOutput]):
    """Create an event, once per step however often the step is retried.

    The event ID is derived from the step's idempotency key: if an earlier attempt created the
    event but its answer was lost, Google reports the ID as taken (409) and the existing event
    is returned instead of a duplicate being made.
    """

    key = "create_event"
    title = "Create an event"
    advanced_inputs = ("calendar_id", "time_zone", "attendees", "send_updates")
    description = "Add a timed or all-day event to a Google Calendar, optionally with guests."

    def run(
        self, ctx: ActionContext, conn: GoogleConnection, data: CreateEventInput
    ) -> CreateEventOutput:
        calendar = session(conn, CALENDAR)
        event_id = _event_id(ctx.idempotency_key, data)
        body = {"id": event_id, **data.event_body()}
        events = calendar.resource("events")
        try:
            insert = events.insert(
                calendarId=data.calendar_id, body=body, sendUpdates=data.send_updates
            )
            result = calendar.execute(ctx, insert)
        except PermanentError as exc:
            if exc.details.get("status") != 409:
                raise
            ctx.logger.info("event %s exists already (an earlier attempt made it)", event_id)
            existing = events.get(calendarId=data.calendar_id, eventId=event_id)
            result = calendar.execute(ctx, existing)
        return CreateEventOutput(
            event_id=str(result.get("id", event_id)),
            html_link=str(result.get("htmlLink", "")),
            status=str(result.get("status", "confirmed")),
        )


def _event_id(idempotency_key: str, data: CreateEventInput) -> str:
    # Google event IDs use the base32hex alphabet (0-9, a-v), which hex digits are part of. The
    # event's own start and title are mixed in so that a run ID reused after a database reset
    # cannot return some older, different event.
    seed = "\n".join((idempotency_key, data.calendar_id, data.summary, data.start.isoformat()))
    return hashlib.sha256(seed.encode()).hexdigest()[:40]


connector = Connector(
    key="google_calendar",
    title="Google Calendar",
    description="Create events in Google Calendar.",
    actions=(CreateEvent,),
    connection=GoogleConnection,
    oauth=GOOGLE_OAUTH,
    check=check_connection,
    translations={"fr": {**french.CONNECTION, **french.CALENDAR}},
)
