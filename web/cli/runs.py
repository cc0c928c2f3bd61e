"""``maillon runs`` and ``maillon events``: what happened to each delivery, step by step,
putting a failed run back in the queue, and cancelling one that waits."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click

from maillon.engine.durations import seconds_in
from maillon.engine.models import StepRow
from maillon.engine.payloads import readable_json
from maillon.engine.services.runs import (
    RUN_FILTERS,
    ReplayWith,
    RunDetail,
    run_filter,
    run_state,
)
from maillon.web.cli._base import AUTHOR, Ctx, echo_json, pass_ctx, when

__all__ = ["events", "runs"]


class _Since(click.ParamType[float, Any]):
    """``30m``, ``2h``, ``1d``, ``1w`` ago, or a date or time (``2026-05-02``,
    ``2026-05-02T09:15``, UTC unless it says otherwise): an epoch time."""

    name = "WHEN"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        ago = seconds_in(text)
        if ago is not None:
            return time.time() - ago
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{text!r} is neither a duration (30m, 2h, 1d) nor a date (2026-05-02)")
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


@click.group()
def runs() -> None:
    """List runs, show one with every step, replay failed ones, cancel one that waits."""


@runs.command("list")
@click.option("--flow", help="Only this flow's runs (its id or name).")
@click.option(
    "--status",
    type=click.Choice([str(f) for f in RUN_FILTERS]),
    help="Only runs in this state (waiting, retrying: queued runs not due yet, and why).",
)
@click.option("--since", type=_Since(), help="Only runs created since: 30m, 2h, 1d, or a date.")
@click.option(
    "--containing",
    metavar="TEXT",
    help="Only runs whose event or error contains TEXT (any case): an e-mail address, an id.",
)
@click.option("--before", metavar="RUN_ID", help="Only runs older than this one (the next page).")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@pass_ctx
def runs_list(
    obj: Ctx,
    flow: str | None,
    status: str | None,
    since: float | None,
    containing: str | None,
    before: str | None,
    limit: int,
) -> None:
    """List runs, newest first."""
    chosen = run_filter(status) if status else None
    if containing is None:
        lines = obj.run(obj.services.runs.browse(flow, chosen, since, limit, before=before))
    else:
        found = obj.run(
            obj.services.runs.search(containing, flow, chosen, since, limit, before=before)
        )
        lines = found.lines
        if found.searched_to:
            # Said apart from the list, which stays one run per line for scripts.
            click.echo(
                f"(searched the {found.window} newest runs; older ones: --before "
                f"{found.searched_to})",
                err=True,
            )
    for line in lines:
        name = line.flow_name or f"(deleted flow {line.run.flow_id})"
        replayed = f"  (replayed {line.replays}x)" if line.replays else ""
        click.echo(f"{line.run.id}  {line.state:<9}  {when(line.run.created_at)}  {name}{replayed}")
        if line.run.error:
            click.echo(f"    {line.run.error}")


@runs.command("show")
@click.argument("run_id")
@pass_ctx
def runs_show(obj: Ctx, run_id: str) -> None:
    """Show a run: each step's input, output, error, attempts and timings, then each replay
    with the failure it replaced."""
    detail = obj.run(obj.services.runs.detail(run_id))
    _print_run(detail)
    for step in detail.steps:
        _print_step(step)
    for replay in detail.replays:
        row = replay.row
        by = f" by {row.replayed_by}" if row.replayed_by else ""
        click.echo(
            f"replayed {when(row.replayed_at)}{by}  (flow version {row.from_version} -> "
            f"{row.to_version}); before: {row.status}"
        )
        if row.error:
            click.echo(f"  error     {row.error}")
        for step in replay.steps:
            _print_step(step, indent="  ")


def _print_run(detail: RunDetail) -> None:
    run = detail.run
    took = ""
    if detail.took is not None:
        since = " since the last replay" if detail.replays else ""
        took = f" (took {detail.took:.2f} s{since})"
    click.echo(f"run {run.id}  {detail.state}")
    click.echo(f"  flow      {run.flow_id}  (version {run.flow_version})")
    click.echo(f"  event     {run.event_id}")
    click.echo(f"  created   {when(run.created_at)}")
    click.echo(f"  started   {when(run.started_at)}")
    click.echo(f"  finished  {when(run.finished_at)}{took}")
    if detail.state == "retrying":
        click.echo(f"  next try  {when(run.available_at)}")
    elif detail.state == "waiting":
        click.echo(f"  waits     until {when(run.available_at)} (a delay step)")
    if run.error:
        click.echo(f"  error     {run.error}")


def _print_step(step: StepRow, indent: str = "") -> None:
    attempts = f"{step.attempts} attempt{'s' if step.attempts != 1 else ''}"
    # The ledger keeps a step's last attempt: with several, the time is that attempt's.
    took = _took(
        step.started_at, step.finished_at, "the last took" if step.attempts > 1 else "took"
    )
    click.echo(
        f"{indent}step {step.position + 1}: {step.step_key}  {step.status}  {attempts}{took}"
    )
    for label, text in (("input", step.input), ("output", step.output)):
        if text is not None:
            click.echo(f"{indent}  {label}:")
            echo_json(readable_json(text))
    if step.error:
        click.echo(f"{indent}  error: {step.error}")
    if step.details:
        click.echo(f"{indent}  details:")
        echo_json(readable_json(step.details))


def _took(start: float | None, end: float | None, words: str = "took") -> str:
    return f" ({words} {end - start:.2f} s)" if start is not None and end is not None else ""


@runs.command("replay")
@click.argument("run_id")
@click.option(
    "--current",
    is_flag=True,
    help="Run the flow's published version now instead of the version the run ran "
    "(the steps that succeeded are not run again).",
)
@pass_ctx
def runs_replay(obj: Ctx, run_id: str, current: bool) -> None:
    """Queue a failed, held or cancelled run again, from its first step that did not succeed, with
    the flow version it ran (or, with --current, the published one).

    A running `maillon serve` or `maillon worker` executes it.
    """
    with_version = ReplayWith.CURRENT if current else ReplayWith.RAN
    run = obj.run(obj.services.runs.replay(run_id, with_version, by=AUTHOR))
    click.echo(f"{run.id}  {run.status}  (flow version {run.flow_version})")


@runs.command("cancel")
@click.argument("run_id")
@pass_ctx
def runs_cancel(obj: Ctx, run_id: str) -> None:
    """Stop a run that is queued (for a worker, a retry or the end of a delay) or held: no
    more of its steps run. `maillon runs replay` brings it back."""
    run = obj.run(obj.services.runs.cancel(run_id, by=AUTHOR))
    click.echo(f"{run.id}  {run.status}")


@runs.command("replay-failed")
@click.argument("flow")
@click.option(
    "--current",
    is_flag=True,
    help="Run the flow's published version now instead of the version each run ran.",
)
@click.option("--since", type=_Since(), help="Only runs created since: 30m, 2h, 1d, or a date.")
@pass_ctx
def runs_replay_failed(obj: Ctx, flow: str, current: bool, since: float | None) -> None:
    """Queue every failed run of FLOW (its id or name) again, each from its first step that
    did not succeed: once the cause of a series of failures is fixed (the app was down).

    A running `maillon serve` or `maillon worker` executes them.
    """
    with_version = ReplayWith.CURRENT if current else ReplayWith.RAN
    count = obj.run(obj.services.runs.replay_failed(flow, with_version, by=AUTHOR, since=since))
    click.echo(f"{count} failed run{'s' if count != 1 else ''} queued again")


@runs.command("prune")
@pass_ctx
def runs_prune(obj: Ctx) -> None:
    """Delete now the runs, steps and events older than retention keeps them.

    `maillon serve` and `maillon worker` do it on their own every MAILLON_RETENTION_INTERVAL
    seconds; the install's retention is MAILLON_RETENTION_DAYS (runs that ended well) and
    MAILLON_RETENTION_FAILED_DAYS (failed runs), a flow's `retention` overrides it.
    """
    pruned = obj.run(obj.services.retention.sweep())
    if pruned is None:
        raise click.ClickException("another process is sweeping right now; try again later")
    click.echo(f"{pruned.runs} runs and {pruned.events} events deleted")


@click.group()
def events() -> None:
    """Deliveries as they were received, with the runs they started."""


@events.command("show")
@click.argument("event_id")
@pass_ctx
def events_show(obj: Ctx, event_id: str) -> None:
    """Show a delivery: its body, how it came, and the runs it started."""
    event, started = obj.run(obj.services.runs.get_event(event_id))
    click.echo(f"event {event.id}  from {event.source}  received {when(event.received_at)}")
    if event.dedup_key:
        click.echo(f"  dedup key  {event.dedup_key}")
    click.echo("  request:")
    echo_json(readable_json(event.meta))
    click.echo("  body:")
    echo_json(readable_json(event.body))
    click.echo("runs:" if started else "runs: none")
    for run in started:
        click.echo(f"  {run.id}  {run_state(run):<9}  flow {run.flow_id}")
        if run.error:
            click.echo(f"      {run.error}")
