"""``/connections``: the app accounts that flows use. List, add, edit, test, delete, connect.

Pages and forms (every one behind sign-in, every form with its CSRF token):

- ``GET /connections``: each connection with its app, its last test, the flows using it, and
  for app accounts with triggers (Particeep) where their events arrive and whether the app was
  told to send them.
- ``GET /connections/new``: choose the app; ``GET /connections/new?app=<kind>``: its form,
  generated from the app's connection model, after "Connect with <provider>" for apps that
  connect with OAuth. ``POST`` to the same URL saves, then shows the connection's page.
- ``GET /connections/{ref}`` (id or name): the connection's page, with its settings form;
  ``POST`` saves. Secrets are write-only: the page says which are set, never what they are,
  and a secret input left empty keeps the stored value (a checkbox removes an optional one).
- ``POST /connections/{ref}/test``: asks the app; with htmx the answer is the outcome alone,
  for the page's ``aria-live`` region.
- ``POST /connections/{ref}/delete``: refused, with the reason, while flows use it.
- ``POST /connections/{ref}/registrations``: for app accounts with triggers, compare the
  webhooks registered at the app with what the flows that are on need, or (``repair=1``) fix
  the difference; the page then says what was found or done.
- ``POST /connections/new/connect?app=<kind>`` and ``POST /connections/{ref}/reconnect``:
  start the app's consent. With htmx the answer sends the browser there (``HX-Redirect``);
  without, a page with the link, because the pages' Content-Security-Policy lets forms post to
  this site only (a form's redirect to the app would be blocked). The callback
  (:mod:`maillon.web.oauth`) brings the person back to the connection's page with a message.

**Inline creation, for the flow editor.** ``GET /connections/new?app=<kind>&inline=1`` answers
the form alone, without the layout, to show in a ``<dialog>`` that has its own ``<h2>`` (the
fragment's headings are ``<h3>``). The form posts with htmx to that same URL and swaps itself
(``hx-target="this"``, ``outerHTML``):

- saved: ``200`` with ``HX-Trigger: {"connection-created": {"name": "<name>", "app":
  "<kind>"}}``; htmx fires ``connection-created`` on the form (it bubbles to the document)
  with ``event.detail.name`` and ``event.detail.app``: the editor closes its dialog and
  selects the connection. The body is the page's messages region alone, swapped out of band
  (that it was saved, and the flows whose secret inputs the name's reuse dropped): the form
  itself is swapped for nothing;
- refused: ``200`` with the form again, each problem next to its input.

For apps that connect with OAuth the fragment offers "Connect with <provider>" too: the
consent leaves the editor's page, and comes back to it (its URL, from htmx's
``HX-Current-URL`` header) with a message.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest

from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.i18n import gettext as _
from maillon.engine.i18n import ngettext
from maillon.engine.services import Services
from maillon.engine.services.connections import App, ConnectionView, FlowUse
from maillon.engine.services.oauth import ConsentForm
from maillon.engine.services.sources import SourceSync
from maillon.web.ui.render import Flash, ServicesDep, form, redirect, render
from maillon.web.ui.schema import FormField, as_text, form_fields, read_form

__all__ = ["ConnectionsController"]

#: Inputs of the connection's fields are named ``values.<field>``, as the engine names their
#: problems; those of the fields asked before a consent ``consent.<field>``, so that both forms
#: may share a page without sharing ids.
VALUES = "values."
CONSENT = "consent."
#: ``clear.<field>``: the checkbox that removes a stored optional secret.
CLEAR = "clear."

#: The message kind of a test's outcome (``None``: nothing could be tested).
_TESTED: dict[bool | None, Literal["success", "error", "info"]] = {
    True: "success",
    False: "error",
    None: "info",
}


def _name_field() -> FormField:
    """The connection's name, as the forms ask for it (in the request's language)."""
    return FormField(
        name="name",
        title=_("Name"),
        help=_("How flows refer to this connection, e.g. team-slack or backoffice-google."),
        required=True,
        kind="text",
    )


@dataclass
class Refusal:
    """Why a form was not accepted: reasons by input name, and the others."""

    by_input: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_input or self.general)

    @classmethod
    def of(cls, exc: Invalid | Conflict, inputs: set[str]) -> Refusal:
        """The engine's reasons: those about an input on the form go next to it. A conflict
        saving a connection is about its name (taken, or kept while flows use it)."""
        if isinstance(exc, Conflict):
            if "name" in inputs:
                return cls(by_input={"name": _sentence(str(exc))})
            return cls(general=[_sentence(str(exc))])
        refusal = cls(general=[_sentence(r) for r in exc.general])
        for name, reason in exc.fields.items():
            if name in inputs:
                refusal.by_input[name] = _sentence(reason)
            else:
                refusal.general.append(_sentence(f"{name.removeprefix(VALUES)}: {reason}"))
        return refusal


@dataclass
class SettingsForm:
    """The form of a connection's fields, generated from its app's connection model."""

    app: App
    action: str
    fields: list[FormField]
    name: str = ""
    #: The text each non-secret input shows.
    texts: dict[str, str] = field(default_factory=dict)
    #: Secrets that are stored (their inputs say so; their values never leave the server).
    secrets_set: set[str] = field(default_factory=set)
    refusal: Refusal = field(default_factory=Refusal)
    editing: bool = False
    inline: bool = False

    @property
    def name_field(self) -> FormField:
        """The input of the connection's name."""
        return _name_field()


@dataclass
class ConnectForm:
    """The form that starts an app's consent (a new connection, or a reconnection)."""

    app: App
    consent: ConsentForm
    action: str
    fields: list[FormField] = field(default_factory=list)
    #: Fields rarely needed (the app's URLs), folded away.
    advanced: list[FormField] = field(default_factory=list)
    name: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    refusal: Refusal = field(default_factory=Refusal)
    #: Where the consent comes back to, when not the connection's page (the flow editor).
    return_to: str | None = None
    reconnect: bool = False

    @property
    def name_field(self) -> FormField:
        """The input of the connection's name."""
        return _name_field()

    @property
    def advanced_open(self) -> bool:
        """Whether a folded field holds something: a value typed, or a problem."""
        return any(
            self.texts.get(f.name) or CONSENT + f.name in self.refusal.by_input
            for f in self.advanced
        )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _app(services: Services, kind: str) -> App:
    """The app ``kind``; an app that is not installed is a page not found."""
    try:
        return services.connections.app(kind)
    except Invalid as exc:
        raise NotFound(exc.problems[0]) from exc


def _fields(app: App) -> list[FormField]:
    return form_fields(app.connection.model_json_schema())


def _read(
    fields: list[FormField], data: dict[str, str], prefix: str
) -> tuple[dict[str, Any], Refusal]:
    values, problems = read_form(fields, data, prefix)
    return values, Refusal({prefix + k: _sentence(v) for k, v in problems.items()})


def _inputs(fields: list[FormField], prefix: str) -> set[str]:
    return {"name", *(prefix + f.name for f in fields)}


def _typed(fields: list[FormField], data: dict[str, str], prefix: str) -> dict[str, str]:
    """What was typed in the non-secret inputs, to show again with the problems."""
    return {f.name: data.get(prefix + f.name, "") for f in fields if f.kind != "secret"}


def _settings_form(
    app: App, action: str, view: ConnectionView | None = None, **extra: Any
) -> SettingsForm:
    fields = _fields(app)
    if view is None:
        return SettingsForm(app, action, fields, **extra)
    texts = {f.name: as_text(view.config.get(f.name)) for f in fields if f.kind != "secret"}
    return SettingsForm(
        app,
        action,
        fields,
        name=view.row.name,
        texts=texts,
        secrets_set=set(view.secrets_set),
        editing=True,
        **extra,
    )


def _new_action(app: App, inline: bool = False) -> str:
    return f"/connections/new?app={quote(app.kind)}" + ("&inline=1" if inline else "")


def _connect_form(
    services: Services, app: App, action: str | None = None, **extra: Any
) -> ConnectForm | None:
    """The consent form of ``app`` (posted to ``action``: by default, the one that starts a
    new connection), or ``None`` when the app does not connect with OAuth."""
    if app.oauth is None:
        return None
    consent = services.oauth.form(app.kind)
    by_name = {f.name: f for f in _fields(app)}
    asked = [
        dataclasses.replace(by_name[n], required=by_name[n].required or n in consent.required)
        for n in consent.fields
        if n in by_name
    ]
    advanced = [by_name[n] for n in consent.advanced if n in by_name]
    action = action or f"/connections/new/connect?app={quote(app.kind)}"
    return ConnectForm(app, consent, action, fields=asked, advanced=advanced, **extra)


def _current_page(request: HTMXRequest) -> str | None:
    """The path of the page an htmx request comes from (the flow editor's)."""
    current = request.headers.get("hx-current-url")
    if not current:
        return None
    parts = urlsplit(current)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _new_page(
    request: HTMXRequest,
    settings: SettingsForm,
    connect: ConnectForm | None,
    said: list[Flash] | None = None,
) -> Response[Any]:
    template = "connections/_new.html" if settings.inline else "connections/new.html"
    return render(
        request,
        template,
        said=said or [],
        section="connections",
        app=settings.app,
        settings_form=settings,
        connect_form=connect,
    )


def _to_consent(request: HTMXRequest, url: str) -> Response[Any]:
    """Send the browser to the app's consent screen (see the module's docstring for why not
    with a redirect of the form's post)."""
    if request.htmx:
        return ClientRedirect(url)
    return render(request, "connections/consent.html", section="connections", consent_url=url)


def _names(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(sorted({event for event, _url in pairs}))


def _compared(result: SourceSync, app: str, repaired: bool) -> list[Flash]:
    """What comparing (or repairing) an account's registrations found, in a few messages."""
    if result.report is None:
        reason = _("Could not compare with %(app)s: %(error)s", app=app, error=result.error)
        return [("error", _sentence(reason))]
    report = result.report
    said: list[Flash] = []
    if report.created:
        events = _names(report.created)
        done = (
            _("Registered at %(app)s: %(events)s.", app=app, events=events)
            if repaired
            else _("Missing at %(app)s: %(events)s.", app=app, events=events)
        )
        said.append(("info", done))
    if report.deleted:
        events = _names(report.deleted)
        done = (
            _("Removed from %(app)s: %(events)s.", app=app, events=events)
            if repaired
            else _("Not needed any more at %(app)s: %(events)s.", app=app, events=events)
        )
        said.append(("info", done))
    said.extend(
        ("error", _sentence(_("%(app)s refused %(event)s: %(reason)s", app=app, event=e, reason=r)))
        for e, _url, r in report.failed
    )
    if not said:
        needed = _names(report.registered) or _("none")
        said.append(
            (
                "success",
                _("%(app)s has what the flows need (events: %(events)s).", app=app, events=needed),
            )
        )
    elif not repaired and (report.created or report.deleted):
        said.append(("info", _("Repair registers what is missing and removes what is not needed.")))
    return said


#: Flows a flash names at most, and the characters of each name: the flash must fit its
#: cookie (500 characters), the instruction first.
_NAMED_FLOWS, _NAME_CHARS = 5, 30


def _saved(view: ConnectionView, said: str) -> list[Flash]:
    """What saving ``view`` did: ``said``, and the flows whose secret inputs it dropped, as
    the connection now sends elsewhere (a person must give them again there)."""
    flashes: list[Flash] = [("success", said)]
    dropped, older = view.secret_inputs_dropped, view.older_versions_dropped
    if dropped:
        flashes.append(
            (
                "info",
                ngettext(
                    "It now sends elsewhere, so the secret inputs of the steps that use it "
                    "were dropped, as they would have been sent there: give them again (until "
                    "then those steps fail) in flow %(flows)s.",
                    "It now sends elsewhere, so the secret inputs of the steps that use it "
                    "were dropped, as they would have been sent there: give them again (until "
                    "then those steps fail) in %(num)s flows: %(flows)s.",
                    len(dropped),
                    flows=_flow_names(dropped),
                ),
            )
        )
    if older:
        flashes.append(
            (
                "info",
                ngettext(
                    "Older versions of flow %(flows)s gave those steps secret inputs too, "
                    "dropped as well: its failed runs of those versions replay only with the "
                    "current version now.",
                    "Older versions of %(num)s flows gave those steps secret inputs too, "
                    "dropped as well: their failed runs of those versions replay only with the "
                    "current version now (%(flows)s).",
                    len(older),
                    flows=_flow_names(older),
                ),
            )
        )
    return flashes


def _flow_names(flows: tuple[FlowUse, ...]) -> str:
    """The first :data:`_NAMED_FLOWS` of ``flows`` by name, each cut, then how many others."""
    names = [_("“%(name)s”", name=_cut(f.name)) for f in flows[:_NAMED_FLOWS]]
    more = len(flows) - len(names)
    if more:
        names.append(ngettext("%(num)s other", "%(num)s others", more))
    return ", ".join(names)


def _cut(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _not_saved(refusal: Refusal, retype: bool = False) -> list[Flash]:
    """That the form was refused, and (``retype``) that the secrets typed in it must be
    typed again: the form comes back with them empty."""
    count = len(refusal.by_input) + len(refusal.general)
    said: list[Flash] = [
        (
            "error",
            ngettext(
                "Not saved: %(num)s problem, shown with the form.",
                "Not saved: %(num)s problems, shown with the form.",
                count,
            ),
        )
    ]
    if retype:
        said.append(("info", _("Type the secrets again: they never come back to the browser.")))
    return said


def _typed_secrets(fields: list[FormField], data: dict[str, str], prefix: str) -> bool:
    """Whether secret inputs were filled in a refused form (it comes back with them empty)."""
    return any(f.kind == "secret" and data.get(prefix + f.name, "").strip() for f in fields)


class ConnectionsController(Controller):
    """The connections pages; see the module's docstring."""

    path = "/connections"

    @get("/")
    async def index(self, request: HTMXRequest, services: ServicesDep) -> Response[Any]:
        """Every connection: its app, last test, flows and registrations."""
        return render(
            request,
            "connections/index.html",
            section="connections",
            connections=await services.connections.all(),
            apps={a.kind: a for a in services.connections.apps()},
        )

    @get("/new")
    async def new(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        app: FromQuery[str | None] = None,
        inline: FromQuery[bool] = False,
    ) -> Response[Any]:
        """Choose the app, then its form (alone with ``inline``: see the module's docstring)."""
        if app is None:
            return render(
                request,
                "connections/choose.html",
                section="connections",
                apps=services.connections.apps(),
            )
        chosen = _app(services, app)
        return_to = _current_page(request) if inline else None
        return _new_page(
            request,
            _settings_form(chosen, _new_action(chosen, inline), inline=inline),
            _connect_form(services, chosen, return_to=return_to),
        )

    @post("/new")
    async def create(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        app: FromQuery[str],
        inline: FromQuery[bool] = False,
    ) -> Response[Any]:
        """Save a new connection (inline: answer the editor with an event)."""
        chosen = _app(services, app)
        data = await form(request)
        settings = _settings_form(chosen, _new_action(chosen, inline), inline=inline)
        values, refusal = _read(settings.fields, data, VALUES)
        if not refusal:
            try:
                view = await services.connections.create(chosen.kind, data.get("name", ""), values)
            except (Invalid, Conflict) as exc:
                refusal = Refusal.of(exc, _inputs(settings.fields, VALUES))
            else:
                saved = (
                    _(
                        "Connection “%(name)s” saved. Test it to check that the app accepts the "
                        "credentials.",
                        name=view.row.name,
                    )
                    if chosen.testable
                    else _("Connection “%(name)s” saved.", name=view.row.name)
                )
                if inline:
                    # The editor stays: an event chooses the connection and closes the
                    # dialog; the messages (inputs a name's reuse dropped) go to its region.
                    created = {"name": view.row.name, "app": view.row.app}
                    return render(
                        request,
                        "_messages.html",
                        said=_saved(view, saved),
                        headers={"HX-Trigger": json.dumps({"connection-created": created})},
                    )
                return redirect(f"/connections/{view.row.id}", *_saved(view, saved))
        settings.name = data.get("name", "")
        settings.texts = _typed(settings.fields, data, VALUES)
        settings.refusal = refusal
        return_to = _current_page(request) if inline else None
        connect = _connect_form(services, chosen, return_to=return_to)
        retype = _typed_secrets(settings.fields, data, VALUES)
        said = None if inline else _not_saved(refusal, retype)
        return _new_page(request, settings, connect, said)

    @post("/new/connect")
    async def connect(
        self, request: HTMXRequest, services: ServicesDep, app: FromQuery[str]
    ) -> Response[Any]:
        """Start the consent for a new connection of ``app``."""
        chosen = _app(services, app)
        data = await form(request)
        connect = _connect_form(services, chosen, return_to=data.get("return_to") or None)
        if connect is None:
            raise NotFound(_("%(app)s accounts do not connect with OAuth", app=chosen.title))
        fields = connect.fields + connect.advanced
        values, refusal = _read(fields, data, CONSENT)
        name = data.get("name", "")
        if not refusal:
            back = connect.return_to or f"/connections/{quote(name.strip(), safe='')}"
            try:
                consent = await services.oauth.start(
                    chosen.kind, name, values, new=True, return_to=back
                )
            except (Invalid, Conflict) as exc:
                refusal = Refusal.of(exc, _inputs(fields, CONSENT))
            else:
                return _to_consent(request, consent.authorize_url)
        connect.name, connect.texts, connect.refusal = name, _typed(fields, data, CONSENT), refusal
        if request.htmx:
            return render(request, "connections/_connect.html", connect_form=connect)
        settings = _settings_form(chosen, _new_action(chosen))
        return _new_page(request, settings, connect, _not_saved(refusal))

    @get("/{ref:str}")
    async def show(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """A connection's page: its status, its flows, and its settings to edit."""
        view = await services.connections.get(ref)
        return self._page(request, services, view)

    @staticmethod
    def _page(
        request: HTMXRequest,
        services: Services,
        view: ConnectionView,
        settings: SettingsForm | None = None,
        said: list[Flash] | None = None,
    ) -> Response[Any]:
        try:
            app: App | None = services.connections.app(view.row.app)
        except Invalid:
            app = None  # its connector was uninstalled: shown, not editable
        action = f"/connections/{view.row.id}"
        if app is not None and settings is None:
            settings = _settings_form(app, action, view)
        connect = None
        if app is not None:
            connect = _connect_form(services, app, f"{action}/reconnect", reconnect=True)
        return render(
            request,
            "connections/show.html",
            said=said or [],
            section="connections",
            view=view,
            app=app,
            settings_form=settings,
            connect_form=connect,
        )

    @post("/{ref:str}")
    async def save(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """Save the settings: empty secrets are kept, other emptied fields go back to their
        defaults."""
        view = await services.connections.get(ref)
        app = _app(services, view.row.app)
        data = await form(request)
        settings = _settings_form(app, f"/connections/{view.row.id}", view)
        values, refusal = _read(settings.fields, data, VALUES)
        if not refusal:
            emptied = [
                f.name
                for f in settings.fields
                if f.kind != "secret" and not data.get(VALUES + f.name, "").strip()
            ]
            removed = [
                f.name
                for f in settings.fields
                if f.kind == "secret" and data.get(CLEAR + f.name) and f.name not in values
            ]
            try:
                saved = await services.connections.update(
                    view.row.id, values, name=data.get("name", ""), unset=emptied + removed
                )
            except (Invalid, Conflict) as exc:
                refusal = Refusal.of(exc, _inputs(settings.fields, VALUES))
            else:
                said = _("Connection “%(name)s” saved.", name=saved.row.name)
                return redirect(f"/connections/{saved.row.id}", *_saved(saved, said))
        settings.name = data.get("name", "")
        settings.texts = _typed(settings.fields, data, VALUES)
        settings.refusal = refusal
        retype = _typed_secrets(settings.fields, data, VALUES)
        return self._page(request, services, view, settings, _not_saved(refusal, retype))

    @post("/{ref:str}/test")
    async def test(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """Ask the app whether the credentials work (htmx: the outcome alone)."""
        check = await services.connections.test(ref)
        if request.htmx:
            return render(request, "connections/_check.html", check=check)
        said: Flash = (_TESTED[check.ok], _sentence(check.message))
        return redirect(f"/connections/{quote(ref, safe='')}", said)

    @post("/{ref:str}/delete")
    async def delete(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """Delete the connection, or say which flows keep it."""
        view = await services.connections.get(ref)
        try:
            await services.connections.delete(view.row.id)
        except Conflict as exc:
            return redirect(f"/connections/{view.row.id}", ("error", _sentence(str(exc))))
        deleted = _("Connection “%(name)s” deleted.", name=view.row.name)
        return redirect("/connections", ("success", deleted))

    @post("/{ref:str}/registrations")
    async def registrations(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """Compare the app's webhooks with what the flows need; ``repair=1`` fixes them."""
        repair = (await form(request)).get("repair") == "1"
        [result] = await services.sources.sync_accounts(ref, dry_run=not repair)
        row = result.connection
        try:
            app = services.connections.app(row.app).title
        except Invalid:
            app = row.app
        return redirect(f"/connections/{row.id}", *_compared(result, app, repair))

    @post("/{ref:str}/reconnect")
    async def reconnect(
        self, request: HTMXRequest, services: ServicesDep, ref: FromPath[str]
    ) -> Response[Any]:
        """Start the consent again for a connection (its settings are kept)."""
        view = await services.connections.get(ref)
        page = f"/connections/{view.row.id}"
        try:
            consent = await services.oauth.start(view.row.app, view.row.name, {}, return_to=page)
        except (Invalid, Conflict) as exc:
            refusal = Refusal.of(exc, set())
            app = _app(services, view.row.app)
            connect = _connect_form(services, app, f"{page}/reconnect", reconnect=True)
            if request.htmx and connect is not None:
                connect.refusal = refusal
                return render(request, "connections/_connect.html", connect_form=connect)
            said: list[Flash] = [("error", r) for r in refusal.general]
            return redirect(page, *said)
        return _to_consent(request, consent.authorize_url)
