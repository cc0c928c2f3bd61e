"""The ``maillon`` command line: serve, work, and manage flows, connections and tokens."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from maillon.engine.db import migrate
from maillon.engine.errors import Conflict, Invalid, NotFound
from maillon.engine.runtime import Runtime
from maillon.engine.services import Services
from maillon.engine.services.flows import FlowView
from maillon.engine.services.sources import SourceSync
from maillon.engine.settings import Settings

__all__ = ["UVICORN_OPTIONS", "main"]

T = TypeVar("T")

#: How ``maillon serve`` runs uvicorn. uvloop and httptools are named rather than left to "auto",
#: so that a missing extra fails at start instead of silently serving far fewer requests; the
#: access log is off because one log line per hook costs more than parsing the request.
UVICORN_OPTIONS: dict[str, object] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "log_config": None,
}


#: How long a thread may keep the GIL once another thread asks for it (Python's default: 5 ms).
#: The writer thread gives the GIL up inside every SQLite call and must win it back from the busy
#: event loop each time, several times per group commit: with the default, those waits were a
#: large part of each commit's time under load, and a shorter interval raised intake throughput
#: (the figures are in tests/benchmarks/README.md, "Why the code is shaped so").
_SWITCH_INTERVAL = 0.0002


def _tune_for_serving() -> None:
    """Interpreter settings for a long-running process with a writer thread beside its loop."""
    sys.setswitchinterval(_SWITCH_INTERVAL)
    # What exists now (modules, the app, its routes and models) lives as long as the process.
    # Frozen, it is no longer walked by every full collection: unfrozen, that walk paused the
    # event loop every few seconds under load, and those pauses made intake's p99 latency.
    gc.collect()
    gc.freeze()


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # A command that migrates logs one line of its own (maillon.engine.db); Alembic's lines
    # (its context, each revision) add nothing to it.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


class _Ctx:
    """Opens the database lazily, so that ``--help`` needs no data directory."""

    def __init__(self) -> None:
        self.settings = Settings()
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            _setup_logging(self.settings)
            self._runtime = Runtime(self.settings)
            self._runtime.open()
        return self._runtime

    @property
    def services(self) -> Services:
        return self.runtime.services

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run one service call to completion: the CLI's one bridge to the async engine.

        The engine's errors become one line for the user and exit code 1.
        """
        try:
            return asyncio.run(work)
        except (NotFound, Conflict, Invalid) as exc:
            raise click.ClickException(str(exc)) from exc

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


pass_ctx = click.make_pass_decorator(_Ctx)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Maillon: webhooks in, templated connector actions out.

    Configuration comes from MAILLON_* environment variables (see the README).
    """
    obj = _Ctx()
    ctx.obj = obj
    ctx.call_on_close(obj.close)


@main.command()
@click.option("--host", help="Interface to listen on (MAILLON_HOST).")
@click.option("--port", type=int, help="Port (MAILLON_PORT).")
@click.option("--workers", type=int, help="In-process workers; 0 serves HTTP only.")
@pass_ctx
def serve(obj: _Ctx, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve hooks and the API, and execute runs in this process."""
    import uvicorn

    from maillon.web.app import create_app

    settings = obj.settings
    updates = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    settings = settings.model_copy(update=updates)
    _setup_logging(settings)
    migrate(settings.resolved_database_url, in_child=True)
    app = create_app(settings)
    click.echo(
        f"Maillon listening on http://{settings.host}:{settings.port} (data: {settings.data_dir})"
    )
    _tune_for_serving()
    uvicorn.run(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)  # type: ignore[arg-type]


@main.command()
@click.option("--concurrency", type=int, help="Runs executed at once (MAILLON_WORKER_CONCURRENCY).")
@pass_ctx
def worker(obj: _Ctx, concurrency: int | None) -> None:
    """Execute queued runs without serving HTTP."""
    if concurrency is not None:
        obj.settings = obj.settings.model_copy(update={"worker_concurrency": concurrency})
    migrate(obj.settings.resolved_database_url, in_child=True)
    runtime = obj.runtime
    _tune_for_serving()

    async def work() -> None:
        runtime.start_workers(max(1, obj.settings.workers))
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        click.echo("worker started; Ctrl-C stops after the runs in progress")
        await stopped.wait()
        await runtime.stop_workers()

    asyncio.run(work())


@main.command("migrate")
@pass_ctx
def migrate_command(obj: _Ctx) -> None:
    """Apply database migrations (also done at every start)."""
    _setup_logging(obj.settings)
    migrate(obj.settings.resolved_database_url)
    click.echo("schema is up to date")


# -- flows ---------------------------------------------------------------------------------


@main.group()
def flows() -> None:
    """Import, export and list flows."""


@flows.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def flows_import(obj: _Ctx, files: tuple[str, ...]) -> None:
    """Create or update flows from YAML files (a document with an `id` updates that flow)."""
    failed = False
    for path in files:
        try:
            results = asyncio.run(obj.services.flows.import_yaml(Path(path).read_text()))
        except Invalid as exc:
            click.echo(f"{path}: {exc}", err=True)
            failed = True
            continue
        for result in results:
            if result.view is None:
                click.echo(f"{path}: {result.name}: {'; '.join(result.problems)}", err=True)
                failed = True
                continue
            row = result.view.row
            click.echo(f"{row.id}  {row.name}\n    {_where(result.view)}")
    if failed:
        sys.exit(1)


@flows.command("export")
@click.argument("flow_id", required=False)
@pass_ctx
def flows_export(obj: _Ctx, flow_id: str | None) -> None:
    """Print flows (one, or all) as YAML, ready for `maillon flows import`."""
    click.echo(obj.run(obj.services.flows.export_yaml(flow_id)), nl=False)


@flows.command("list")
@pass_ctx
def flows_list(obj: _Ctx) -> None:
    """List flows with their hook URLs."""
    for v in obj.run(obj.services.flows.all()):
        state = "enabled " if v.row.enabled else "disabled"
        click.echo(f"{v.row.id}  {state}  {v.row.name}\n    {_where(v)}")


def _where(view: FlowView) -> str:
    """Where a flow's events arrive, and for app triggers whether the app registered it."""
    if view.hook_url is not None:
        return f"hook: {view.hook_url}"
    sub = view.subscription
    if sub is None:
        return "app event: not registered (no enabled flow yet)"
    line = f"app event: {sub.url} [{sub.status}]"
    return line + (f"\n    REFUSED: {sub.error}" if sub.error else "")


# -- connections ---------------------------------------------------------------------------


@main.group()
def connections() -> None:
    """Add and list connections (secrets are stored encrypted and never printed)."""


def _values(pairs: tuple[str, ...]) -> dict[str, object]:
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        # Objects and lists (e.g. default headers) are given as JSON; everything else as text,
        # which the connection model converts (port=587 becomes an integer).
        values[key.strip()] = json.loads(value) if value.strip()[:1] in ("{", "[") else value
    return values


_SET = click.option(
    "--set", "pairs", multiple=True, metavar="KEY=VALUE", help="A field; JSON for objects/lists."
)


@connections.command("add")
@click.argument("app")
@click.argument("name")
@_SET
@pass_ctx
def connections_add(obj: _Ctx, app: str, name: str, pairs: tuple[str, ...]) -> None:
    """Save a connection for APP (e.g. slack) under NAME; an existing NAME is updated."""
    view = obj.run(obj.services.connections.put(app, name, _values(pairs)))
    secrets = ", ".join(view.secrets_set) or "-"
    click.echo(f"{view.row.id}  {view.row.app}  {view.row.name}  secrets set: {secrets}")


@connections.command("list")
@pass_ctx
def connections_list(obj: _Ctx) -> None:
    """List connections (never their secrets)."""
    for v in obj.run(obj.services.connections.all()):
        click.echo(f"{v.row.id}  {v.row.app:<16} {v.row.name}  config: {json.dumps(v.config)}")


@connections.command("test")
@click.argument("name")
@pass_ctx
def connections_test(obj: _Ctx, name: str) -> None:
    """Ask the app whether NAME's credentials work."""
    check = obj.run(obj.services.connections.test(name))
    said = {True: "ok: ", False: "FAILED: ", None: "not tested: "}[check.ok]
    click.echo(said + check.message)
    if check.ok is False:
        sys.exit(1)


@connections.command("connect")
@click.argument("app")
@click.argument("name")
@_SET
@pass_ctx
def connections_connect(obj: _Ctx, app: str, name: str, pairs: tuple[str, ...]) -> None:
    """Connect an account of APP (e.g. google) as NAME with OAuth: prints the URL to open.

    --set gives what the app needs before consent (client_id, client_secret, a tenant...).
    """
    consent = obj.run(obj.services.oauth.start(app, name, _values(pairs)))
    click.echo(f"Open this URL within {consent.expires_in // 60} minutes and grant access:")
    click.echo(consent.authorize_url)
    click.echo(f"(The app must list {consent.redirect_uri} as an authorized redirect URI.)")


# -- sources -------------------------------------------------------------------------------


@main.group()
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
def sources_status(obj: _Ctx, connection: str | None) -> None:
    """Compare what is registered at the app with what enabled flows need (changes nothing)."""
    _sync(obj, connection, dry_run=True)


@sources.command("repair")
@click.argument("connection", required=False)
@pass_ctx
def sources_repair(obj: _Ctx, connection: str | None) -> None:
    """Register what is missing at the app and remove this install's stale URLs."""
    _sync(obj, connection, dry_run=False)


def _sync(obj: _Ctx, connection: str | None, *, dry_run: bool) -> None:
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


# -- tokens --------------------------------------------------------------------------------


@main.group()
def tokens() -> None:
    """API tokens (bearer tokens for /api)."""


@tokens.command("create")
@click.argument("name")
@pass_ctx
def tokens_create(obj: _Ctx, name: str) -> None:
    """Create a token and print it once; only its hash is kept."""
    row, plaintext = obj.run(obj.services.tokens.create(name))
    click.echo(plaintext)
    click.echo(f"(token {row.id} '{name}': store it now, it cannot be shown again)", err=True)


@tokens.command("list")
@pass_ctx
def tokens_list(obj: _Ctx) -> None:
    """List tokens (names and ids only)."""
    for r in obj.run(obj.services.tokens.list()):
        click.echo(f"{r.id}  {r.name}")


@tokens.command("revoke")
@click.argument("token_id")
@pass_ctx
def tokens_revoke(obj: _Ctx, token_id: str) -> None:
    """Revoke a token by id."""
    obj.run(obj.services.tokens.revoke(token_id))
    click.echo("revoked")
