"""Durations as people type them, in English or French: ``90s``, ``15m``, ``1h30m``, ``1d 12h``,
``2 days``, ``15 min``, ``1h30``, ``2 jours``, ``1 sem``, ``1,5 h``; a bare number is seconds.

What schedules (``every``) and delay steps (``duration``) read. Months and years are not units:
their length varies, and a date (a delay's ``until``, a cron expression) says those better.
"""

from __future__ import annotations

import re

__all__ = ["seconds_in"]

#: Each unit's words, English and French, by its length in seconds.
_WORDS: dict[int, tuple[str, ...]] = {
    1: ("s", "sec", "secs", "second", "seconds", "seconde", "secondes"),
    60: ("m", "min", "mins", "minute", "minutes"),
    3600: ("h", "hr", "hrs", "hour", "hours", "heure", "heures"),
    86_400: ("d", "j", "day", "days", "jour", "jours"),
    604_800: ("w", "wk", "wks", "week", "weeks", "sem", "semaine", "semaines"),
}
_UNITS = {word: seconds for seconds, words in _WORDS.items() for word in words}
_NUMBER = r"\d{1,9}(?:[.,]\d{1,6})?"
_AMOUNT = re.compile(rf"({_NUMBER})\s*([^\W\d_]+)")
_AMOUNTS = re.compile(rf"(?:\s*{_NUMBER}\s*[^\W\d_]+)+\s*")
#: ``1h30``: hours then minutes, as French writes a length of time.
_HOURS_MINUTES = re.compile(r"(\d{1,6})\s*h\s*([0-5]?\d)")
#: Longer is no duration anybody types: not worth reading.
_LONGEST = 60


def seconds_in(text: str) -> float | None:
    """The seconds ``text`` says, or ``None`` if it is not a duration."""
    said = text.strip().lower()
    if len(said) > _LONGEST:
        return None
    if re.fullmatch(_NUMBER, said):
        return _number(said)
    hours_minutes = _HOURS_MINUTES.fullmatch(said)
    if hours_minutes:
        return int(hours_minutes[1]) * 3600.0 + int(hours_minutes[2]) * 60.0
    if not _AMOUNTS.fullmatch(said):
        return None
    total = 0.0
    for amount, unit in _AMOUNT.findall(said):
        if unit not in _UNITS:
            return None
        total += _number(amount) * _UNITS[unit]
    return total


def _number(text: str) -> float:
    return float(text.replace(",", "."))
