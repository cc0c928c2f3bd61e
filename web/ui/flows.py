"""``/flows``: the flows list and the flow editor.

The editor is one form (see :mod:`maillon.web.ui.drafts`): structural changes (add, move or
remove a step, change the trigger or the sample) post it to ``/flows/{id}/editor`` and get it
back re-rendered; every templated input previews itself against the sample as it is typed
(``/preview``); "Test this step" runs one action for real (``/test/{n}``); saving checks the
whole flow and shows each problem next to its input. The sample is the flow's newest delivery
(or one picked from its recent ones), else the app's catalog sample; "Wait for a test event"
polls until a delivery arrives. Every rule is the engine's: these handlers read the form, call
the services, and render.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from pydantic import ValidationError

from maillon.connectors.base import Connector
from maillon.engine.digests import DigestSpec
from maillon.engine.errors import Conflict, Invalid
from maillon.engine.flows import (
    RUN_FAILED,
    AnyTrigger,
    AppEventTrigger,
    FlowValidationError,
    RunFailedTrigger,
    StepSpec,
    WebhookTrigger,
)
from maillon.engine.i18n import gettext as _
from maillon.engine.i18n import ngettext, time_zones
from maillon.engine.schedules import ScheduleTrigger
from maillon.engine.services import Services
from maillon.engine.services.editor import Preview, Sample
from maillon.engine.services.flows import DRAFT, FlowView
from maillon.engine.versions import shown_value
from maillon.web.auth import actor
from maillon.web.ui.drafts import (
    Draft,
    StepDraft,
    context_spec,
    kept_settings,
    place,
    step_fields,
    to_document,
)
from maillon.web.ui.fields import field_tree
from maillon.web.ui.render import Flash, ServicesDep, digits, form, redirect, render, safe_path
from maillon.web.ui.schema import as_text
from maillon.web.ui.steering import KINDS, OPERATOR_NAMES
from maillon.web.ui.timing import ScheduleDraft

__all__ = ["FlowsController"]

EDITOR = "flows/_editor.html"
_SOME_SCHEDULE = ScheduleTrigger(every="1h")
#: YAML files imported through the page: generous for flows, small for a form.
MAX_IMPORT = 256 * 1024


@dataclass
class ImportForm:
    """The import form, as Litestar reads a multipart form of a file and text fields: its
    ``_csrf_token`` field (checked before the handler runs) is left out, and a form sent without
    a file has ``file=None`` (a ``dict[str, UploadFile]`` refused the token's text field)."""

    file: UploadFile | None = None


def _choose_a_smaller_file() -> Flash:
    return ("error", _("Choose a YAML file of at most %(size)s KB.", size=MAX_IMPORT // 1024))


def _import_too_large(_request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    # The body is refused before the handler runs: say so on the list, as for a file too long.
    return redirect("/flows", _choose_a_smaller_file())


def _kept(before: FlowView, after: FlowView, published: bool) -> str:
    """What a save or a publish did, in a sentence."""
    if not published:
        if after.draft is None:
            return _("Saved: no change from the live version.")
        return _("Draft saved. The live flow is unchanged until you publish.")
    if after.row.version == before.row.version:
        return _("Nothing to publish: the live version is the same.")
    return _("Published: version %(version)s is live.", version=after.row.version)


def _connectors(services: Services) -> dict[str, Connector]:
    return {c.key: c for c in services.connections.catalog()}


def _trigger_model(draft: Draft) -> AnyTrigger:
    # Only the sample depends on it: built without validation, as the draft may be incomplete.
    if draft.trigger_type == "webhook":
        return WebhookTrigger()
    if draft.trigger_type == RUN_FAILED:
        return RunFailedTrigger()
    if draft.trigger_type == "schedule":
        try:
            return ScheduleTrigger.model_validate(draft.schedule.raw())
        except ValidationError:
            return _SOME_SCHEDULE  # a tick is a tick: only its time differs
    return AppEventTrigger.model_construct(
        type=draft.trigger_type, connection=draft.trigger_connection, event=draft.trigger_event
    )


async def _editor(
    services: Services,
    view: FlowView,
    draft: Draft,
    problems: dict[str, list[str]] | None = None,
    *,
    edits: str = "",
) -> dict[str, Any]:
    """Everything the editor's template shows; ``edits`` tells its script what became of the
    edits it holds: ``saved``, or ``refused`` (the problems are next to their inputs)."""
    connectors = _connectors(services)
    flow_id = view.row.id
    sample = await _sample(services, draft, flow_id)
    refused: dict[str, str] = {}
    spec = context_spec(draft, connectors, refused)
    outputs = _tested(draft)
    contexts = await services.editor.contexts(spec, sample, flow_id, outputs)
    steps = []
    for i, step in enumerate(draft.steps):
        built = spec.steps[i]
        context = services.editor.item_context(built, contexts[i])
        if step.kind != "action":
            steps.append(
                {
                    **await _steering_card(services, step, i, context),
                    "depth": _depth(draft, step),
                }
            )
            continue
        connector = connectors.get(step.action.partition(".")[0])
        fields = step_fields(connector, step.action)
        inputs = built.input if isinstance(built, StepSpec) else {}
        previews: dict[str, Preview | None] = {}
        for f in fields:
            name = f"steps-{i}-input-{f.name}"
            if "{" not in step.inputs.get(f.name, ""):
                continue
            if name in refused:
                # Saving refuses it: the preview says why, unless the reason is next to it.
                previews[f.name] = (
                    None if name in (problems or {}) else Preview(error=refused[name])
                )
            else:
                previews[f.name] = await services.editor.preview(
                    inputs.get(f.name), context, f.name, step.action
                )
        action = connector.action(step.action.partition(".")[2]) if connector else None
        said = {k for k in (problems or {}) if k.startswith(f"steps-{i}-input-")}
        # The inputs the action calls advanced wait under "More inputs" until one is used:
        # given a value other than their default (a save keeps a choice left at its default).
        folded = set(action.advanced_inputs) if action else set()
        primary = {
            f.name
            for f in fields
            if f.name not in folded
            or f.required
            or step.inputs.get(f.name, "").strip() not in ("", as_text(f.default))
        }
        steps.append(
            {
                "primary": primary,
                "more_open": any(k.removeprefix(f"steps-{i}-input-") not in primary for k in said),
                "draft": step,
                "fields": fields,
                "previews": previews,
                "connector": connector,
                "action": action,
                "kind": connector.connection_kind if connector else "",
                "needs_connection": bool(connector and connector.needs_connection),
                "accepts_connection": bool(connector and connector.accepts_connection),
                "depth": _depth(draft, step),
            }
        )
    placed: dict[str, list[str]] = defaultdict(list)
    for where, reasons in (problems or {}).items():
        placed[where].extend(reasons)
    warnings: dict[str, list[str]] = defaultdict(list)
    if problems is None:
        keys = {step.key: i for i, step in enumerate(draft.steps)}
        for warning in view.warnings:
            warnings[place(warning, keys)].append(warning.split(": ", 1)[-1])
    connections = await services.connections.all()
    by_kind: dict[str, list[str]] = defaultdict(list)
    for c in connections:
        by_kind[c.row.app].append(c.row.name)
    triggers = [(f"{c.key}.{t.key}", t, c) for c in connectors.values() for t in c.triggers]
    current = next((t for key, t, _connector in triggers if key == draft.trigger_type), None)
    names = await services.flows.names()
    # An error flow's choice of flows: the others, and any it names that this list lacks.
    others = [name for other, name in names.items() if other != flow_id]
    others += [name for name in draft.failed_flows if name not in others]
    trees = [field_tree(sample.body, "event")]
    for i, built in enumerate(spec.steps):
        tree = field_tree(
            outputs.get(built.key, services.editor.step_example(built)),
            f"steps.{built.key}",
            f"{i + 1}. {built.key}",
        )
        if built.key not in outputs:
            # Made up from the action's output model: not to be taken for what the app says.
            tree.preview = _(
                "%(count)s, example values until the step is tested", count=tree.preview
            )
        trees.append(tree)
    return {
        "section": "flows",
        "view": view,
        "draft": draft,
        "steps": steps,
        "problems": placed,
        "warnings": warnings,
        "sample": sample,
        "recent": await services.editor.recent_events(flow_id),
        "trees": trees,
        "actions": [(f"{c.key}.{a.key}", a, c) for c in connectors.values() for a in c.actions],
        "kinds": KINDS,
        "operators": OPERATOR_NAMES,
        "triggers": triggers,
        "events": current().events() if current else [],
        "trigger_kind": next(
            (c.connection_kind for k, _trigger, c in triggers if k == draft.trigger_type), ""
        ),
        "connections": by_kind,
        "other_flows": others,
        "alerts": await services.alerts.settings(),
        "timing": await services.schedules.timing(flow_id),
        # The names time zone inputs suggest, as the settings page offers them.
        "time_zones": time_zones(),
        "kept": kept_settings(view.editing),
        "now": time.time(),
        "edits": edits,
    }


def _digest_model(draft: Draft) -> DigestSpec | None:
    """The draft's digest as far as previews need it (what an item keeps, if that is valid)."""
    if not draft.digest.on:
        return None
    try:
        return DigestSpec.model_validate(draft.digest.raw())
    except ValidationError:
        return DigestSpec.model_construct(name=draft.digest.name, item=None)


async def _sample(services: Services, draft: Draft, flow_id: str) -> Sample:
    """The sample the draft previews against; the default one if the chosen one is gone."""
    trigger, digest = _trigger_model(draft), _digest_model(draft)
    try:
        return await services.editor.sample(
            trigger, flow_id, draft.sample_event or None, digest=digest
        )
    except LookupError:
        draft.sample_event = ""
        return await services.editor.sample(trigger, flow_id, digest=digest)


def _tested(draft: Draft) -> dict[str, Any]:
    """What the steps tested in this editor returned, by step key."""
    return {s.key: s.tested_output for s in draft.steps if s.tested_output is not None}


async def _steering_card(
    services: Services, step: StepDraft, index: int, context: dict[str, Any]
) -> dict[str, Any]:
    """What the editor shows of a filter, paths, delay or format step: its templated inputs'
    previews (by input name), as an action's."""
    prefix = f"steps-{index}-"
    texts: dict[str, str] = {"duration": step.steering.duration, "until": step.steering.until}
    groups = [("", step.steering.group)] + [
        (f"branch-{b}-", branch.group) for b, branch in enumerate(step.steering.branches)
    ]
    for at, group in groups:
        for c, cond in enumerate(group.conditions):
            texts[f"{at}cond-{c}-value"] = cond.value
            texts[f"{at}cond-{c}-to"] = cond.to
    for r, (_name, value) in enumerate(step.steering.formats):
        texts[f"fmt-{r}-value"] = value
    previews = {
        prefix + name: await services.editor.preview(text, context, name)
        for name, text in texts.items()
        if "{" in text
    }
    return {"draft": step, "previews": previews, "steering": step.kind}


def _depth(draft: Draft, step: StepDraft) -> int:
    """How many paths steps hold ``step``."""
    parents = {s.key: s.parent for s in draft.steps}
    depth, parent = 0, step.parent
    while parent and depth < 10:
        depth += 1
        parent = parents.get(parent.partition(".")[0], "")
    return depth


def _apply(draft: Draft, op: str, add_to: str = "") -> str | None:
    """A structural change asked by an editor button (``add:slack.send_message``, ``up:2``);
    ``add_to``: the branch a step is added to (``<paths key>.<branch name>``), if any. Returns
    why the change was not made, if it was not."""
    verb, _sep, arg = op.partition(":")
    if verb == "add" and arg:
        try:
            draft.add_step(arg, add_to)
        except LookupError:
            paths, _dot, branch = add_to.partition(".")
            return _(
                "The step was not added: the branch “%(branch)s” of %(paths)s is no longer "
                "in the flow. Choose where to add it again.",
                branch=branch,
                paths=paths,
            )
    elif verb in ("up", "down", "remove") and digits(arg, 6):
        index = int(arg)
        if verb == "remove":
            draft.remove(index)
        else:
            draft.move(index, -1 if verb == "up" else 1)
    return None


def _focus_after(op: str, before: list[str], draft: Draft) -> int | None:
    """The step whose card takes the focus once ``op`` is applied: the one added or moved,
    else the one now where a removed step was (``None``: none)."""
    after = [step.key for step in draft.steps]
    added = [key for key in after if key not in before]
    if added:
        return after.index(added[0])
    verb, _sep, arg = op.partition(":")
    if not digits(arg, 6) or not after:
        return None
    if verb in ("up", "down") and int(arg) < len(before) and before[int(arg)] in after:
        return after.index(before[int(arg)])
    return min(int(arg), len(after) - 1) if verb == "remove" else None


class FlowsController(Controller):
    """The flows list and the flow editor."""

    path = "/flows"

    @get("/")
    async def index(
        self, request: HTMXRequest, services: ServicesDep, q: FromQuery[str] = ""
    ) -> Response[bytes]:
        """Every flow with its trigger, state and recent runs; searchable by name."""
        views = await services.flows.all(q[:200] or None)
        activity = await services.stats.activity([v.row.id for v in views])
        context: dict[str, Any] = {
            "section": "flows",
            "views": views,
            "activity": activity,
            "q": q,
        }
        if request.htmx and request.htmx.target == "flow-rows":
            # The messages region too: what the last switch said is not about these results.
            return render(request, "flows/_rows.html", oob_messages=True, **context)
        return render(request, "flows/index.html", **context)

    @get("/new")
    async def new(self, request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
        """Name the flow and say what starts it."""
        triggers = [
            (f"{c.key}.{t.key}", t.title)
            for c in services.connections.catalog()
            for t in c.triggers
        ]
        return render(request, "flows/new.html", section="flows", triggers=triggers)

    @post("/new")
    async def create(self, request: HTMXRequest, services: ServicesDep) -> Response[bytes]:
        """Create the flow, switched off and without steps yet, and open it in the editor."""
        data = await form(request)
        draft = Draft(name=data.get("name", "").strip(), trigger_type=data.get("trigger", ""))
        if draft.trigger_type == "schedule":
            # Every hour until its time is set in the editor (the flow is created off).
            draft.schedule = ScheduleDraft(every="1h")
        if draft.trigger_type not in ("webhook", RUN_FAILED, "schedule"):
            # An app event needs its account and event, chosen in the editor: start from a
            # webhook until they are, so that the flow can be saved now.
            chosen, draft.trigger_type = draft.trigger_type, "webhook"
        else:
            chosen = ""
        document, problems = to_document(draft, _connectors(services), enabled=False)
        if document is None:
            triggers = [
                (f"{c.key}.{t.key}", t.title)
                for c in services.connections.catalog()
                for t in c.triggers
            ]
            reasons = [r for rs in problems.values() for r in rs]
            return render(
                request,
                "flows/new.html",
                section="flows",
                triggers=triggers,
                said=[("error", _("Name: %(reason)s", reason=r)) for r in reasons],
                values=data,
            )
        view = await services.flows.save(document, author=actor(request))
        suffix = f"?trigger={chosen}" if chosen else ""
        return redirect(
            f"/flows/{view.row.id}{suffix}", ("success", _("Flow created. Add its steps."))
        )

    @post(
        "/import",
        # The file, its part's headers and the form's CSRF field, with room to spare.
        request_max_body_size=MAX_IMPORT + 16 * 1024,
        exception_handlers={RequestEntityTooLarge: _import_too_large},
    )
    async def import_yaml(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[bytes]:
        """Create or update flows from a YAML file (as ``maillon flows import`` does): new
        flows are published, a flow that exists gets the file's version as its draft."""
        content = await data.file.read(MAX_IMPORT + 1) if data.file else None
        if content is None or len(content) > MAX_IMPORT:
            return redirect("/flows", _choose_a_smaller_file())
        try:
            text = content.decode("utf-8", "replace")
            results = await services.flows.import_yaml(text, author=actor(request))
        except Invalid as exc:
            refused = _("The file was not imported: %(reason)s.", reason=exc)
            return redirect("/flows", ("error", refused))
        said: list[Flash] = []
        for r in results:
            if r.view is not None and r.view.draft is not None:
                draft = _("“%(name)s”: saved as a draft; publish it in the editor.", name=r.name)
                said.append(("success", draft))
            elif r.view is not None:
                said.append(("success", _("Imported “%(name)s”.", name=r.name)))
            else:
                reasons = "; ".join(r.problems)
                refused = _("“%(name)s” was not imported: %(why)s.", name=r.name, why=reasons)
                said.append(("error", refused))
        return redirect("/flows", *said[:5])

    @get("/{flow_id:str}")
    async def edit(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        trigger: FromQuery[str] = "",
    ) -> Response[bytes]:
        """The editor."""
        view = await services.flows.get(flow_id)
        draft = Draft.of(view.editing)
        if trigger and not view.editing.steps and trigger != "webhook":
            draft.trigger_type = trigger  # chosen when the flow was created
        return render(request, "flows/edit.html", **await _editor(services, view, draft))

    @post("/{flow_id:str}/editor")
    async def change(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """The editor again, after a structural change (nothing is saved)."""
        data = await form(request)
        draft = Draft.read(data)
        before = [step.key for step in draft.steps]
        refused = _apply(draft, data.get("op", ""), data.get("add_to", ""))
        view = await services.flows.get(flow_id)
        problems = {"add_to": [refused]} if refused else {}
        context = await _editor(services, view, draft, problems=problems)
        # The button that was pressed is gone with the old editor: the focus goes to the step.
        context["focus_step"] = _focus_after(data.get("op", ""), before, draft)
        return render(
            request,
            EDITOR if request.htmx else "flows/edit.html",
            said=[("error", refused)] if refused else [],
            oob_messages=bool(request.htmx and refused),
            **context,
        )

    @post("/{flow_id:str}/add-to")
    async def add_to(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """The editor's "Add it to" choice again, with the branches the form has now (asked
        when a branch is renamed); the branch chosen stays chosen under its new name."""
        data = await form(request)
        draft = Draft.read(data)
        view = await services.flows.get(flow_id)
        chosen = draft.branch(data.get("add_to", "")) or ""
        return render(
            request, "flows/_add_to.html", view=view, draft=draft, add_to=chosen, problems={}
        )

    @post("/{flow_id:str}/preview")
    async def preview(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        field: FromQuery[str],
    ) -> Response[bytes]:
        """One input rendered against the sample, as it is typed."""
        data = await form(request)
        draft = Draft.read(data)
        index_text, _sep, part = field.removeprefix("steps-").partition("-")
        if not digits(index_text, 6) or int(index_text) >= len(draft.steps):
            return render(request, "flows/_preview.html", preview=None, field=field)
        index = int(index_text)
        connectors = _connectors(services)
        refused: dict[str, str] = {}
        spec = context_spec(draft, connectors, refused)
        sample = await _sample(services, draft, flow_id)
        step = spec.steps[index]
        context = services.editor.item_context(
            step, await services.editor.context(spec, sample, index, flow_id, _tested(draft))
        )
        name = part.removeprefix("input-")
        action = ""
        if field in refused:
            # What saving would refuse is not previewed as if it were read.
            return render(
                request, "flows/_preview.html", preview=Preview(error=refused[field]), field=field
            )
        if part.startswith("input-") and isinstance(step, StepSpec):
            value = step.input.get(name, draft.steps[index].inputs.get(name, ""))
            action = step.action
        else:
            value = data.get(field, "")
        shown = (
            await services.editor.preview(value, context, name, action)
            if "{" in str(value)
            else None
        )
        return render(request, "flows/_preview.html", preview=shown, field=field)

    @post("/{flow_id:str}/test/{index:int}")
    async def test_step(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        index: FromPath[int],
    ) -> Response[bytes]:
        """Run one step for real with its input rendered against the sample."""
        draft = Draft.read(await form(request))
        connectors = _connectors(services)
        document, problems = to_document(
            Draft(name=draft.name or "draft", steps=draft.steps), connectors, enabled=False
        )
        if document is None or index >= len(draft.steps):
            reasons = [
                r for key, rs in problems.items() for r in rs if key.startswith(f"steps-{index}")
            ]
            return render(
                request,
                "flows/_test.html",
                trial=None,
                problems=reasons or [_("fix the step's inputs first")],
                index=index,
            )
        sample = await _sample(services, draft, flow_id)
        try:
            trial = await services.editor.try_step(
                document.spec, draft.steps[index].key, sample, flow_id, _tested(draft)
            )
        except Invalid as exc:
            return render(
                request, "flows/_test.html", trial=None, problems=exc.problems, index=index
            )
        return render(request, "flows/_test.html", trial=trial, problems=[], index=index)

    @post("/{flow_id:str}/save")
    async def save(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Save the flow's draft (nothing that runs changes); refused with every problem next
        to its input."""
        return await self._keep(request, services, flow_id, publish=False)

    @post("/{flow_id:str}/publish")
    async def publish(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Save the form and publish it: the runs created from now on take this version."""
        return await self._keep(request, services, flow_id, publish=True)

    async def _keep(
        self, request: HTMXRequest, services: Services, flow_id: str, *, publish: bool
    ) -> Response[bytes]:
        data = await form(request)
        draft = Draft.read(data)
        view = await services.flows.get(flow_id)
        document, problems = to_document(
            draft, _connectors(services), enabled=view.row.enabled, stored=view.editing
        )
        author = actor(request)
        if document is not None:
            try:
                if publish:
                    note = data.get("note", "")
                    saved = await services.flows.save(
                        document, flow_id, must_exist=True, author=author, note=note
                    )
                else:
                    saved = await services.flows.save_draft(document, flow_id, author=author)
            except FlowValidationError as exc:
                keys = {step.key: i for i, step in enumerate(draft.steps)}
                for problem in exc.problems:
                    where = place(problem, keys)
                    problems.setdefault(where, []).append(problem.split(": ", 1)[-1])
            else:
                # What the editor held besides the flow: the sample chosen, the tests' outputs.
                fresh = Draft.of(saved.editing)
                fresh.sample_event = draft.sample_event
                tested = {s.key: s.tested for s in draft.steps}
                for step in fresh.steps:
                    step.tested = tested.get(step.key, "")
                context = await _editor(services, saved, fresh, edits="saved")
                said: list[Flash] = [("success", _kept(view, saved, publish))]
                if request.htmx:
                    return render(request, EDITOR, said=said, oob_messages=True, **context)
                return redirect(f"/flows/{flow_id}", *said)
        context = await _editor(services, view, draft, problems=problems, edits="refused")
        count = sum(len(r) for r in problems.values())
        refused: list[Flash] = [
            (
                "error",
                ngettext(
                    "Not saved: %(num)s problem, shown next to the inputs.",
                    "Not saved: %(num)s problems, shown next to the inputs.",
                    count,
                ),
            )
        ]
        return render(
            request,
            EDITOR if request.htmx else "flows/edit.html",
            said=refused,
            oob_messages=bool(request.htmx),
            **context,
        )

    @post("/{flow_id:str}/discard")
    async def discard(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[Any]:
        """Drop the unpublished changes: the editor shows the published version again."""
        view = await services.flows.discard_draft(flow_id)
        said = _(
            "Unpublished changes discarded: the editor shows version %(version)s, the live one.",
            version=view.row.version,
        )
        return redirect(f"/flows/{flow_id}", ("success", said))

    @get("/{flow_id:str}/history")
    async def history(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        before: FromQuery[str] = "",
        after: FromQuery[str] = "",
    ) -> Response[bytes]:
        """The published versions, newest first; with ``before`` (and ``after``, by default
        the draft), what changed between two of them."""
        view, versions = await services.flows.history(flow_id)
        changes = None
        if before:
            found = await services.flows.diff(flow_id, before, after or DRAFT)
            changes = [(c, shown_value(c.before), shown_value(c.after)) for c in found]
        return render(
            request,
            "flows/history.html",
            section="flows",
            view=view,
            versions=versions,
            changes=changes,
            before=before,
            after=after or DRAFT,
        )

    @post("/{flow_id:str}/versions/{version:int}/restore")
    async def restore(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        version: FromPath[int],
    ) -> Response[Any]:
        """Make a published version the draft again, and open it in the editor."""
        view = await services.flows.restore(flow_id, version, author=actor(request))
        said = (
            _("Version %(version)s is the draft again: check it, then publish it.", version=version)
            if view.draft is not None
            else _("Version %(version)s is the live version: nothing to restore.", version=version)
        )
        return redirect(f"/flows/{flow_id}", ("success", said))

    @post("/{flow_id:str}/enable")
    async def enable(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Switch the flow on (its held events stay held until released)."""
        return await self._switch(request, services, flow_id, True)

    @post("/{flow_id:str}/disable")
    async def disable(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Switch the flow off: its events are kept, held, until it is on again."""
        return await self._switch(request, services, flow_id, False)

    async def _switch(
        self, request: HTMXRequest, services: Services, flow_id: str, on: bool
    ) -> Response[bytes]:
        try:
            view = await services.flows.set_enabled(flow_id, on)
        except FlowValidationError as exc:
            reason = exc.problems[0].split(": ", 1)[-1]
            return redirect(f"/flows/{flow_id}", ("error", reason[:1].upper() + reason[1:] + "."))
        said: Flash = (
            "success",
            _("“%(name)s” is on.", name=view.row.name)
            if on
            else _(
                "“%(name)s” is off (its events are kept, held, until it is on again).",
                name=view.row.name,
            ),
        )
        data = await form(request)
        if request.htmx and request.htmx.target == "flow-rows":
            search = data.get("q", "")[:200]
            views = await services.flows.all(search or None)
            activity = await services.stats.activity([v.row.id for v in views])
            return render(
                request,
                "flows/_rows.html",
                views=views,
                activity=activity,
                q=search,
                said=[said],
                oob_messages=True,
            )
        return redirect(safe_path(data.get("back"), f"/flows/{flow_id}"), said)

    @post("/{flow_id:str}/delete")
    async def delete(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Delete the flow; its runs stay in the history, those not run yet cancelled."""
        deleted = await services.flows.delete(flow_id)
        said = _("“%(name)s” is deleted; its runs stay in the history.", name=deleted.row.name)
        if deleted.cancelled:
            said += " " + ngettext(
                "%(num)s run that had not run yet is cancelled.",
                "%(num)s runs that had not run yet are cancelled.",
                deleted.cancelled,
            )
        return redirect("/flows", ("success", said))

    @get("/{flow_id:str}/export")
    async def export(
        self, services: ServicesDep, flow_id: FromPath[str], draft: FromQuery[bool] = False
    ) -> Response[str]:
        """The flow's published version (or with ``draft``, its draft) as YAML, to keep or to
        import elsewhere."""
        text = await services.flows.export_yaml(flow_id, draft=draft)
        name = f"flow-{flow_id}-draft.yaml" if draft else f"flow-{flow_id}.yaml"
        return Response(
            text,
            media_type="application/yaml",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get("/{flow_id:str}/wait")
    async def wait(
        self,
        request: HTMXRequest,
        services: ServicesDep,
        flow_id: FromPath[str],
        since: FromQuery[float],
        stop: FromQuery[bool] = False,
    ) -> Response[bytes]:
        """Polled while waiting for a test event: the first delivery after ``since``."""
        view = await services.flows.get(flow_id)
        arrived = None if stop else await services.editor.wait_for_event(flow_id, since)
        return render(
            request,
            "flows/_wait.html",
            view=view,
            arrived=arrived,
            since=since,
            waiting=not stop,
            now=time.time(),
        )

    @post("/{flow_id:str}/subscribe")
    async def subscribe(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Ask the app to register the flow's event URL again (after a refusal)."""
        view = await services.flows.resubscribe(flow_id)
        if request.htmx:
            draft = Draft.read(await form(request))
            return render(
                request, EDITOR, oob_messages=True, **await _editor(services, view, draft)
            )
        sub = view.subscription
        if sub is not None and sub.error:
            return redirect(
                f"/flows/{flow_id}",
                ("error", _("The app refused again: %(error)s", error=sub.error)),
            )
        return redirect(
            f"/flows/{flow_id}", ("success", _("The app now posts this event to Maillon."))
        )

    @post("/{flow_id:str}/resume")
    async def resume(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Switch a paused flow on again and run what it held; back where the button was."""
        back = safe_path((await form(request)).get("back"), f"/flows/{flow_id}")
        view, count = await services.flows.resume(flow_id)
        said = ngettext(
            "“%(name)s” is on again; %(num)s held run queued.",
            "“%(name)s” is on again; %(num)s held runs queued.",
            count,
            name=view.row.name,
        )
        return redirect(back, ("success", said))

    @post("/{flow_id:str}/run")
    async def run_now(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Run a scheduled flow now, then follow the run on its page."""
        try:
            started = await services.schedules.run_now(flow_id, by=actor(request))
        except Conflict as exc:
            return redirect(f"/flows/{flow_id}", ("error", _("Not run: %(reason)s.", reason=exc)))
        if started.held:
            said = _("Run held: the flow is off. Release it below to run it all the same.")
        else:
            said = _("Run started by hand; the schedule’s ticks go on as planned.")
        return redirect(f"/runs/{started.run_id}", ("success", said))

    @post("/{flow_id:str}/digest/release")
    async def release_digest(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Release the flow's digest now: its steps run once, on the items collected."""
        try:
            released = await services.schedules.release(flow_id)
        except Conflict:
            empty = _("Nothing to release: no event waits in the digest.")
            return redirect(f"/flows/{flow_id}", ("error", empty))
        if released.held:
            said = ngettext(
                "Digest released: %(num)s item, one run held (the flow is off).",
                "Digest released: %(num)s items, one run held (the flow is off).",
                released.count,
            )
        else:
            said = ngettext(
                "Digest released: %(num)s item, one run queued.",
                "Digest released: %(num)s items, one run queued.",
                released.count,
            )
        return redirect(f"/flows/{flow_id}", ("success", said))

    @post("/{flow_id:str}/release")
    async def release(
        self, request: HTMXRequest, services: ServicesDep, flow_id: FromPath[str]
    ) -> Response[bytes]:
        """Run the events held while the flow was off, then go back where the button was (the
        flow's page, or a held run's)."""
        back = safe_path((await form(request)).get("next"), f"/flows/{flow_id}")
        count = await services.runs.release_held(flow_id)
        return redirect(
            back,
            ("success", ngettext("%(num)s held run queued.", "%(num)s held runs queued.", count)),
        )
