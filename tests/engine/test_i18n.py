"""The languages: choosing one, catalogues compiled from their text, the language of the moment."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from maillon.engine.i18n import (
    DEFAULT_LOCALE,
    N_,
    current_locale,
    current_time_zone,
    format_clock,
    format_number,
    format_when,
    gettext,
    known_time_zone,
    negotiate,
    ngettext,
    supported,
    time_zones,
    to_epoch,
    translations,
    use_locale,
)


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE, fr;q=0.5", "fr"),  # German is not spoken: the next one that is
        ("en;q=0.2, fr-CA;q=0.9", "fr"),  # by quality, not by order
        ("fr;q=0, en", "en"),  # q=0 refuses a language
        ("de, es", None),
        ("*", None),
        ("", None),
        (None, None),
        ("fr;q=nonsense, en", "en"),
    ],
)
def test_the_browser_language_is_negotiated(header: str | None, chosen: str | None) -> None:
    assert negotiate(header) == chosen


@pytest.mark.parametrize(
    ("given", "found"),
    [("fr", "fr"), ("fr_BE", "fr"), ("FR-ca", "fr"), ("en-US", "en"), ("de", None), (None, None)],
)
def test_a_locale_is_matched_to_a_supported_one(given: str | None, found: str | None) -> None:
    assert supported(given) == found


def test_the_french_catalogue_is_compiled_from_its_text() -> None:
    french = translations("fr")
    assert french.gettext("Dashboard") == "Tableau de bord"
    assert french.ngettext("%(num)s held run queued.", "%(num)s held runs queued.", 2) == (
        "%(num)s exécutions retenues mises en file."
    )
    # Compiled once per process.
    assert translations("fr") is french
    # English is the source language: nothing to translate.
    assert translations("en").gettext("Dashboard") == "Dashboard"


def test_texts_follow_the_language_of_the_moment_and_fill_their_placeholders() -> None:
    assert current_locale() == DEFAULT_LOCALE
    assert gettext("Welcome, %(name)s. Maillon is ready.", name="Ada") == (
        "Welcome, Ada. Maillon is ready."
    )
    with use_locale("fr-FR") as chosen:
        assert chosen == "fr"
        assert current_locale() == "fr"
        assert gettext("Welcome, %(name)s. Maillon is ready.", name="Ada") == (
            "Bienvenue, Ada. Maillon est prêt."
        )
        assert ngettext("%(num)s held run queued.", "%(num)s held runs queued.", 1) == (
            "1 exécution retenue mise en file."
        )
        # A text marked with N_ is translated where it is shown.
        assert gettext(N_("Any time")) == "N’importe quand"
    assert current_locale() == DEFAULT_LOCALE
    with use_locale("klingon"):
        assert current_locale() == DEFAULT_LOCALE


def test_each_task_keeps_its_own_language() -> None:
    async def speak(locale: str) -> str:
        with use_locale(locale):
            await asyncio.sleep(0.01)  # the other task sets its own language meanwhile
            return gettext("Dashboard")

    async def both() -> list[str]:
        return list(await asyncio.gather(speak("fr"), speak("en")))

    assert asyncio.run(both()) == ["Tableau de bord", "Dashboard"]


# 2026-05-04 07:15:30 UTC: 09:15 in Paris (summer time), 03:15 in New York.
MOMENT = dt.datetime(2026, 5, 4, 7, 15, 30, tzinfo=dt.UTC).timestamp()


def test_dates_are_written_in_the_readers_language_and_time_zone() -> None:
    with use_locale("fr", "Europe/Paris"):
        assert format_when(MOMENT, full=True) == "lundi 4 mai 2026 à 09:15"
        assert format_when(MOMENT) == "4 mai 2026, 09:15"
        assert format_when(MOMENT, seconds=True) == "4 mai 2026, 09:15:30"
        assert format_clock(MOMENT) == "09:15"
        assert current_time_zone() == "Europe/Paris"
    with use_locale("en", "America/New_York"):
        assert format_when(MOMENT, full=True) == "Monday, May 4, 2026 at 3:15\u202fAM"
        assert format_when(MOMENT) == "May 4, 2026, 3:15\u202fAM"
        assert format_clock(MOMENT) == "3:15\u202fAM"
    # No time zone given, or one that does not exist: UTC.
    with use_locale("fr", "Mars/Olympus"):
        assert format_when(MOMENT, full=True) == "lundi 4 mai 2026 à 07:15"


def test_numbers_are_written_in_the_readers_language() -> None:
    with use_locale("fr"):
        assert format_number(1234567) == "1\u202f234\u202f567"
        assert format_number(4.25, places=1) == "4,2"
    with use_locale("en"):
        assert format_number(1234567) == "1,234,567"
        assert format_number(4.25, places=1) == "4.2"


def test_a_form_time_is_read_in_the_readers_time_zone() -> None:
    with use_locale("fr", "Europe/Paris"):
        assert to_epoch(dt.datetime(2026, 5, 4, 9, 15, 30)) == MOMENT
    assert to_epoch(dt.datetime(2026, 5, 4, 7, 15, 30)) == MOMENT  # UTC by default


def test_time_zones_are_the_iana_cities() -> None:
    zones = time_zones()
    assert zones[0] == "UTC"
    assert "Europe/Paris" in zones and "America/New_York" in zones
    assert not [z for z in zones if z.startswith(("posix/", "Etc/")) or z == "EST5EDT"]
    # Old names of zones are not offered beside the current ones (but still understood).
    assert "Asia/Kolkata" in zones and "Asia/Calcutta" not in zones
    assert "Europe/Kyiv" in zones or "Europe/Kiev" in zones
    assert known_time_zone("Asia/Calcutta") == "Asia/Calcutta"
    assert known_time_zone("Europe/Paris") == "Europe/Paris"
    assert known_time_zone("Europe/Atlantis") is None
