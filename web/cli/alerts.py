"""``maillon alerts``: where failure alerts go, what waits to be told, and a test alert."""

from __future__ import annotations

import sys

import click

from maillon.engine.alerts import AlertSettings
from maillon.web.cli._base import Ctx, pass_ctx, when

__all__ = ["alerts", "describe_settings"]


def describe_settings(settings: AlertSettings | None) -> str:
    """Where alerts go, in one line (the same words for ``alerts show`` and ``flows show``)."""
    if settings is None:
        return "off (no recipient set: `maillon alerts set CONNECTION TO`)"
    return (
        f"to {settings.to} through {settings.connection}, at most one message per flow every "
        f"{settings.interval:g} s"
    )


@click.group()
def alerts() -> None:
    """Failure alerts: a Slack channel or e-mail addresses told when flows fail."""


@alerts.command("show")
@pass_ctx
def alerts_show(obj: Ctx) -> None:
    """Where alerts go, and the failures waiting to be told."""
    state = obj.run(obj.services.alerts.state())
    click.echo(f"alerts: {describe_settings(state.settings)}")
    for batch in state.batches:
        click.echo(
            f"  {batch.label}: {batch.count} not told yet, next message {when(batch.due_at)}"
        )
        if batch.send_error:
            click.echo(f"    the last message could not be sent: {batch.send_error}")


@alerts.command("set")
@click.argument("connection")
@click.argument("to")
@click.option(
    "--interval",
    type=float,
    default=3600.0,
    show_default=True,
    help="Seconds between two messages about the same flow.",
)
@pass_ctx
def alerts_set(obj: Ctx, connection: str, to: str, interval: float) -> None:
    """Send alerts through CONNECTION (Slack, SMTP or Google) TO a channel or addresses."""
    try:
        settings = AlertSettings(connection=connection, to=to, interval=interval)
    except ValueError as exc:
        raise click.ClickException(str(exc).splitlines()[-1].strip()) from exc
    obj.run(obj.services.alerts.configure(settings))
    click.echo(f"alerts: {describe_settings(settings)}")


@alerts.command("off")
@pass_ctx
def alerts_off(obj: Ctx) -> None:
    """Send no more alerts (failures waiting to be told are forgotten)."""
    obj.run(obj.services.alerts.turn_off())
    click.echo("alerts: off")


@alerts.command("test")
@pass_ctx
def alerts_test(obj: Ctx) -> None:
    """Send a test alert now."""
    error = obj.run(obj.services.alerts.send_test())
    if error is not None:
        click.echo(f"not sent: {error}", err=True)
        sys.exit(1)
    click.echo("sent: check that it arrived")
