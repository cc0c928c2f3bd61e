"""``maillon connections`` and ``maillon sources``: app accounts, their fields and their tests,
and the webhooks apps that send events have registered for this install."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from maillon.engine.services.connections import ConnectionField, UnknownField
from maillon.engine.services.sources import SourceSync
from maillon.web.cli._base import Ctx, pass_ctx

__all__ = ["connections", "sources"]


@click.group()
def connections() -> None:
    """Add, list and test connections (secrets are stored encrypted and never printed)."""


def _values(
    pairs: tuple[str, ...], files: tuple[str, ...] = (), prompts: tuple[str, ...] = ()
) -> dict[str, object]:
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        # Objects and lists (e.g. default headers) are given as JSON; everything else as text,
        # which the connection model converts (port=587 becomes an integer).
        values[key.strip()] = json.loads(value) if value.strip()[:1] in ("{", "[") else value
    for pair in files:
        key, sep, path = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=PATH", param_hint="--set-file")
        try:
            # One trailing newline is the file's, not the secret's (echo "..." > file).
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--set-file") from exc
        values[key.strip()] = text.removesuffix("\n").removesuffix("\r")
    for key in prompts:
        values[key.strip()] = click.prompt(key.strip(), hide_input=True, err=True)
    return values


def _set(command: Callable[..., None]) -> Callable[..., None]:
    """The options that give a connection's fields: on the command line, from a file, or
    typed at a hidden prompt (the last two keep secrets out of shell history and out of
    the process list)."""
    for option in reversed(
        [
            click.option(
                "--set",
                "pairs",
                multiple=True,
                metavar="KEY=VALUE",
                help="A field; JSON for objects/lists.",
            ),
            click.option(
                "--set-file",
                "files",
                multiple=True,
                metavar="KEY=PATH",
                help="A field read from a file (a secret kept out of shell history).",
            ),
            click.option(
                "--prompt",
                "prompts",
                multiple=True,
                metavar="KEY",
                help="A field typed at a hidden prompt (a secret kept out of shell history).",
            ),
        ]
    ):
        command = option(command)
    return command


@connections.command("add")
@click.argument("app")
@click.argument("name")
@_set
@pass_ctx
def connections_add(
    obj: Ctx,
    app: str,
    name: str,
    pairs: tuple[str, ...],
    files: tuple[str, ...],
    prompts: tuple[str, ...],
) -> None:
    """Save a connection for APP (e.g. slack) under NAME; an existing NAME is updated.

    `maillon connections fields APP` lists the fields APP's connections take. Give secrets
    with --set-file or --prompt rather than --set, to keep them out of shell history.
    """
    values = _values(pairs, files, prompts)
    try:
        view = obj.run(obj.services.connections.put(app, name, values), passing=(UnknownField,))
    except UnknownField as exc:
        others = {k: v for k, v in exc.fields.items() if v not in exc.unknown.values()}
        for problem in [*exc.unknown.values(), *(f"{k}: {v}" for k, v in others.items())]:
            click.echo(f"Error: {problem}", err=True)
        click.echo(f"The fields of {app} connections:", err=True)
        _print_fields(exc.choices, err=True)
        sys.exit(1)
    secrets = ", ".join(view.secrets_set) or "-"
    click.echo(f"{view.row.id}  {view.row.app}  {view.row.name}  secrets set: {secrets}")
    for flow in view.secret_inputs_dropped:
        click.echo(
            f"Secret inputs dropped in flow {flow.name!r} ({flow.id}): the connection now sends "
            "elsewhere. Give them again there; until then its steps using it fail.",
            err=True,
        )
    for flow in view.older_versions_dropped:
        click.echo(
            f"Secret inputs dropped in older versions of flow {flow.name!r} ({flow.id}): its "
            "runs of those versions replay only with the current version now (--current).",
            err=True,
        )


@connections.command("fields")
@click.argument("app")
@pass_ctx
def connections_fields(obj: Ctx, app: str) -> None:
    """List the fields of APP's connections, each with what it is for."""
    _print_fields(obj.run(obj.services.connections.fields(app)))


def _print_fields(fields: list[ConnectionField], *, err: bool = False) -> None:
    width = max((len(f.name) for f in fields), default=0)
    for f in fields:
        notes = [n for n, on in (("required", f.required), ("secret", f.secret)) if on]
        if f.default not in (None, "", [], {}):
            notes.append(f"default {f.default}")
        extra = f" [{', '.join(notes)}]" if notes else ""
        click.echo(f"  {f.name:<{width}}  {f.summary}{extra}", err=err)


@connections.command("list")
@pass_ctx
def connections_list(obj: Ctx) -> None:
    """List connections (never their secrets)."""
    for v in obj.run(obj.services.connections.all()):
        click.echo(f"{v.row.id}  {v.row.app:<16} {v.row.name}  config: {json.dumps(v.config)}")


@connections.command("test")
@click.argument("name")
@pass_ctx
def connections_test(obj: Ctx, name: str) -> None:
    """Ask the app whether NAME's credentials work."""
    check = obj.run(obj.services.connections.test(name))
    said = {True: "ok: ", False: "FAILED: ", None: "not tested: "}[check.ok]
    click.echo(said + check.message)
    if check.ok is False:
        sys.exit(1)


@connections.command("connect")
@click.argument("app")
@click.argument("name")
@_set
@pass_ctx
def connections_connect(
    obj: Ctx,
    app: str,
    name: str,
    pairs: tuple[str, ...],
    files: tuple[str, ...],
    prompts: tuple[str, ...],
) -> None:
    """Connect an account of APP (e.g. google) as NAME with OAuth: prints the URL to open.

    --set gives what the app needs before consent (client_id, client_secret, a tenant...).
    """
    consent = obj.run(obj.services.oauth.start(app, name, _values(pairs, files, prompts)))
    click.echo(f"Open this URL within {consent.expires_in // 60} minutes and grant access:")
    click.echo(consent.authorize_url)
    click.echo(f"(The app must list {consent.redirect_uri} as an authorized redirect URI.)")


@click.group()
def sources() -> None:
    """App accounts that send events (Particeep): what is registered there."""


def _print_report(result: SourceSync, *, dry_run: bool) -> None:
    row, report = result.connection, result.report
    click.echo(f"{row.name} ({row.app})")
    if report is None:
        return
    for event, url in report.registered:
        click.echo(f"  ok        {event}  {url}")
    create, delete = ("missing  ", "extra    ") if dry_run else ("created  ", "deleted  ")
    for event, url in report.created:
        click.echo(f"  {create} {event}  {url}")
    for event, url in report.deleted:
        click.echo(f"  {delete} {event}  {url}")
    for event, url, reason in report.failed:
        click.echo(f"  REFUSED   {event}  {url}: {reason}")


@sources.command("status")
@click.argument("connection", required=False)
@pass_ctx
def sources_status(obj: Ctx, connection: str | None) -> None:
    """Compare what is registered at the app with what enabled flows need (changes nothing)."""
    _sync(obj, connection, dry_run=True)


@sources.command("repair")
@click.argument("connection", required=False)
@pass_ctx
def sources_repair(obj: Ctx, connection: str | None) -> None:
    """Register what is missing at the app and remove this install's stale URLs."""
    _sync(obj, connection, dry_run=False)


def _sync(obj: Ctx, connection: str | None, *, dry_run: bool) -> None:
    failed = False
    for result in obj.run(obj.services.sources.sync_accounts(connection, dry_run=dry_run)):
        if result.error is not None:
            row = result.connection
            click.echo(f"{row.name} ({row.app}): FAILED: {result.error}", err=True)
            failed = True
            continue
        _print_report(result, dry_run=dry_run)
        failed = failed or bool(result.report and result.report.failed)
    if failed:
        sys.exit(1)
