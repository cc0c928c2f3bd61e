"""What every UI page shares: rendering with the layout's context, flash messages, redirects.

Handlers stay transport only: read the form (:func:`form`), call one engine service, then
:func:`render` a page or :func:`redirect` after a change (POST, redirect, GET: a reload does
not post the form again).

A flash message is the line a page shows after such a redirect ("User added"). It travels in a
short-lived cookie rather than in the database: it is not secret, it is read and deleted by the
very next page, and a cookie costs no write. Only known kinds and bounded text are accepted back
from the browser, and templates escape it like any other text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from maillon.engine.errors import Conflict, Invalid
from maillon.engine.redirects import is_local_path
from maillon.engine.services import Services
from maillon.engine.services.accounts import Accounts
from maillon.engine.services.tokens import Tokens
from maillon.engine.settings import Settings

__all__ = [
    "AccountsDep",
    "Flash",
    "ServicesDep",
    "SettingsDep",
    "TokensDep",
    "digits",
    "form",
    "problems",
    "redirect",
    "render",
    "safe_path",
]

#: The services, as the UI router provides them (``accounts``, ``tokens``, ``settings``, and
#: all of them as ``services``).
AccountsDep = NamedDependency[Accounts]
TokensDep = NamedDependency[Tokens]
ServicesDep = NamedDependency[Services]
SettingsDep = NamedDependency[Settings]

FLASH_COOKIE = "maillon_flash"
_KINDS = ("success", "error", "info")
_MAX_FLASH = 500

#: ``(kind, text)``: kind is ``success``, ``error`` or ``info``.
Flash = tuple[Literal["success", "error", "info"], str]


def _encode(flashes: Iterable[Flash]) -> str:
    data = json.dumps([[kind, text[:_MAX_FLASH]] for kind, text in flashes])
    return base64.urlsafe_b64encode(data.encode()).decode()


def _decode(value: str) -> list[Flash]:
    try:
        items = json.loads(base64.urlsafe_b64decode(value[:4096].encode()))
    except (binascii.Error, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [
        (item[0], item[1][:_MAX_FLASH])
        for item in items[:5]
        if isinstance(item, list)
        and len(item) == 2
        and item[0] in _KINDS
        and isinstance(item[1], str)
    ]


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    said: Iterable[Flash] = (),
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Template:
    """``template`` with the layout's context: the user, and the messages to show.

    ``said`` are messages about this very response (a form's errors, a token revoked in
    place); messages flashed before the last redirect come first.
    """
    pending = request.cookies.get(FLASH_COOKIE)
    flashes = [*(_decode(pending) if pending else []), *said]
    response = Template(
        template_name=template,
        context={"user": request.user, "flashes": flashes, **context},
        status_code=status,
        headers=dict(headers or {}),
    )
    if pending is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(path: str, *flashes: Flash, cookies: Iterable[Cookie] = ()) -> Redirect:
    """A 303 to ``path`` (a GET follows), carrying ``flashes`` for the page there."""
    jar = list(cookies)
    if flashes:
        jar.append(Cookie(key=FLASH_COOKIE, value=_encode(flashes), httponly=True, path="/"))
    return Redirect(path=path, status_code=303, cookies=jar)


async def form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form's text fields (the last value of a repeated name)."""
    data = await request.form()
    return {key: value for key, value in data.items() if isinstance(value, str)}


def digits(text: str, most: int) -> bool:
    """Whether a form's ``text`` is a whole number ``int()`` reads, of at most ``most`` digits:
    ASCII ones only (``str.isdigit()`` takes "²", a key of French keyboards, which ``int()``
    refuses). Anything else is kept as typed, for validation to say what is wrong with it."""
    return text.isascii() and text.isdigit() and len(text) <= most


def safe_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    return target if target and is_local_path(target) else default


def problems(exc: Invalid | Conflict) -> list[Flash]:
    """A refused form's reasons, as error messages (sentences, as the page shows them)."""
    reasons = exc.problems if isinstance(exc, Invalid) else [str(exc)]
    return [("error", r[:1].upper() + r[1:] + ".") for r in reasons]
