"""``/settings``: one's language, time zone, password and API tokens; for the owner, the users
too.

A new API token and a new member's password link are secrets shown once: the page that
creates them shows them in its answer (never in a redirect's flash cookie, never stored).
Tokens are created and revoked in place with htmx (the API tokens section is swapped, the
URL stays ``/settings``), with a plain form post as the fallback; the other forms post and
redirect, or show the page again with the link to give. Who may do what is the services'
rule: a member's request to manage users meets :class:`maillon.engine.errors.Forbidden`,
shown as a 403 page.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest

from maillon.engine.errors import Conflict, Invalid
from maillon.engine.i18n import LOCALES, time_zones, use_locale
from maillon.engine.i18n import gettext as _
from maillon.engine.services.accounts import Accounts, PasswordLink, User
from maillon.engine.services.tokens import Tokens
from maillon.engine.settings import Settings
from maillon.web.auth import SESSION_COOKIE, request_locale
from maillon.web.ui.assets import when
from maillon.web.ui.render import (
    AccountsDep,
    Flash,
    SettingsDep,
    TokensDep,
    form,
    problems,
    redirect,
    render,
)

__all__ = ["SettingsController"]

PAGE = "settings/index.html"
#: The API tokens section alone, for htmx.
TOKENS = "settings/_tokens.html"


async def _sections(user: User, accounts: Accounts, tokens: Tokens) -> dict[str, Any]:
    return {
        "section": "settings",
        "languages": LOCALES,
        "time_zones": time_zones(),
        "tokens": await tokens.list(user),
        "users": await accounts.list_users(user) if user.is_owner else [],
    }


def _link_url(settings: Settings, link: PasswordLink) -> str:
    return f"{settings.base_url}/set-password/{link.token}"


class SettingsController(Controller):
    """The settings page and the forms on it."""

    path = "/settings"

    @get("/")
    async def show(
        self, request: HTMXRequest, accounts: AccountsDep, tokens: TokensDep
    ) -> Response[bytes]:
        """Account, API tokens, and (for the owner) users."""
        return render(request, PAGE, **await _sections(request.user, accounts, tokens))

    @post("/preferences")
    async def set_preferences(
        self, request: HTMXRequest, accounts: AccountsDep, tokens: TokensDep, settings: SettingsDep
    ) -> Response[bytes]:
        """Choose the language and time zone of one's pages (empty: the browser's, the
        install's)."""
        data = await form(request)
        try:
            user = await accounts.set_preferences(
                request.user, data.get("locale", ""), data.get("time_zone", "")
            )
        except Invalid as exc:
            sections = await _sections(request.user, accounts, tokens)
            return render(request, PAGE, said=problems(exc), **sections)
        # The next page speaks the new language: say it there, in that language (the
        # browser's, when the account leaves the choice to it).
        language = request_locale(
            user, request.headers.get("accept-language"), settings.default_locale
        )
        with use_locale(language, user.time_zone):
            saved = _("Your language and time zone are saved.")
        return redirect("/settings", ("success", saved))

    @post("/password")
    async def change_password(
        self, request: HTMXRequest, accounts: AccountsDep, tokens: TokensDep
    ) -> Response[bytes]:
        """Change one's own password; other browsers signed in as this user are signed out."""
        data = await form(request)
        try:
            await accounts.change_password(
                request.user,
                data.get("current_password", ""),
                data.get("new_password", ""),
                keep_session=request.cookies.get(SESSION_COOKIE),
            )
        except Invalid as exc:
            sections = await _sections(request.user, accounts, tokens)
            return render(request, PAGE, said=problems(exc), **sections)
        return redirect("/settings", ("success", _("Your password is changed.")))

    @post("/tokens")
    async def create_token(
        self, request: HTMXRequest, accounts: AccountsDep, tokens: TokensDep
    ) -> Response[bytes]:
        """Create an API token and show it, once."""
        data = await form(request)
        said: list[Flash] = []
        new_token = None
        try:
            info, new_token = await tokens.create(data.get("name", ""), request.user)
            created = _("Token “%(name)s” created. Copy it now: it is shown once.", name=info.name)
            said.append(("success", created))
        except Invalid as exc:
            said = problems(exc)
        if request.htmx:
            listed = await tokens.list(request.user)
            return render(request, TOKENS, said=said, new_token=new_token, tokens=listed)
        sections = await _sections(request.user, accounts, tokens)
        return render(request, PAGE, said=said, new_token=new_token, **sections)

    @post("/tokens/{token_id:str}/revoke")
    async def revoke_token(
        self,
        request: HTMXRequest,
        accounts: AccountsDep,
        tokens: TokensDep,
        token_id: FromPath[str],
    ) -> Response[bytes]:
        """Revoke a token: htmx swaps the list in place; a plain form post redirects."""
        await tokens.revoke(token_id, request.user)
        said: Flash = ("success", _("Token revoked: programs using it are refused from now on."))
        if request.htmx:
            listed = await tokens.list(request.user)
            return render(request, TOKENS, said=[said], tokens=listed)
        return redirect("/settings", said)

    @post("/users")
    async def add_user(
        self, request: HTMXRequest, accounts: AccountsDep, tokens: TokensDep, settings: SettingsDep
    ) -> Response[bytes]:
        """Add a member and show the one-time link to give them."""
        data = await form(request)
        try:
            link = await accounts.add_member(
                request.user, data.get("email", ""), data.get("name", "")
            )
        except (Invalid, Conflict) as exc:
            sections = await _sections(request.user, accounts, tokens)
            return render(request, PAGE, said=problems(exc), user_values=data, **sections)
        return await self._with_link(request, accounts, tokens, settings, link)

    @post("/users/{user_id:str}/link")
    async def new_link(
        self,
        request: HTMXRequest,
        accounts: AccountsDep,
        tokens: TokensDep,
        settings: SettingsDep,
        user_id: FromPath[str],
    ) -> Response[bytes]:
        """A new one-time link for a member (their earlier link stops working)."""
        link = await accounts.issue_password_link(request.user, user_id)
        return await self._with_link(request, accounts, tokens, settings, link)

    @staticmethod
    async def _with_link(
        request: HTMXRequest,
        accounts: Accounts,
        tokens: Tokens,
        settings: Settings,
        link: PasswordLink,
    ) -> Response[bytes]:
        said: Flash = (
            "success",
            _(
                "Give %(name)s the link below: it lets them choose a password, once, until "
                "%(until)s.",
                name=link.user.name,
                until=when(link.expires_at),
            ),
        )
        sections = await _sections(request.user, accounts, tokens)
        return render(request, PAGE, said=[said], new_link=_link_url(settings, link), **sections)

    @post("/users/{user_id:str}/remove")
    async def remove_user(
        self, request: HTMXRequest, accounts: AccountsDep, user_id: FromPath[str]
    ) -> Response[bytes]:
        """Remove a member; their sessions and tokens end at once."""
        await accounts.remove_user(request.user, user_id)
        removed = _("User removed; their sessions and tokens ended.")
        return redirect("/settings", ("success", removed))
