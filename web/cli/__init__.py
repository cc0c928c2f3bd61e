"""The ``maillon`` command line: serve, work, and manage flows, connections, runs and tokens.

Commands that manage an install each call one engine service (through :meth:`Ctx.run`) and
print the result; the groups live in modules of their own (:mod:`.flows`,
:mod:`.connections`, :mod:`.runs`, :mod:`.tokens`). What a person can fix is said in one line
with exit code 1, never as a traceback (see :mod:`._base`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import sys
from functools import partial
from pathlib import Path

import click

from maillon.engine.db import migrate
from maillon.engine.metrics import share_between_processes
from maillon.engine.runtime import Runtime
from maillon.engine.services.install import Install
from maillon.engine.supervisor import listen_for_wakeups
from maillon.web.cli._base import Ctx, pass_ctx, setup_logging, translated, warn_about_legacy_data
from maillon.web.cli.alerts import alerts
from maillon.web.cli.connections import connections, sources
from maillon.web.cli.flows import flows
from maillon.web.cli.keys import keys
from maillon.web.cli.runs import events, runs
from maillon.web.cli.tokens import tokens
from maillon.web.serving import UVICORN_OPTIONS, event_loop_factory, uvicorn_options

__all__ = ["UVICORN_OPTIONS", "main"]

#: How long a thread may keep the GIL once another thread asks for it (Python's default: 5 ms).
#: The writer thread gives the GIL up inside every SQLite call and must win it back from the busy
#: event loop each time, several times per group commit: with the default, those waits were a
#: large part of each commit's time under load, and a shorter interval raised intake throughput
#: (the figures are in tests/benchmarks/README.md, "Why the code is shaped so").
_SWITCH_INTERVAL = 0.0002


#: How ``maillon serve`` starts a worker process: this interpreter and this code, whatever the
#: PATH says.
WORKER_COMMAND = (sys.executable, "-c", "from maillon.web.cli import main; main()", "worker")


def _tune_for_serving() -> None:
    """Interpreter settings for a long-running process with a writer thread beside its loop."""
    sys.setswitchinterval(_SWITCH_INTERVAL)
    # What exists now (modules, the app, its routes and models) lives as long as the process.
    # Frozen, it is no longer walked by every full collection: unfrozen, that walk paused the
    # event loop every few seconds under load, and those pauses made intake's p99 latency.
    gc.collect()
    gc.freeze()


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Maillon: webhooks in, templated connector actions out.

    Configuration comes from MAILLON_* environment variables (see the README); `maillon info`
    shows where this install keeps its data.
    """
    obj = Ctx()
    ctx.obj = obj
    ctx.call_on_close(obj.close)


for group in (flows, connections, sources, runs, events, tokens, keys, alerts):
    main.add_command(group)


@main.command()
@click.option("--host", help="Interface to listen on (MAILLON_HOST).")
@click.option("--port", type=int, help="Port (MAILLON_PORT).")
@click.option(
    "--workers", type=int, help="Worker loops per process that executes runs; 0 serves HTTP only."
)
@click.option(
    "--worker-processes",
    type=int,
    help="Processes that execute runs (MAILLON_WORKER_PROCESSES; default: one per core); 0 "
    "executes them in this process.",
)
@pass_ctx
def serve(
    obj: Ctx,
    host: str | None,
    port: int | None,
    workers: int | None,
    worker_processes: int | None,
) -> None:
    """Serve hooks, the API and the UI, and execute runs in worker processes that it starts.

    Creates the database in the data directory on the first start.
    """
    import uvicorn

    from maillon.web.app import create_app

    options = {"host": host, "port": port, "workers": workers, "worker_processes": worker_processes}
    updates = {k: v for k, v in options.items() if v is not None}
    settings = obj.settings.model_copy(update=updates)
    setup_logging(settings, quiet=False)
    warn_about_legacy_data(settings)
    _check_address(settings.host, settings.port)
    with translated(settings):
        migrate(settings.resolved_database_url, in_child=True, log_format=settings.log_format)
        if (
            (settings.metrics_token or settings.metrics_port)
            and settings.workers
            and settings.worker_processes
        ):
            # Before the first metric exists; the worker processes inherit the setting.
            share_between_processes(settings.data_dir / "metrics")
        runtime = Runtime(settings)
        # Before any thread exists (the app's start starts them): the worker processes are then
        # forked from this one, and share its memory.
        runtime.start_worker_processes(WORKER_COMMAND, fork=partial(main, ["worker"]))
        app = create_app(runtime=runtime)
    click.echo(
        f"Maillon listening on http://{settings.host}:{settings.port} (data: {settings.data_dir})"
    )
    _tune_for_serving()
    if settings.metrics_port is not None:
        # Its own small server in a thread: a scraper on a private network needs no token.
        from prometheus_client import start_http_server

        start_http_server(
            settings.metrics_port, settings.host, registry=app.state.runtime.metrics.registry
        )
    uvicorn.run(app, host=settings.host, port=settings.port, **uvicorn_options(settings))


def _check_address(host: str, port: int) -> None:
    """Say plainly, before anything starts, that the address cannot be listened on (uvicorn
    would log it among its start-up lines and exit with its own status)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror} (another server there? "
            "--port or MAILLON_PORT chooses another)"
        ) from exc


@main.command()
@click.option("--concurrency", type=int, help="Runs executed at once (MAILLON_WORKER_CONCURRENCY).")
@click.option(
    "--scheduler",
    is_flag=True,
    help="Also fire the flows' schedules (schedule triggers, digest releases); any number of "
    "processes may: each tick runs once.",
)
@pass_ctx
def worker(obj: Ctx, concurrency: int | None, scheduler: bool) -> None:
    """Execute queued runs without serving HTTP (and, with --scheduler, fire schedules)."""
    if concurrency is not None:
        obj.settings = obj.settings.model_copy(update={"worker_concurrency": concurrency})
    setup_logging(obj.settings, quiet=False)
    # Forked by `serve`, its command line is serve's: top, htop and `ps -o comm` show this name.
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write("maillon-worker")
    with translated(obj.settings):
        migrate(
            obj.settings.resolved_database_url,
            in_child=True,
            log_format=obj.settings.log_format,
        )
    runtime = obj.runtime
    _tune_for_serving()

    async def work() -> None:
        runtime.start_workers(max(1, obj.settings.workers))
        if scheduler:
            runtime.start_scheduler()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        # Started by `maillon serve`: woken by it, and stopped when it is gone.
        if not listen_for_wakeups(runtime.wakeup.notify_local, stopped.set):
            click.echo("worker started; Ctrl-C stops after the runs in progress")
        await stopped.wait()
        await runtime.stop_scheduler()
        await runtime.stop_workers()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(work())


@main.command("migrate")
@pass_ctx
def migrate_command(obj: Ctx) -> None:
    """Create the database, or bring its schema up to date (also done at every start)."""
    setup_logging(obj.settings, quiet=False)
    with translated(obj.settings):
        migrate(obj.settings.resolved_database_url)
    click.echo("schema is up to date")


@main.command()
@pass_ctx
def info(obj: Ctx) -> None:
    """Where this install keeps its data, and how much it holds (creates nothing)."""
    facts = obj.run(Install(obj.settings).info())
    click.echo(f"Maillon {facts.version}")
    source = "per-user default" if facts.data_dir_is_default else "from MAILLON_DATA_DIR"
    rows = [
        ("database", facts.database),
        ("data dir", f"{facts.data_dir} ({source})"),
        ("secret key", _key(facts.key_file)),
        ("public URL", facts.public_url),
    ]
    if facts.inventory is None:
        rows.append(("contents", facts.problem or "-"))
    else:
        held = facts.inventory
        rows += [
            ("flows", f"{held.flows} ({held.enabled_flows} enabled)"),
            ("connections", str(held.connections)),
            ("queued runs", str(held.queued_runs)),
        ]
    for label, value in rows:
        click.echo(f"{label + ':':<13} {value}")
    if facts.legacy_data_dir is not None:
        warn_about_legacy_data(obj.settings)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@pass_ctx
def backup(obj: Ctx, file: Path) -> None:
    """Copy the SQLite database to FILE, and the key file to FILE.key, while serving.

    The copy is consistent (SQLite's online backup). On PostgreSQL use pg_dump instead; see
    docs/deploy.md for both, and for restoring.
    """
    made = obj.run(Install(obj.settings).backup(file))
    click.echo(f"database copied to {made.database} ({made.size} bytes)")
    if made.key_file is not None:
        click.echo(f"key file copied to {made.key_file}: keep both together, and private")
    else:
        click.echo("the key is in MAILLON_SECRET_KEY: keep a copy of it with the backup")


def _key(path: Path | None) -> str:
    if path is None:
        return "from MAILLON_SECRET_KEY"
    return str(path) if path.exists() else f"{path} (created on the first start)"
