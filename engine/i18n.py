"""The languages Maillon speaks: its message catalogues, and the language of the moment.

Texts are written in English in the code and the templates, marked for translation
(``_("Flow saved.")`` in Python, ``{% trans %}`` or ``_()`` in templates), extracted by
``pybabel extract`` with ``engine/locale/babel.cfg``, and translated in
``engine/locale/<language>/LC_MESSAGES/messages.po``. English needs no catalogue.

Catalogues are read from their ``.po`` text and compiled in memory the first time a language is
used (a few milliseconds, once per process), rather than shipped as compiled ``.mo`` files: an
editable install, a wheel and a checkout then all use exactly the committed text, and no build
step can be forgotten or leave a stale ``.mo`` behind.

The language of the moment lives in a context variable: the web layer sets it for each request
(the account's language, else the browser's, else ``MAILLON_DEFAULT_LOCALE``), and code that
works outside a request, such as a message sent to a flow's owner, sets it with
:func:`use_locale` or asks :func:`translations` for a language's catalogue directly.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "CATALOGUES",
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "current_locale",
    "gettext",
    "negotiate",
    "ngettext",
    "set_locale",
    "supported",
    "translations",
    "use_locale",
]

#: Where the catalogues are: ``<language>/LC_MESSAGES/messages.po``.
CATALOGUES = Path(__file__).resolve().parent / "locale"
#: The languages of the UI, by their code; English is the language of the source texts.
LOCALES: dict[str, str] = {"en": "English", "fr": "Français"}
#: The language used where nothing else is known (a command line, a worker).
DEFAULT_LOCALE = "en"

_current: ContextVar[str] = ContextVar("maillon_locale", default=DEFAULT_LOCALE)


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
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled)


def current_locale() -> str:
    """The language of the moment (the request's, or the one set by :func:`use_locale`)."""
    return _current.get()


def set_locale(locale: str | None) -> str:
    """Speak ``locale`` (else the default) for the rest of the current task, and say which.

    For a request: an ASGI server runs each request in a task of its own, whose context ends
    with it, so nothing needs resetting, and the error pages rendered after the handler (by
    the framework's outer layers) still speak the request's language.
    """
    chosen = supported(locale) or DEFAULT_LOCALE
    _current.set(chosen)
    return chosen


@contextmanager
def use_locale(locale: str) -> Iterator[str]:
    """Speak ``locale`` (one of :data:`LOCALES`, else the default) inside the ``with`` block."""
    chosen = supported(locale) or DEFAULT_LOCALE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
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
