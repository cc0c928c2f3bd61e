"""The pages that let a person in: set-up of a new install, sign-in and out, choosing a password.

They are anonymous routes (no user needed) whose forms are checked against CSRF like all
others. Every rule (who may set up, the sign-in limits, sessions) is the Accounts service's;
these handlers read the form, call it, and answer with a page or a redirect.
"""

from __future__ import annotations

import math
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS

from maillon.engine.errors import Conflict, Invalid, RateLimited
from maillon.engine.i18n import gettext as _
from maillon.engine.i18n import ngettext
from maillon.web.auth import ANONYMOUS, SESSION_COOKIE, session_cookie
from maillon.web.ui.render import (
    AccountsDep,
    SettingsDep,
    form,
    problems,
    redirect,
    render,
    safe_path,
)

__all__ = ["AccessController"]


class AccessController(Controller):
    """``/setup``, ``/sign-in``, ``/sign-out`` and ``/set-password/{token}``."""

    opt = ANONYMOUS

    @get("/setup")
    async def setup_page(self, request: HTMXRequest, accounts: AccountsDep) -> Response[bytes]:
        """The first visit's page: create the owner account (gone once it exists)."""
        if not await accounts.needs_setup():
            raise NotFoundException(_("Maillon is set up already: sign in instead."))
        return render(request, "setup.html", values={})

    @post("/setup")
    async def set_up(
        self, request: HTMXRequest, accounts: AccountsDep, settings: SettingsDep
    ) -> Response[bytes]:
        """Create the owner and sign them in."""
        data = await form(request)
        try:
            signed_in = await accounts.set_up(
                data.get("email", ""), data.get("name", ""), data.get("password", "")
            )
        except Invalid as exc:
            return render(request, "setup.html", said=problems(exc), values=data)
        except Conflict:
            return redirect("/sign-in", ("info", _("Maillon is set up already: sign in.")))
        return redirect(
            "/",
            ("success", _("Welcome, %(name)s. Maillon is ready.", name=signed_in.user.name)),
            cookies=[session_cookie(settings, signed_in)],
        )

    @get("/sign-in")
    async def sign_in_page(
        self,
        request: HTMXRequest,
        accounts: AccountsDep,
        next_path: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
    ) -> Response[bytes]:
        """The sign-in form (the set-up page on an empty install)."""
        if await accounts.needs_setup():
            return redirect("/setup")
        if request.user is not None:
            return redirect(safe_path(next_path))
        return render(request, "sign_in.html", values={"next": safe_path(next_path)})

    @post("/sign-in")
    async def sign_in(
        self, request: HTMXRequest, accounts: AccountsDep, settings: SettingsDep
    ) -> Response[bytes]:
        """Check the password (within the limits) and open a session."""
        data = await form(request)
        values = {"email": data.get("email", ""), "next": safe_path(data.get("next"))}
        client = request.client.host if request.client else ""
        try:
            signed_in = await accounts.sign_in(values["email"], data.get("password", ""), client)
        except Invalid as exc:
            return render(request, "sign_in.html", said=problems(exc), values=values)
        except RateLimited as exc:
            minutes = math.ceil(exc.retry_after / 60)
            return render(
                request,
                "sign_in.html",
                status=HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(math.ceil(exc.retry_after))},
                said=[
                    (
                        "error",
                        ngettext(
                            "Too many failed sign-ins. Try again in %(num)s minute.",
                            "Too many failed sign-ins. Try again in %(num)s minutes.",
                            minutes,
                        ),
                    )
                ],
                values=values,
            )
        return redirect(values["next"], cookies=[session_cookie(settings, signed_in)])

    @post("/sign-out")
    async def sign_out(
        self, request: HTMXRequest, accounts: AccountsDep, settings: SettingsDep
    ) -> Response[bytes]:
        """End this browser's session, here and in every process."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await accounts.sign_out(token)
        return redirect(
            "/sign-in",
            ("info", _("You are signed out.")),
            cookies=[session_cookie(settings, None)],
        )

    @get("/set-password/{token:str}")
    async def set_password_page(
        self, request: HTMXRequest, accounts: AccountsDep, token: FromPath[str]
    ) -> Response[bytes]:
        """The form behind a one-time link the owner gave a member."""
        user = await accounts.password_link_user(token)
        return render(request, "set_password.html", link_user=user, token=token)

    @post("/set-password/{token:str}")
    async def set_password(
        self, request: HTMXRequest, accounts: AccountsDep, token: FromPath[str]
    ) -> Response[bytes]:
        """Use the link once; the member then signs in with their new password."""
        data = await form(request)
        try:
            user = await accounts.set_password_with_link(token, data.get("password", ""))
        except Invalid as exc:
            link_user = await accounts.password_link_user(token)
            return render(
                request, "set_password.html", said=problems(exc), link_user=link_user, token=token
            )
        return redirect(
            "/sign-in",
            ("success", _("Your password is set, %(name)s: sign in with it.", name=user.name)),
        )
