"""``maillon flows``: import, export, list, show, switch, delete, test and run flows, release a
flow's digest; publish drafts, read a flow's history and diffs, restore a version.

A flow is named on the command line by its id or by its name (the one flow of that name).
What the command line does is recorded in a flow's history as by ``cli``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from maillon.engine.schedules import ScheduleTrigger
from maillon.engine.services.editor import FlowTest
from maillon.engine.services.flows import DRAFT, FlowView, Imported
from maillon.engine.services.schedules import FlowTiming
from maillon.engine.versions import format_change
from maillon.web.cli._base import AUTHOR, Ctx, echo_json, pass_ctx, read_text, when
from maillon.web.cli.alerts import describe_settings

__all__ = ["flows"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def flows() -> None:
    """Import, export, list, show, switch on and off, delete, test and run flows; release digests;
    publish drafts, show history and diffs, restore versions.

    FLOW is a flow's id, or its name when one flow has that name.
    """


@flows.command("import")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option(
    "--new",
    is_flag=True,
    help="Create a new flow for each document without an id, even when a flow has its name.",
)
@click.option(
    "--publish",
    is_flag=True,
    help="Publish each updated flow at once (and apply its `enabled`), instead of saving "
    "it as the flow's draft.",
)
@click.option("--note", help="With --publish: why, kept in each flow's history.")
@pass_ctx
def flows_import(
    obj: Ctx, files: tuple[Path, ...], new: bool, publish: bool, note: str | None
) -> None:
    """Create or update flows from YAML files.

    A document with an `id` updates that flow; one without updates the flow of the same name
    (its hook URL stays), or creates a flow when none has that name. With --new, documents
    without an id always create a flow (a copy, with a hook URL of its own); a document with
    an id still saves that flow, and says so.

    A file that holds no flow (empty, or comments only) is an error.

    A new flow is published as its version 1. An update is saved as the flow's draft, for
    `maillon flows diff` and `maillon flows publish`; with --publish it goes live at once (a
    new version when it changed): what a repository that keeps the flows runs on deploy.
    """
    failed = False
    for path in files:
        try:
            text = read_text(path)  # its errors name the file
            work = obj.services.flows.import_yaml(
                text, match_names=not new, publish=publish, author=AUTHOR, note=note
            )
            results = obj.run(work)
        except click.ClickException as exc:
            said = exc.message if exc.message.startswith(f"{path}: ") else f"{path}: {exc.message}"
            click.echo(said, err=True)
            failed = True
            continue
        for result in results:
            if result.view is None:
                click.echo(f"{path}: {result.name!r} was not saved:", err=True)
                for problem in result.problems:
                    click.echo(f"  {problem}", err=True)
                failed = True
                continue
            click.echo(f"{result.view.row.id}  {result.view.row.name}  ({_outcome(result)})")
            if new and result.by_id:
                click.echo(
                    "    --new does not apply: the document gives an id, so it saved the flow "
                    "of that id (delete its `id:` line to import it as a new flow)",
                    err=True,
                )
            _describe(result.view)
    if failed:
        sys.exit(1)


def _outcome(result: Imported) -> str:
    """What importing a document did to its flow."""
    assert result.view is not None
    version = result.view.row.version
    if result.created:
        return f"created, version {version}"
    if result.view.draft is not None:
        return f"draft saved; live: version {version}; `maillon flows publish` makes it live"
    return f"published, version {version}" if result.published else f"unchanged, version {version}"


def _describe(view: FlowView) -> None:
    """Where a flow's events arrive, and what its templates read that its sample lacks."""
    click.echo(f"    {_where(view)}")
    for warning in view.warnings:
        click.echo(f"    warning: {warning}", err=True)


def _where(view: FlowView) -> str:
    """Where a flow's events arrive, and for app triggers whether the app registered it."""
    if view.hook_url is not None:
        return f"hook: {view.hook_url}"
    if isinstance(view.spec.trigger, ScheduleTrigger):
        return f"schedule: {view.spec.trigger.describe()}"
    sub = view.subscription
    if sub is None:
        return "app event: not registered (no enabled flow yet)"
    line = f"app event: {sub.url} [{sub.status}]"
    return line + (f"\n    REFUSED: {sub.error}" if sub.error else "")


@flows.command("export")
@click.argument("flow", required=False)
@click.option("--draft", is_flag=True, help="Each flow's draft, where it has one.")
@pass_ctx
def flows_export(obj: Ctx, flow: str | None, draft: bool) -> None:
    """Print flows (FLOW, or all) as YAML, ready for `maillon flows import`: their published
    versions, or with --draft their drafts."""
    click.echo(obj.run(obj.services.flows.export_yaml(flow, draft=draft)), nl=False)


@flows.command("publish")
@click.argument("flow")
@click.option("--note", help="Why: kept in the flow's history.")
@pass_ctx
def flows_publish(obj: Ctx, flow: str, note: str | None) -> None:
    """Make FLOW's draft its live version: runs created from now on take it, runs already
    created keep the version they have."""
    view = obj.run(obj.services.flows.publish(flow, author=AUTHOR, note=note))
    click.echo(f"{view.row.id}  {view.row.name}  published, version {view.row.version}")
    _describe(view)


@flows.command("discard")
@click.argument("flow")
@pass_ctx
def flows_discard(obj: Ctx, flow: str) -> None:
    """Drop FLOW's unpublished changes."""
    view = obj.run(obj.services.flows.discard_draft(flow))
    click.echo(f"{view.row.id}  {view.row.name}  draft discarded; live: version {view.row.version}")


@flows.command("history")
@click.argument("flow")
@pass_ctx
def flows_history(obj: Ctx, flow: str) -> None:
    """List FLOW's published versions, newest first, with who published them, when and why."""
    view, versions = obj.run(obj.services.flows.history(flow))
    if view.draft is not None:
        by = f" by {view.row.draft_author}" if view.row.draft_author else ""
        click.echo(f"draft  unpublished changes, saved {when(view.row.draft_saved_at)}{by}")
    for v in versions:
        live = "  (live)" if v.version == view.row.version else ""
        click.echo(f"{v.version:>5}  {when(v.published_at)}  {v.author or '-'}{live}")
        if v.note:
            click.echo(f"       {v.note}")


@flows.command("diff")
@click.argument("flow")
@click.argument("before", required=False)
@click.argument("after", required=False, default=DRAFT)
@pass_ctx
def flows_diff(obj: Ctx, flow: str, before: str | None, after: str) -> None:
    """Show what changed in FLOW from version BEFORE (default: the live one) to AFTER
    (default: the draft). Each is a version number, or `draft`.

    Lines start with + (added), - (removed) or ~ (changed); steps are named by their key.
    """
    if before is None:
        before = str(obj.run(obj.services.flows.get(flow)).row.version)
    changes = obj.run(obj.services.flows.diff(flow, before, after))
    click.echo(f"# {before} → {after}")
    for change in changes:
        click.echo(format_change(change))
    if not changes:
        click.echo("no changes")


@flows.command("restore")
@click.argument("flow")
@click.argument("version", type=click.IntRange(1))
@pass_ctx
def flows_restore(obj: Ctx, flow: str, version: int) -> None:
    """Make VERSION of FLOW its draft again; `maillon flows publish` then makes it live."""
    view = obj.run(obj.services.flows.restore(flow, version, author=AUTHOR))
    state = "draft saved" if view.draft is not None else "already the live version"
    click.echo(f"{view.row.id}  {view.row.name}  version {version} restored: {state}")


@flows.command("list")
@pass_ctx
def flows_list(obj: Ctx) -> None:
    """List flows with their hook URLs."""
    for v in obj.run(obj.services.flows.all()):
        click.echo(f"{v.row.id}  {v.state:<8}  {v.row.name}\n    {_where(v)}")


@flows.command("show")
@click.argument("flow")
@pass_ctx
def flows_show(obj: Ctx, flow: str) -> None:
    """Print FLOW as YAML, after comments saying where its events arrive and what its
    templates read that its sample event lacks."""
    view = obj.run(obj.services.flows.get(flow))
    state = {
        "enabled": "enabled",
        "disabled": "disabled (deliveries are held)",
        "paused": f"PAUSED by Maillon {when(view.row.paused_at)} after "
        f"{view.row.failures_in_row} failed runs in a row (deliveries are held; "
        f"`maillon flows resume {view.row.id}` runs them)",
    }[view.state]
    click.echo(f"# {state}, version {view.row.version}")
    if view.draft is not None:
        click.echo(
            f"# unpublished changes saved {when(view.row.draft_saved_at)}: `maillon flows diff "
            f"{view.row.id}` shows them, `maillon flows publish {view.row.id}` makes them live"
        )
    click.echo("# " + _where(view).replace("\n    ", "\n# "))
    for line in [
        *_timing(obj.run(obj.services.schedules.timing(view.row.id))),
        *_failure_settings(obj, view),
    ]:
        click.echo(f"# {line}")
    for warning in view.warnings:
        click.echo(f"# warning: {warning}")
    click.echo(obj.run(obj.services.flows.export_yaml(view.row.id)), nl=False)


def _failure_settings(obj: Ctx, view: FlowView) -> list[str]:
    """What happens when the flow fails: alerts (where they go, what waits) and auto-pause."""
    policy = view.spec.failure_policy
    if policy.alert:
        settings = obj.run(obj.services.alerts.settings())
        lines = [f"alerts: {describe_settings(settings)}"]
        batch = obj.run(obj.services.alerts.pending(view.row.id))
        if batch is not None and batch.count:
            lines.append(
                f"  {batch.count} failure(s) not told yet, next message {when(batch.due_at)}"
            )
        if batch is not None and batch.send_error:
            lines.append(f"  the last alert could not be sent: {batch.send_error}")
    else:
        lines = ["alerts: off for this flow (on_failure.alert: false)"]
    if policy.pause_after is None:
        lines.append("auto-pause: off")
    else:
        lines.append(
            f"auto-pause: after {policy.pause_after} failed runs in a row "
            f"({view.row.failures_in_row} so far)"
        )
    return lines


@flows.command("resume")
@click.argument("flow")
@pass_ctx
def flows_resume(obj: Ctx, flow: str) -> None:
    """Switch FLOW on again (after a pause) and run the deliveries it held."""
    view, released = obj.run(obj.services.flows.resume(flow))
    click.echo(f"{view.row.id}  enabled  {view.row.name}  ({released} held run(s) queued)")
    _describe(view)


def _timing(timing: FlowTiming) -> list[str]:
    """When a flow's schedule fires next, and what its digest holds."""
    lines = []
    if timing.schedule is not None:
        line = f"next tick: {when(timing.next_tick)}" if timing.enabled else "no tick while off"
        if timing.last_tick is not None:
            line += f" (last: {when(timing.last_tick)})"
        lines.append(line)
    if timing.digest is not None or timing.waiting:
        name = f"digest {timing.digest.name}" if timing.digest else "items of a removed digest"
        line = f"{name}: {timing.waiting} item{'s' if timing.waiting != 1 else ''} waiting"
        if timing.next_release is not None:
            line += f", next release {when(timing.next_release)}"
        lines.append(line)
    return lines


@flows.command("run")
@click.argument("flow")
@pass_ctx
def flows_run(obj: Ctx, flow: str) -> None:
    """Run scheduled FLOW now, as if its schedule ticked; its ticks go on as planned."""
    started = obj.run(obj.services.schedules.run_now(flow, by=AUTHOR))
    if started.held:
        click.echo(f"run {started.run_id} held: the flow is off (`maillon flows resume` runs it)")
    else:
        click.echo(f"run {started.run_id} queued")


@flows.command("release")
@click.argument("flow")
@pass_ctx
def flows_release(obj: Ctx, flow: str) -> None:
    """Release FLOW's digest now: its steps run once, on the items collected so far."""
    released = obj.run(obj.services.schedules.release(flow))
    held = " (held: the flow is off)" if released.held else ""
    items = f"{released.count} item{'s' if released.count != 1 else ''}"
    click.echo(f"released {items} as run {released.run_id}{held}")


@flows.command("enable")
@click.argument("flow")
@pass_ctx
def flows_enable(obj: Ctx, flow: str) -> None:
    """Switch FLOW on (an app trigger's event URL is registered with the app)."""
    view = obj.run(obj.services.flows.set_enabled(flow, True))
    click.echo(f"{view.row.id}  enabled  {view.row.name}")
    _describe(view)
    for line in _timing(obj.run(obj.services.schedules.timing(view.row.id))):
        click.echo(f"    {line}")


@flows.command("disable")
@click.argument("flow")
@pass_ctx
def flows_disable(obj: Ctx, flow: str) -> None:
    """Switch FLOW off: its deliveries are kept and held until it is on again."""
    view = obj.run(obj.services.flows.set_enabled(flow, False))
    click.echo(f"{view.row.id}  disabled  {view.row.name}")
    _describe(view)


@flows.command("delete")
@click.argument("flow")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def flows_delete(obj: Ctx, flow: str, yes: bool) -> None:
    """Delete FLOW; its events and runs stay as history, those not run yet are cancelled."""
    if not yes:
        view = obj.run(obj.services.flows.get(flow))
        click.confirm(f"Delete {view.row.name!r} ({view.row.id})?", abort=True)
        flow = view.row.id
    deleted = obj.run(obj.services.flows.delete(flow))
    cancelled = f" ({deleted.cancelled} runs not run yet cancelled)" if deleted.cancelled else ""
    click.echo(f"deleted {deleted.row.id}  {deleted.row.name}{cancelled}")


@flows.command("test")
@click.argument("flow")
@click.option(
    "--event",
    "event_file",
    type=_FILE,
    help="A JSON file with the event to test against (default: the flow's newest delivery, "
    "else its app's sample event).",
)
@click.option(
    "--send", is_flag=True, help="Run the steps for real (send, post, append) and show outputs."
)
@pass_ctx
def flows_test(obj: Ctx, flow: str, event_file: Path | None, send: bool) -> None:
    """Render every step of a flow against a sample event, without calling anything.

    FLOW is a YAML file (not saved by this) or a saved flow. Each step's rendered input is
    printed, or why it cannot be rendered or would be refused. With --send, the steps run for
    real, in order, each one's output feeding the next, and their outputs are printed.
    """
    event = read_text(event_file) if event_file else None
    path = Path(flow)
    if path.suffix in (".yaml", ".yml") and not path.is_file():
        raise click.BadParameter(f"no file {flow}", param_hint="FLOW")
    editor = obj.services.editor
    if path.is_file():
        tests = obj.run(editor.test_yaml(read_text(path), event, send=send))
    else:
        tests = [obj.run(editor.test_stored(flow, event, send=send))]
    for test in tests:
        _print_test(test)
    if not all(test.ok for test in tests):
        sys.exit(1)


_ORIGINS = {
    "given": "the event given",
    "event": "its newest delivery",
    "catalog": "its app's sample event",
    "schedule": "its next tick",
}


def _print_test(test: FlowTest) -> None:
    if test.sample is None:
        click.echo(f"{test.name}: not tested:", err=True)
        for problem in test.problems:
            click.echo(f"  {problem}", err=True)
        return
    origin = _ORIGINS.get(test.sample.origin, test.sample.origin)
    if test.sample.event_id:
        origin += f" ({test.sample.event_id})"
    how = "run for real" if test.sent else "rendered, nothing sent"
    click.echo(f"{test.name}: {how}, against {origin}")
    for warning in test.warnings:
        click.echo(f"  warning: {warning}", err=True)
    for step in test.steps:
        click.echo(f"step {step.key} ({step.action})")
        trial = step.trial
        if trial is None:
            click.echo(f"  not run: {step.skipped}")
            continue
        if trial.rendered is not None:
            click.echo("  input:")
            echo_json(trial.rendered)
        if trial.error is not None:
            click.echo(f"  ERROR: {trial.error}")
        elif test.sent or step.steers:
            click.echo("  output:")
            echo_json(trial.output)
