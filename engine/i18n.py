"""The languages Maillon speaks: its message catalogues, the reader of the moment (their
language and time zone), and dates, numbers and amounts written the way that reader expects.

Texts are written in English in the code and the templates, marked for translation
(``_("Flow saved.")`` in Python, ``{% trans %}`` or ``_()`` in templates), extracted by
``pybabel extract`` with ``engine/locale/babel.cfg``, and translated in
``engine/locale/<language>/LC_MESSAGES/messages.po``. English needs no catalogue.

Catalogues are read from their ``.po`` text and compiled in memory the first time a language is
used (a few milliseconds, once per process), rather than shipped as compiled ``.mo`` files: an
editable install, a wheel and a checkout then all use exactly the committed text, and no build
step can be forgotten or leave a stale ``.mo`` behind.

The reader of the moment lives in context variables: the web layer sets them for each request
(the account's language, else the browser's, else ``MAILLON_DEFAULT_LOCALE``; the account's time
zone, else ``MAILLON_DEFAULT_TIME_ZONE``), and code that works outside a request, such as a
message sent to a flow's owner, sets them with :func:`use_locale` or asks :func:`translations`
for a language's catalogue directly.

Dates and numbers go through Babel (CLDR data): ``12 345`` and ``lundi 4 mai 2026 à 09:15`` in
French, ``12,345`` and ``Monday, May 4, 2026 at 9:15 AM`` in English (amounts in flows'
messages: the ``money`` filter's ``locale``, ``1 500,00 €``).
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_datetime, format_time, get_date_format, get_time_format
from babel.lists import format_list as _format_list
from babel.numbers import format_decimal
from babel.support import Translations

__all__ = [
    "CATALOGUES",
    "DEFAULT_LOCALE",
    "DEFAULT_TIME_ZONE",
    "LOCALES",
    "N_",
    "current_locale",
    "current_time_zone",
    "day_name",
    "format_clock",
    "format_day_time",
    "format_list",
    "format_number",
    "format_when",
    "gettext",
    "known_time_zone",
    "negotiate",
    "ngettext",
    "set_locale",
    "spelt_time_zone",
    "supported",
    "time_zones",
    "to_epoch",
    "translations",
    "use_locale",
]

#: Where the catalogues are: ``<language>/LC_MESSAGES/messages.po``.
CATALOGUES = Path(__file__).resolve().parent / "locale"
#: The languages of the UI, by their code; English is the language of the source texts.
LOCALES: dict[str, str] = {"en": "English", "fr": "Français"}
#: The language used where nothing else is known (a command line, a worker).
DEFAULT_LOCALE = "en"
#: The time zone used where nothing else is known.
DEFAULT_TIME_ZONE = "UTC"

_current: ContextVar[str] = ContextVar("maillon_locale", default=DEFAULT_LOCALE)
_zone: ContextVar[str] = ContextVar("maillon_time_zone", default=DEFAULT_TIME_ZONE)


def known_time_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone (``Europe/Paris``), else ``None``."""
    if not name or name not in _time_zones():
        return None
    return name


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def spelt_time_zone(name: str) -> str | None:
    """The IANA time zone ``name`` names, spelt as IANA does (``europe/paris`` →
    ``Europe/Paris``), else ``None``: typed by hand, the case is easily wrong."""
    return _zones_by_case().get(name.strip().lower())


@lru_cache(maxsize=1)
def _zones_by_case() -> dict[str, str]:
    return {zone.lower(): zone for zone in _time_zones()}


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The time zones a person picks from: ``UTC`` and the IANA ``Area/City`` names, sorted
    (not the aliases kept for old systems, such as ``EST5EDT``, ``posix/...`` or the old
    names CLDR maps to current ones: ``Asia/Calcutta`` is ``Asia/Kolkata``)."""
    from babel.core import get_global  # asked once, by the first page that lists them

    renamed = get_global("zone_aliases")
    legacy = (
        "Etc/",
        "posix",
        "right/",
        "SystemV/",
        "US/",
        "Canada/",
        "Mexico/",
        "Brazil/",
        "Chile/",
    )
    cities = (
        z for z in _time_zones() if "/" in z and not z.startswith(legacy) and z not in renamed
    )
    return (DEFAULT_TIME_ZONE, *sorted(cities))


def supported(locale: str | None) -> str | None:
    """``locale`` as one of :data:`LOCALES` (``"fr-CA"`` → ``"fr"``), or ``None``."""
    if not locale:
        return None
    tag = locale.strip().replace("_", "-").lower()
    if tag in LOCALES:
        return tag
    language = tag.split("-", 1)[0]
    return language if language in LOCALES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best of :data:`LOCALES` for an ``Accept-Language`` header, or ``None``.

    ``"fr-CH, fr;q=0.9, en;q=0.8"`` → ``"fr"``; languages refused with ``q=0`` do not count.
    """
    if not accept_language:
        return None
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:
            wanted.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(wanted):
        found = supported(tag)
        if found:
            return found
    return None


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> _gettext.NullTranslations:
    """The catalogue of ``locale`` (one of :data:`LOCALES`), compiled from its ``.po`` file.

    English, and a language without a catalogue, translate nothing. Usable outside a request.
    """
    path = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.exists():
        return _gettext.NullTranslations()
    # Babel's catalogue tools only when a catalogue is compiled, once per language: a worker
    # process or an English-only server never does.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled)


def current_locale() -> str:
    """The language of the moment (the request's, or the one set by :func:`use_locale`)."""
    return _current.get()


def current_time_zone() -> str:
    """The reader's time zone (an IANA name such as ``Europe/Paris``)."""
    return _zone.get()


def set_locale(locale: str | None, time_zone: str | None = None) -> str:
    """Speak ``locale`` (else the default) for the rest of the current task, and show times in
    ``time_zone`` (else UTC); say which language.

    For a request: an ASGI server runs each request in a task of its own, whose context ends
    with it, so nothing needs resetting, and the error pages rendered after the handler (by
    the framework's outer layers) still speak the request's language.
    """
    chosen = supported(locale) or DEFAULT_LOCALE
    _current.set(chosen)
    _zone.set(known_time_zone(time_zone) or DEFAULT_TIME_ZONE)
    return chosen


@contextmanager
def use_locale(locale: str | None, time_zone: str | None = None) -> Iterator[str]:
    """Speak ``locale`` (one of :data:`LOCALES`, else the default) and show times in
    ``time_zone`` (else UTC) inside the ``with`` block: for a message sent to someone outside
    a request (``with use_locale(owner.locale, owner.time_zone): ...``)."""
    chosen = supported(locale) or DEFAULT_LOCALE
    token = _current.set(chosen)
    zone = _zone.set(known_time_zone(time_zone) or DEFAULT_TIME_ZONE)
    try:
        yield chosen
    finally:
        _zone.reset(zone)
        _current.reset(token)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the language of the moment, with ``%(name)s`` filled from ``variables``.

    As in templates, the text is formatted only when variables are given.
    """
    text = translations(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The form of ``singular``/``plural`` for ``num``, translated; ``%(num)s`` is ``num``."""
    text = translations(_current.get()).ngettext(singular, plural, num)
    return text % {"num": num, **variables}


def N_(message: str) -> str:
    """Marks ``message`` for extraction only: it is translated where it is shown."""
    return message


@lru_cache(maxsize=16)
def _when_pattern(locale: str, full: bool, seconds: bool) -> str:
    """The CLDR pattern of a date with its time: ``EEEE d MMMM y 'à' HH:mm`` in French."""
    cldr = Locale.parse(locale)
    time_pattern = get_time_format("medium" if seconds else "short", locale=cldr).pattern
    if full:  # "lundi 4 mai 2026 à 09:15": the form of a date and a time that reads as one
        date_pattern = get_date_format("full", locale=cldr).pattern
        joined = cldr.datetime_formats_relative.get("full") or cldr.datetime_formats["full"]
    else:  # "4 mai 2026, 09:15": for lists
        date_pattern = get_date_format("medium", locale=cldr).pattern
        joined = cldr.datetime_formats["medium"]
    return str(joined).replace("{1}", date_pattern).replace("{0}", time_pattern)


def format_when(
    moment: float | dt.datetime,
    *,
    full: bool = False,
    seconds: bool = False,
    zone: str | None = None,
) -> str:
    """An epoch time (or an aware datetime) in the reader's language and time zone, or in
    ``zone`` (a schedule's own, say) when given.

    ``full``: ``lundi 4 mai 2026 à 09:15``; otherwise ``4 mai 2026, 09:15`` (for lists).
    """
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, tz=dt.UTC)
    locale = current_locale()
    return format_datetime(
        moment,
        _when_pattern(locale, full, seconds),
        tzinfo=_zone_info(zone or current_time_zone()),
        locale=locale,
    )


def format_clock(moment: float) -> str:
    """The time of day of an epoch time, in the reader's language and time zone (``09:00``,
    ``9:00 AM``)."""
    locale = current_locale()
    return format_time(
        dt.datetime.fromtimestamp(moment, tz=dt.UTC),
        "short",
        tzinfo=_zone_info(current_time_zone()),
        locale=locale,
    )


def format_day_time(hour: int, minute: int) -> str:
    """A time of day on no particular date, in the reader's language (``18:00``, ``6:00 PM``)."""
    return format_time(dt.time(hour, minute), "short", locale=current_locale())


def day_name(weekday: int) -> str:
    """The name of a day of week in the reader's language; ``weekday`` counts from Monday, 0."""
    return str(Locale.parse(current_locale()).days["format"]["wide"][weekday])


def format_list(items: list[str]) -> str:
    """Items joined the way the reader's language lists them (``A, B, and C``; ``A, B et C``)."""
    return _format_list(items, locale=current_locale())


def to_epoch(local: dt.datetime) -> float:
    """A naive date and time (what a form's ``datetime-local`` input sends) read in the
    reader's time zone, as an epoch time."""
    return local.replace(tzinfo=_zone_info(current_time_zone())).timestamp()


@lru_cache(maxsize=64)
def _zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def format_number(value: float | Decimal, *, places: int | None = None) -> str:
    """A number in the reader's language: ``12 345`` in French, ``12,345`` in English.

    ``places``: exactly that many decimals (``4,2`` with 1).
    """
    pattern = None if places is None else "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=current_locale())
