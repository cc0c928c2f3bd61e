"""Schedules as flows declare them: cron read as cron reads it, intervals on a fixed origin,
ticks looked back for, and every mistake said in plain words at save time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from maillon.connectors.registry import Registry
from maillon.engine.flows import FlowValidationError, parse_document
from maillon.engine.i18n import use_locale
from maillon.engine.schedules import (
    Schedule,
    ScheduleTrigger,
    latest_tick,
    next_tick,
    parse_every,
    tick_body,
    tick_key,
)
from tests.support.probe import probe

PARIS = "Europe/Paris"


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("2 jours", 172800),
        ("1h30", 5400),
    ],
)
def test_intervals_in_seconds_or_with_units(value: Any, seconds: int) -> None:
    assert parse_every(value) == seconds


@pytest.mark.parametrize("value", ["1.5s", "0s", "367d", "soon", True])
def test_an_interval_is_whole_seconds_up_to_a_year(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_every(value)


def test_a_cron_day_of_week_is_read_as_cron_reads_it() -> None:
    # APScheduler 3 alone reads 1 as Tuesday; cron, and people, as Monday (0 and 7: Sunday).
    saturday = _at("2026-11-28T12:00:00+00:00")
    mondays = Schedule(cron="0 9 * * 1", timezone=PARIS)
    assert tick_key(next_tick(mondays, saturday) or 0) == "2026-11-30T08:00:00Z"
    sundays = Schedule(cron="0 9 * * 7")
    assert tick_key(next_tick(sundays, saturday) or 0) == "2026-11-29T09:00:00Z"
    weekend = Schedule(cron="0 9 * * 5-7")
    assert tick_key(next_tick(weekend, saturday) or 0) == "2026-11-29T09:00:00Z"
    # A span ending at 7 ends on Sunday: 7-7 is Sunday alone, not every day.
    sunday_only = Schedule(cron="0 9 * * 7-7")
    monday = _at("2026-11-30T00:00:00+00:00")
    assert tick_key(next_tick(sunday_only, monday) or 0) == "2026-12-06T09:00:00Z"


def test_a_cron_schedule_follows_its_time_zone_across_daylight_saving() -> None:
    six_pm = Schedule(cron="0 18 * * *", timezone=PARIS)
    summer = next_tick(six_pm, _at("2026-07-01T00:00:00+00:00"))
    winter = next_tick(six_pm, _at("2026-12-01T00:00:00+00:00"))
    assert tick_key(summer or 0) == "2026-07-01T16:00:00Z"
    assert tick_key(winter or 0) == "2026-12-01T17:00:00Z"
    body = tick_body(six_pm, winter or 0, missed=False)
    assert body["scheduled_at"] == "2026-12-01T18:00:00+01:00"


def test_intervals_tick_on_the_same_times_whoever_computes_them() -> None:
    quarter = Schedule(every="15m")
    assert tick_key(next_tick(quarter, _at("2026-11-29T10:07:12+00:00")) or 0) == (
        "2026-11-29T10:15:00Z"
    )


def test_the_latest_tick_since_a_time() -> None:
    six_pm = Schedule(cron="0 18 * * *", timezone=PARIS)
    now = _at("2026-12-04T09:00:00+00:00")
    assert tick_key(latest_tick(six_pm, _at("2026-11-01T00:00:00+00:00"), now) or 0) == (
        "2026-12-03T17:00:00Z"
    )
    assert latest_tick(six_pm, _at("2026-12-03T17:00:00+00:00"), now) is None
    yearly = Schedule(cron="0 0 1 1 *")
    assert tick_key(latest_tick(yearly, _at("2020-06-01T00:00:00+00:00"), now) or 0) == (
        "2026-01-01T00:00:00Z"
    )
    hourly = Schedule(every="1h")
    assert latest_tick(hourly, now - 10, now) == now  # on the hour, exactly


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        parse_document({"name": "report", **raw}, Registry([probe]), {})
    return caught.value.problems


def test_every_schedule_mistake_at_once_in_plain_words() -> None:
    problems = _problems(
        {
            "trigger": {"type": "schedule", "cron": "0 18 * *", "timezone": "Europe/Pari"},
            "digest": {
                "name": "Daily Sums",
                "item": "{{ event.amount",
                "release": {"every": "5x", "count": 5000},
            },
        }
    )
    assert problems == [
        "trigger.cron: '0 18 * *' is not a cron expression: it needs 5 fields: minute hour "
        "day-of-month month day-of-week, e.g. '0 18 * * 1-5'",
        "trigger.timezone: unknown time zone 'Europe/Pari' (an IANA name such as Europe/Paris "
        "or UTC)",
        "digest.name: 'Daily Sums' is not a digest name: lower-case letters, digits, - and _, "
        "at most 64 characters (for example 'daily-sums')",
        "digest.release.every: '5x' is not a duration: write seconds (3600) or amounts with "
        "units s, m, h, d, w (90s, 15m, 1h30m, 2d)",
        "digest.release.count: Input should be less than or equal to 1000",
        "digest.item: template syntax error: unexpected end of template, expected 'end of print "
        "statement'.",
    ]


def test_a_schedule_says_when_once() -> None:
    assert _problems({"trigger": {"type": "schedule"}}) == [
        "trigger: say when: cron (e.g. '0 18 * * *') or every (e.g. '1h')"
    ]
    assert _problems({"trigger": {"type": "schedule", "cron": "0 * * * *", "every": "1h"}}) == [
        "trigger: give either cron or every, not both"
    ]
    assert _problems({"trigger": {"type": "schedule", "cron": "0 25 * * *"}}) == [
        "trigger.cron: '0 25 * * *' is not a cron expression: Error validating expression "
        "'25': the last value (25) is higher than the maximum value (23)"
    ]


@pytest.mark.parametrize(
    ("written", "english", "french"),
    [
        ({"cron": "0 18 * * *"}, "every day at 6:00\u202fPM", "tous les jours à 18:00"),
        ({"cron": "0 9 * * 1"}, "every Monday at 9:00\u202fAM", "chaque lundi à 09:00"),
        (
            {"cron": "30 9 * * 1-5"},
            "Monday to Friday at 9:30\u202fAM",
            "du lundi au vendredi à 09:30",
        ),
        (
            {"cron": "0 9 * * 6-1"},
            "Saturday to Monday at 9:00\u202fAM",
            "du samedi au lundi à 09:00",
        ),
        (
            {"cron": "0 9 * * 1,3,5"},
            "on Monday, Wednesday, and Friday at 9:00\u202fAM",
            "les lundi, mercredi et vendredi à 09:00",
        ),
        # Said as the days it runs on, not as they are written.
        ({"cron": "0 9 * * 0-7"}, "every day at 9:00\u202fAM", "tous les jours à 09:00"),
        ({"cron": "0 9 * * 0,7"}, "every Sunday at 9:00\u202fAM", "chaque dimanche à 09:00"),
        ({"cron": "0 9 * * 1,1"}, "every Monday at 9:00\u202fAM", "chaque lundi à 09:00"),
        ({"cron": "0 9 * * 7-7"}, "every Sunday at 9:00\u202fAM", "chaque dimanche à 09:00"),
        (
            {"cron": "0 9 * * */2"},
            "on Tuesday, Thursday, Saturday, and Sunday at 9:00\u202fAM",
            "les mardi, jeudi, samedi et dimanche à 09:00",
        ),
        (
            {"cron": "0 8 1 * *"},
            "on the first day of every month at 8:00\u202fAM",
            "le 1er de chaque mois à 08:00",
        ),
        (
            {"cron": "0 8 15 * *"},
            "on day 15 of every month at 8:00\u202fAM",
            "le 15 de chaque mois à 08:00",
        ),
        ({"cron": "0 * * * *"}, "every hour, on the hour", "toutes les heures, à l’heure pile"),
        ({"cron": "5 * * * *"}, "every hour at minute 5", "toutes les heures, à la minute 5"),
        ({"cron": "*/15 * * * *"}, "every 15 minutes", "toutes les 15 minutes"),
        (
            {"cron": "30 8,12,18 * * 1-5"},
            "Monday to Friday at 8:30\u202fAM, 12:30\u202fPM, and 6:30\u202fPM",
            "du lundi au vendredi à 08:30, 12:30 et 18:30",
        ),
        # No short sentence says these: they are given as written.
        ({"cron": "*/7 * * * *"}, "cron */7 * * * *", "cron */7 * * * *"),
        ({"cron": "0 9,18 1-7 * 1"}, "cron 0 9,18 1-7 * 1", "cron 0 9,18 1-7 * 1"),
        ({"every": "1h30m"}, "every 90 minutes", "toutes les 90 minutes"),
        ({"every": 3600}, "every hour", "toutes les heures"),
        ({"every": "1d"}, "every day", "tous les jours"),
        ({"every": "2w"}, "every 2 weeks", "toutes les 2 semaines"),
        ({"every": 45}, "every 45 seconds", "toutes les 45 secondes"),
    ],
)
def test_a_schedule_reads_as_a_sentence_in_the_readers_language(
    written: dict[str, Any], english: str, french: str
) -> None:
    schedule = Schedule(**written, timezone=PARIS)
    with use_locale("en"):
        assert schedule.in_words() == f"{english} (Europe/Paris)"
    with use_locale("fr"):
        assert schedule.in_words() == f"{french} (Europe/Paris)"


def test_a_valid_schedule_is_kept_as_written() -> None:
    trigger = ScheduleTrigger(cron="0 9 * * 1", timezone=PARIS, missed="skip")
    assert trigger.describe() == "cron 0 9 * * 1 (Europe/Paris)"
    document = parse_document(
        {"name": "report", "trigger": trigger.model_dump()}, Registry([probe]), {}
    )
    assert document.trigger == trigger


def test_schedule_mistakes_in_the_readers_language() -> None:
    with use_locale("fr"):
        problems = _problems({"trigger": {"type": "schedule", "timezone": "Europe/Pari"}})
    assert problems == [
        "trigger.timezone: fuseau horaire inconnu 'Europe/Pari' (un nom IANA comme Europe/Paris "
        "ou UTC)"
    ]


def test_a_time_zone_typed_in_another_case_is_spelt_as_iana_does() -> None:
    assert Schedule(cron="0 9 * * *", timezone="europe/paris").timezone == "Europe/Paris"
    assert Schedule(every="1h", timezone=" utc ").timezone == "UTC"
    with pytest.raises(ValueError, match="unknown time zone 'europe/pari'"):
        Schedule(every="1h", timezone="europe/pari")
