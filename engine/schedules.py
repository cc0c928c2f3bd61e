"""Schedules: when a time-based trigger fires, as flows declare it and as APScheduler computes it.

A schedule is a cron expression or an interval, read in a time zone, with a policy for ticks
missed while no scheduler was running. The same :class:`Schedule` starts a flow (the
``schedule`` trigger) and releases a digest (``digest.release``).

Every process computes the same ticks for the same schedule: cron ticks are wall-clock times,
and intervals count from a fixed origin (midnight, 1 January 2000, in the schedule's time
zone) rather than from the moment a process started. That is what lets two schedulers on one
database agree on a tick's time, the key under which it is stored once
(:func:`tick_key`).

APScheduler 3 reads a crontab's day of week with 0 as Monday; people write cron with 0 (or 7)
as Sunday. Days of week are therefore read here and handed to APScheduler by name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from maillon.engine.durations import seconds_in
from maillon.engine.i18n import day_name, format_day_time, format_list, ngettext, spelt_time_zone
from maillon.engine.i18n import gettext as _

__all__ = [
    "MissedPolicy",
    "Schedule",
    "ScheduleTrigger",
    "cron_trigger",
    "latest_tick",
    "next_tick",
    "parse_every",
    "tick_body",
    "tick_example",
    "tick_key",
]

#: What happens to ticks missed while no scheduler ran: the latest one runs at start, or none.
MissedPolicy = Literal["run_once", "skip"]

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: The longest interval: a year. Longer waits belong in a cron expression.
MAX_EVERY = 366 * 86400
_ORIGIN = dt.datetime(2000, 1, 1)  # intervals count from here, in the schedule's time zone


def parse_every(value: int | str) -> int:
    """An interval in whole seconds: ``90``, ``'90s'``, ``'15m'``, ``'1h30m'``, ``'2d'``,
    ``'1w'``, or in French ``'2 jours'``, ``'1h30'`` (:func:`~maillon.engine.durations.seconds_in`).

    Raises :class:`ValueError` in plain words.
    """
    if isinstance(value, bool):
        raise ValueError(_("must be a number of seconds or a duration such as '15m'"))
    seconds = value if isinstance(value, int) else seconds_in(value)
    if seconds is None or seconds != int(seconds):
        raise ValueError(
            _(
                "%(value)r is not a duration: write seconds (3600) or amounts with units s, "
                "m, h, d, w (90s, 15m, 1h30m, 2d)",
                value=value,
            )
        )
    if not 1 <= seconds <= MAX_EVERY:
        raise ValueError(_("must be between 1 second and %(days)s days", days=MAX_EVERY // 86400))
    return int(seconds)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            _("unknown time zone %(name)r (an IANA name such as Europe/Paris or UTC)", name=name)
        ) from exc


def _weekday(token: str) -> int:
    """A day of week as cron numbers it, 0 to 7 (7 is Sunday again, at a span's end)."""
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token.lower() in _DAYS:
        return _DAYS.index(token.lower())
    raise ValueError(
        _("%(token)r is not a day of week (0-7, Sunday being 0 or 7, or sun-sat)", token=token)
    )


def _day_set(field: str) -> set[int]:
    """The days a crontab day-of-week field runs on, 0 (Sunday) to 6."""
    if field in ("*", "?"):
        return set(range(7))
    days: set[int] = set()
    for part in field.split(","):
        span, _slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(_("%(part)r: the step after / must be a positive number", part=part))
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            start, _dash, end = span.partition("-")
            first, last = _weekday(start), _weekday(end)
            if last < first:  # fri-sun, 6-1: round the week's end
                last = last + 7
        else:
            first = last = _weekday(span)
            if step:
                last = 6
        days.update(d % 7 for d in range(first, last + 1, step or 1))
    return days


def _weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler's day names."""
    if field in ("*", "?"):
        return "*"
    # Sunday last: APScheduler numbers Monday 0 and Sunday 6.
    return ",".join(_DAYS[d] for d in sorted(_day_set(field), key=_from_monday))


def _from_monday(day: int) -> int:
    """A cron day of week (0 = Sunday) counted from Monday (0), as the week is read."""
    return (day + 6) % 7


class Schedule(BaseModel):
    """When something happens: a cron expression or an interval, read in a time zone."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(
        None,
        max_length=200,
        description="Five fields: minute hour day-of-month month day-of-week (0 or 7 is "
        "Sunday), read in `timezone`.",
        examples=["0 18 * * *", "0 9 * * 1"],
    )
    every: int | str | None = Field(
        None,
        description="An interval: seconds, or amounts with units s, m, h, d, w (also as words, "
        "in English or French: 2 days, 15 min, 2 jours, 1h30). Intervals count from midnight, "
        "1 January 2000, in `timezone`: every 15m fires at :00, :15, …",
        examples=["15m", "1h", 3600],
    )
    timezone: str = Field(
        "UTC", max_length=64, description="IANA time zone the schedule is read in."
    )
    missed: MissedPolicy = Field(
        "run_once",
        description="Ticks missed while no scheduler ran (Maillon stopped): `run_once` runs "
        "the latest of them at start, `skip` runs none.",
    )

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value, "UTC")
        return value

    @field_validator("every")
    @classmethod
    def _every_shape(cls, value: int | str | None) -> int | str | None:
        if value is not None:
            parse_every(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        name = spelt_time_zone(value) or value
        _zone(name)
        return name

    def at_most_one_way(self) -> None:
        """Raise :class:`ValueError` when the schedule gives both a cron expression and an
        interval."""
        if self.cron is not None and self.every is not None:
            raise ValueError(_("give either cron or every, not both"))

    @property
    def defined(self) -> bool:
        """Whether the schedule says when (a cron expression or an interval)."""
        return self.cron is not None or self.every is not None

    def trigger(self) -> CronTrigger | IntervalTrigger:
        """The APScheduler trigger computing this schedule's ticks."""
        if self.cron is not None:
            return cron_trigger(self.cron, self.timezone)
        if self.every is None:
            raise ValueError("the schedule has neither cron nor every")
        zone = _zone(self.timezone)
        return IntervalTrigger(
            seconds=parse_every(self.every),
            start_date=_ORIGIN.replace(tzinfo=zone),
            timezone=zone,
        )

    def describe(self) -> str:
        """The schedule as it is written, for data and logs: ``cron 0 18 * * * (Europe/Paris)``.

        People read :meth:`in_words`.
        """
        when = f"cron {self.cron}" if self.cron is not None else f"every {self.every}"
        return f"{when} ({self.timezone})"

    def in_words(self) -> str:
        """The schedule as a sentence in the language of the moment, with its time zone:
        ``every day at 18:00 (Europe/Paris)``, ``every 15 minutes (UTC)``; a cron expression
        that no short sentence says (``0 9,18 1-7 * 1``) is given as written."""
        if self.cron is not None:
            when = _cron_in_words(self.cron) or _("cron %(expr)s", expr=self.cron)
        elif self.every is not None:
            when = _interval_in_words(parse_every(self.every))
        else:
            return _("no time set")
        return _("%(when)s (%(zone)s)", when=when, zone=self.timezone)


def _interval_in_words(seconds: int) -> str:
    """``every 90 minutes``: an interval in its largest whole unit."""
    if seconds % 604800 == 0:
        return ngettext("every week", "every %(num)s weeks", seconds // 604800)
    if seconds % 86400 == 0:
        return ngettext("every day", "every %(num)s days", seconds // 86400)
    if seconds % 3600 == 0:
        return ngettext("every hour", "every %(num)s hours", seconds // 3600)
    if seconds % 60 == 0:
        return ngettext("every minute", "every %(num)s minutes", seconds // 60)
    return ngettext("every second", "every %(num)s seconds", seconds)


def _number(field: str, top: int) -> int | None:
    """A crontab field that is one number from 0 to ``top``, else ``None``."""
    return int(field) if field.isdigit() and int(field) <= top else None


def _hours(field: str) -> list[int] | None:
    """The hours of an hour field that names a few (``9``, ``9,18``: at most six), in order;
    else ``None``."""
    parts = [_number(h, 23) for h in field.split(",")]
    if len(parts) > 6 or None in parts:
        return None
    return sorted({h for h in parts if h is not None})


def _one_span(days: set[int]) -> tuple[int, int] | None:
    """The first and last of ``days`` (cron numbering) when they follow one another, round the
    week's end too (Saturday to Monday); ``None`` when they do not, or are every day."""
    order = sorted(map(_from_monday, days))
    gaps = [i for i, d in enumerate(order) if (order[(i + 1) % len(order)] - d) % 7 != 1]
    if len(gaps) != 1:
        return None
    last, first = order[gaps[0]], order[(gaps[0] + 1) % len(order)]
    return (first + 1) % 7, (last + 1) % 7


def _day(weekday: int) -> str:
    """A crontab day of week (0 = Sunday) named in the language of the moment."""
    return day_name(_from_monday(weekday))


def _weekly_in_words(field: str, time: str) -> str | None:
    """Days of the week at a time, as the days the field runs on (not as it is written: 0-7
    is every day, 1,1 is Monday)."""
    try:
        days = _day_set(field)
    except ValueError:
        return None
    if len(days) == 7:
        return _("every day at %(time)s", time=time)
    span = _one_span(days)
    if span is not None and len(days) >= 3:
        first, last = span
        return _("%(first)s to %(last)s at %(time)s", first=_day(first), last=_day(last), time=time)
    names = [_day(d) for d in sorted(days, key=_from_monday)]
    if len(names) == 1:
        return _("every %(day)s at %(time)s", day=names[0], time=time)
    return _("on %(days)s at %(time)s", days=format_list(names), time=time)


def _cron_in_words(expr: str) -> str | None:
    """The usual shapes of a crontab as a sentence (every day, some days of the week, a day of
    the month, every hour, every few minutes); ``None`` for the others."""
    minute, hour, day, month, weekday = expr.split()
    anyday = day in ("*", "?") and month == "*" and weekday in ("*", "?")
    hours, past = _hours(hour), _number(minute, 59)
    if hours is not None and past is not None:
        time = format_list([format_day_time(h, past) for h in hours])
        if anyday:
            return _("every day at %(time)s", time=time)
        if day in ("*", "?") and month == "*":
            return _weekly_in_words(weekday, time)
        date = _number(day, 31)
        if date == 1 and month == "*" and weekday in ("*", "?"):
            return _("on the first day of every month at %(time)s", time=time)
        if date is not None and month == "*" and weekday in ("*", "?"):
            return _("on day %(day)s of every month at %(time)s", day=date, time=time)
        return None
    if hour == "*" and anyday:
        if past == 0:
            return _("every hour, on the hour")
        if past is not None:
            return _("every hour at minute %(minute)s", minute=past)
        if minute == "*":
            return _interval_in_words(60)
        step = minute.removeprefix("*/")
        if step != minute and step.isdigit() and 0 < int(step) < 60 and 60 % int(step) == 0:
            return _interval_in_words(int(step) * 60)
    return None


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """A trigger for a five-field crontab expression, days of week read as cron reads them.

    Raises :class:`ValueError` in plain words.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            _(
                "%(expr)r is not a cron expression: it needs 5 fields: minute hour day-of-month "
                "month day-of-week, e.g. '0 18 * * 1-5'",
                expr=expr,
            )
        )
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays(weekday),
            timezone=_zone(timezone),
        )
    except ValueError as exc:
        raise ValueError(
            _("%(expr)r is not a cron expression: %(reason)s", expr=expr, reason=exc)
        ) from exc


class ScheduleTrigger(Schedule):
    """Runs the flow on a schedule: each tick is an event, stored once per (flow, tick time)."""

    type: Literal["schedule"] = "schedule"

    @model_validator(mode="after")
    def _one_way(self) -> ScheduleTrigger:
        self.at_most_one_way()
        if not self.defined:
            raise ValueError(_("say when: cron (e.g. '0 18 * * *') or every (e.g. '1h')"))
        return self


def _aware(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def next_tick(schedule: Schedule, after: float) -> float | None:
    """The first tick strictly after ``after`` (epoch seconds), if the schedule has one."""
    if not schedule.defined:
        return None
    fire = schedule.trigger().get_next_fire_time(None, _aware(after + 1e-6))
    return None if fire is None else float(fire.timestamp())


#: How far back :func:`latest_tick` looks, widening: a frequent schedule is answered from the
#: first window without walking years of ticks.
_WINDOWS = (3600.0, 86400.0, 8 * 86400.0, 32 * 86400.0, 367 * 86400.0, 5 * 367 * 86400.0)


def latest_tick(schedule: Schedule, since: float, now: float) -> float | None:
    """The latest tick in ``(since, now]``, if any: the tick a scheduler starting at ``now``
    has missed, when nothing ran since ``since``."""
    if not schedule.defined or now <= since:
        return None
    trigger = schedule.trigger()
    if isinstance(trigger, IntervalTrigger):
        origin = trigger.start_date.timestamp()
        tick = origin + ((now - origin) // trigger.interval_length) * trigger.interval_length
        return float(tick) if tick > since else None
    for window in _WINDOWS:
        start = max(since, now - window)
        found = None
        fire = trigger.get_next_fire_time(None, _aware(start + 1e-6))
        while fire is not None and fire.timestamp() <= now:
            found = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if found is not None:
            return float(found.timestamp())
        if start <= since:
            return None
    return None


def tick_key(tick: float) -> str:
    """A tick's time as its dedup key: UTC, to the second, so keys sort as times do."""
    return _aware(round(tick)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tick_body(
    schedule: Schedule, tick: float, *, missed: bool, manual: bool = False
) -> dict[str, Any]:
    """What a tick's event holds: its time in the schedule's zone (and in UTC), whether it
    was missed while no scheduler ran, whether someone asked for it by hand."""
    local = _aware(tick).astimezone(_zone(schedule.timezone))
    return {
        "scheduled_at": local.isoformat(),
        "scheduled_at_utc": tick_key(tick),
        "timezone": schedule.timezone,
        "missed": missed,
        "manual": manual,
    }


def tick_example(schedule: Schedule, now: float) -> dict[str, Any]:
    """The event of the schedule's next tick: what a scheduled flow is previewed against
    before its first tick."""
    return tick_body(schedule, next_tick(schedule, now) or now, missed=False)
