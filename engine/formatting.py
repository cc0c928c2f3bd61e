"""Formatters for business data, on Babel: money, numbers, dates, text and lookup tables.

They are template filters (``{{ event.amount | money(event.currency, 'fr_FR') }}``) and, through
the format step, named values of their own. Babel holds the locales' conventions (the French
thousands separator, the place of the currency sign, the names of days and months), so none of
them is written here by hand.

Locales are written ``fr_FR`` or ``fr-FR``; time zones are IANA names (``Europe/Paris``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import (
    UnknownCurrencyError,
    format_currency,
    format_decimal,
    get_currency_precision,
    parse_pattern,
    validate_currency,
)

from maillon.engine.i18n import gettext as _

__all__ = [
    "FILTERS",
    "date",
    "datetime",
    "lookup",
    "money",
    "number",
    "slug",
    "to_datetime",
    "zone",
]

#: The locale of a formatter given none: the conventions Maillon's outputs always had.
DEFAULT_LOCALE = "en_US"
_NAMED = ("short", "medium", "long", "full")


@lru_cache(maxsize=256)
def _locale(name: str | None) -> Locale:
    try:
        return Locale.parse((name or DEFAULT_LOCALE).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(
            _("unknown locale %(name)r (for example fr_FR or en_US)", name=name)
        ) from exc


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; :class:`ValueError` in words when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            _("unknown timezone %(name)r (for example Europe/Paris)", name=name)
        ) from exc


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(_("%(value)r is not a number", value=value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(_("%(value)r is not a number", value=value)) from exc


@lru_cache(maxsize=256)
def _currency_digits(code: str) -> int | None:
    """The decimals of ``code``'s minor unit, ``None`` for no known currency.

    Babel's check lists every currency it knows, each time: once per code is enough."""
    try:
        validate_currency(code)
    except UnknownCurrencyError:
        return None
    return get_currency_precision(code)


#: The number of an amount written without a locale; its currency code is written after it.
#: Parsed once: Babel parses a pattern given as text at every call, and for a pattern with a
#: currency sign it looks up the currency's name even when the pattern does not show it.
_PLAIN_AMOUNT = parse_pattern("#,##0.00")


def money(
    minor: Any, currency: str = "EUR", locale: str | int | None = None, places: int | None = None
) -> str:
    """An amount in minor units (cents) in ``currency``: ``150000 | money('EUR', 'fr_FR')``
    gives ``1 500,00 €``; without a locale, ``1,500.00 EUR``. The currency's own number of
    decimals counts (``JPY`` has none) unless ``places`` says how many the amount has (a
    number given second is ``places``, as the filter took it before locales)."""
    if isinstance(locale, int) and not isinstance(locale, bool):
        locale, places = None, locale
    code = str(currency).upper()
    known = _currency_digits(code)
    if known is None:
        raise ValueError(_("unknown currency %(code)r (an ISO 4217 code, e.g. EUR)", code=currency))
    digits = known if places is None else int(places)
    if not 0 <= digits <= 12:
        # A huge count would have Babel write a number of as many digits.
        raise ValueError(_("money() takes 0 to 12 decimal places"))
    amount = _decimal(minor).scaleb(-digits)
    if locale is None:
        # The code after the number: how amounts read in Maillon's outputs before locales.
        plain = _PLAIN_AMOUNT.apply(amount, _locale(None), currency=code, currency_digits=True)
        return f"{plain} {code}"
    return format_currency(amount, code, locale=_locale(str(locale)))


def number(value: Any, locale: str | None = None, decimals: int | None = None) -> str:
    """``1234.5 | number('fr_FR')`` → ``1 234,5``; ``decimals`` fixes the decimal places."""
    amount = _decimal(value)
    pattern = None
    if decimals is not None:
        pattern = "#,##0" + ("." + "0" * int(decimals) if decimals else "")
    return format_decimal(amount, pattern, locale=_locale(locale), decimal_quantization=True)


def to_datetime(value: Any, parse: str | None = None) -> dt.datetime:
    """A moment from an ISO 8601 text (``Z`` or an offset; none is UTC), epoch seconds, or
    a text in the ``parse`` format (``%d/%m/%Y``)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif parse:
        parsed = dt.datetime.strptime(str(value).strip(), parse)
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(
                _("%(value)r is not a date (ISO 8601, e.g. 2026-05-04T09:15:00Z)", value=value)
            ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def date(
    value: Any,
    format: str = "%Y-%m-%d %H:%M",
    tz: str = "UTC",
    locale: str | None = None,
    parse: str | None = None,
) -> str:
    """A date in a time zone: ``short``, ``medium``, ``long`` or ``full`` in a locale
    (``date('full', 'Europe/Paris', 'fr_FR')`` → ``lundi 4 mai 2026``), a Babel pattern
    (``'EEEE d MMMM'``), or a ``strftime`` format (``'%d/%m/%Y'``)."""
    local = to_datetime(value, parse).astimezone(zone(tz))
    if "%" in format:
        return local.strftime(format)
    if format in _NAMED:
        return format_date(local.date(), format, locale=_locale(locale))
    return format_datetime(local, format, tzinfo=local.tzinfo, locale=_locale(locale))


def datetime(
    value: Any,
    format: str = "medium",
    tz: str = "UTC",
    locale: str | None = None,
    parse: str | None = None,
) -> str:
    """A date and time in a time zone and locale: ``short`` … ``full`` or a Babel pattern."""
    local = to_datetime(value, parse).astimezone(zone(tz))
    return format_datetime(local, format, tzinfo=local.tzinfo, locale=_locale(locale))


#: Latin letters that Unicode does not decompose into a base letter and an accent, spelt as
#: they usually are in ASCII.
_SPELT = str.maketrans(
    {"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l"}
    | {"Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"}
)


def slug(value: Any, length: int = 80) -> str:
    """``"Éco-Prêt 2026 !"`` → ``eco-pret-2026``, ``"Ølberg Straße"`` → ``olberg-strasse``:
    ASCII, lower case, words joined by ``-``."""
    spelt = str(value).translate(_SPELT)
    ascii_text = unicodedata.normalize("NFKD", spelt).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[: int(length)].strip("-")


_NO_DEFAULT = object()


def lookup(value: Any, table: Mapping[Any, Any], default: Any = _NO_DEFAULT) -> Any:
    """``event.status | lookup({'PENDING': 'en attente'}, 'autre')``: the table's entry for the
    value (compared as text too), else ``default``, else the value itself."""
    if not isinstance(table, Mapping):
        raise ValueError(_("lookup needs a table: {'key': 'value', …}"))
    if value in table:
        return table[value]
    text = str(value)
    if text in table:
        return table[text]
    return value if default is _NO_DEFAULT else default


#: The template filters, by name.
FILTERS = {
    "money": money,
    "number": number,
    "date": date,
    "datetime": datetime,
    "slug": slug,
    "lookup": lookup,
}
