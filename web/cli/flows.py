"""``maillon flows``: import, export, list, show, switch, delete, test flows, and release a
flow's digest.

A flow is named on the command line by its id or by its name (the one flow of that name).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from maillon.engine.schedules import ScheduleTrigger
from maillon.engine.services.editor import FlowTest
from maillon.engine.services.flows import FlowView
from maillon.engine.services.schedules import FlowTiming
from maillon.web.cli._base import Ctx, echo_json, pass_ctx, read_text, when
from maillon.web.cli.alerts import describe_settings

__all__ = ["flows"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def flows() -> None:
    """Import, export, list, show, switch on and off, delete and test flows; release digests.

    FLOW is a flow's id, or its name when one flow has that name.
    """


@flows.command("import")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option(
    "--new",
    is_flag=True,
    help="Create a new flow for each document without an id, even when a flow has its name.",
)
@pass_ctx
def flows_import(obj: Ctx, files: tuple[Path, ...], new: bool) -> None:
    """Create or update flows from YAML files.

    A document with an `id` updates that flow; one without updates the flow of the same name
    (its hook URL stays), or creates a flow when none has that name. With --new, documents
    without an id always create a flow (a copy, with a hook URL of its own).
    """
    failed = False
    for path in files:
        try:
            text = read_text(path)  # its errors name the file
            results = obj.run(obj.services.flows.import_yaml(text, match_names=not new))
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
            done = "created" if result.created else "updated"
            click.echo(f"{result.view.row.id}  {result.view.row.name}  ({done})")
            _describe(result.view)
    if failed:
        sys.exit(1)


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
@pass_ctx
def flows_export(obj: Ctx, flow: str | None) -> None:
    """Print flows (FLOW, or all) as YAML, ready for `maillon flows import`."""
    click.echo(obj.run(obj.services.flows.export_yaml(flow)), nl=False)


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
    """Delete FLOW; its events and runs stay as history, its queued runs fail."""
    if not yes:
        view = obj.run(obj.services.flows.get(flow))
        click.confirm(f"Delete {view.row.name!r} ({view.row.id})?", abort=True)
        flow = view.row.id
    row = obj.run(obj.services.flows.delete(flow))
    click.echo(f"deleted {row.id}  {row.name}")


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
