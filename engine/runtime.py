"""The engine assembled for one process: database, writer, services, executor and workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence

import anyio

from maillon.connectors.outbound import OutboundPolicy, configure_outbound
from maillon.connectors.registry import Registry, default_registry
from maillon.engine.alerts import AlertSender
from maillon.engine.connections import ConnectionResolver
from maillon.engine.crypto import SecretBox
from maillon.engine.db import create_db_engine, migrate
from maillon.engine.executor import Executor, RetryPolicy
from maillon.engine.limits import FailureLimit
from maillon.engine.metrics import Metrics, PrometheusMetrics
from maillon.engine.redaction import install_log_redaction
from maillon.engine.scheduler import Scheduler
from maillon.engine.services import (
    Accounts,
    Alerts,
    Connections,
    Editor,
    Flows,
    Hooks,
    Install,
    Keys,
    Monitoring,
    OAuth,
    Retention,
    Runs,
    Schedules,
    Services,
    Sources,
    Stats,
    Tokens,
)
from maillon.engine.services.monitoring import read_queue
from maillon.engine.settings import Settings
from maillon.engine.supervisor import SUPPORTED, Supervisor
from maillon.engine.templating import Budget
from maillon.engine.wakeup import SCHEDULES_CHANNEL, PgWakeups, Wakeup
from maillon.engine.worker import Worker
from maillon.engine.writer import Writer

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Owns the process-wide engine objects. ``open()`` before use, ``close()`` after."""

    #: The engine services of this process, for the API, the CLI and the UI.
    services: Services

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        install_log_redaction()
        self.settings = settings
        self.registry = registry or default_registry
        configure_outbound(
            OutboundPolicy(allow=tuple(settings.outbound_allow), deny=tuple(settings.outbound_deny))
        )
        self.db = create_db_engine(settings.resolved_database_url)
        self.box = SecretBox(settings.encryption_key, key_file=settings.key_file)
        db = self.db
        self.metrics: Metrics = (
            PrometheusMetrics(lambda: read_queue(db))
            if settings.metrics_token or settings.metrics_port
            else Metrics()
        )
        self.writer = Writer(self.db, metrics=self.metrics)
        #: What rendering one step input (or a dedup key) may cost.
        self.budget = Budget(settings.template_time_budget, settings.template_output_budget)
        self.wakeup = Wakeup()
        #: Set when this process changes a flow: its scheduler reads the schedules again.
        self.schedule_changes = Wakeup()
        # On PostgreSQL other processes may share the queue: relay wake-ups to them, and the
        # changes of flows to their schedulers.
        notify = self.db.dialect.name == "postgresql" and settings.pg_notify
        url = settings.resolved_database_url
        self.pg_wakeups = PgWakeups(url, self.wakeup) if notify else None
        self.pg_schedule_changes = (
            PgWakeups(url, self.schedule_changes, SCHEDULES_CHANNEL) if notify else None
        )
        self.connections = ConnectionResolver(self.db, self.box)
        sources = Sources(self.db, self.registry, self.connections, settings.base_url)
        # The connection test renews OAuth tokens through the OAuth service, which is built
        # just after (it needs the connections): the call looks it up when a test runs.
        connections = Connections(
            self.db,
            self.registry,
            self.box,
            self.connections,
            sources,
            fresh=lambda *args, **kwargs: self.services.oauth.fresh(*args, **kwargs),
        )
        oauth = OAuth(self.db, self.box, connections, settings)
        self.executor = Executor(
            engine=self.db,
            writer=self.writer,
            registry=self.registry,
            connections=self.connections,
            fresh=oauth.fresh,
            policy=RetryPolicy(
                base_delay=settings.retry_base_delay,
                max_delay=settings.retry_max_delay,
                default_max_attempts=settings.default_max_attempts,
            ),
            step_timeout=settings.step_timeout,
            lease_seconds=settings.lease_seconds,
            budget=self.budget,
            box=self.box,
            metrics=self.metrics,
            base_url=settings.base_url,
            language=(settings.default_locale, settings.default_time_zone),
        )
        self.alert_sender = AlertSender(
            self.db,
            self.executor,
            settings.base_url,
            poll_interval=settings.alert_poll_interval,
            lease_seconds=settings.step_timeout + 60,
            retry_delay=settings.alert_retry_delay,
        )
        tokens = Tokens(
            self.db,
            failures=FailureLimit(
                "wrong API tokens", settings.token_failures_per_client, settings.limit_window
            ),
        )
        runs = Runs(self.db, self.wakeup, self.metrics, settings.default_locale)
        flows = Flows(
            self.db,
            self.registry,
            connections,
            sources,
            runs,
            settings.base_url,
            self.box,
            self.metrics,
            changed=self.schedule_changes.notify,
        )
        self.services = Services(
            flows=flows,
            runs=runs,
            connections=connections,
            sources=sources,
            oauth=oauth,
            tokens=tokens,
            accounts=Accounts(self.db, tokens, session_lifetime=settings.session_lifetime),
            hooks=Hooks(
                self.writer,
                self.wakeup,
                self.registry,
                settings.source_dedup_window,
                self.budget,
                max_depth=settings.max_body_depth,
                masked=settings.masked_fields,
                unknown_limit=FailureLimit(
                    "requests to unknown hooks",
                    settings.unknown_hooks_per_client,
                    settings.limit_window,
                ),
                metrics=self.metrics,
                box=self.box,
            ),
            editor=Editor(self.db, self.registry, self.executor, flows, self.budget),
            stats=Stats(self.db),
            install=Install(settings, self.db),
            schedules=Schedules(self.db, self.writer, self.wakeup),
            monitoring=Monitoring(self.db, self.writer, self.metrics, settings),
            keys=Keys(self.db, self.box, settings),
            retention=Retention(self.db, self.writer, settings),
            alerts=Alerts(self.db, self.registry, self.alert_sender),
        )
        self._stop = asyncio.Event()
        self._worker_tasks: list[asyncio.Task[None]] = []
        #: The worker processes, when runs are executed in processes of their own.
        self.supervisor: Supervisor | None = None
        self._scheduler_stop = asyncio.Event()
        self._scheduler_task: asyncio.Task[None] | None = None

    def open(self) -> None:
        """Bring the schema up to date (in this process) and start the writer.

        ``maillon serve`` and ``maillon worker`` migrate in a child process first, so that here
        the schema is found current and Alembic is never loaded in a server.
        """
        migrate(self.settings.resolved_database_url)
        self.writer.start()
        for relay in (self.pg_wakeups, self.pg_schedule_changes):
            if relay is not None:
                relay.start_relaying()

    def close(self) -> None:
        """Stop the writer (after it has committed what it was given) and the pool."""
        for relay in (self.pg_wakeups, self.pg_schedule_changes):
            if relay is not None:
                relay.stop()
        self.writer.stop()
        self.db.dispose()

    def start_worker_processes(
        self, command: Sequence[str], fork: Callable[[], object] | None = None
    ) -> None:
        """With ``worker_processes`` and ``workers`` in the settings, execute runs in that many
        processes of their own, each with ``workers`` worker loops (see
        :mod:`maillon.engine.supervisor`); :meth:`start_workers` then starts none in this one.

        ``command``: the command line of a worker process (``maillon worker``); ``fork``: what
        a child forked from this process runs instead, the same. Called before this process
        starts a thread, the children are forked and share the memory of its modules.
        """
        count = self.settings.workers
        if not (count and self.settings.worker_processes and SUPPORTED):
            return
        # The settings that `serve`'s options may have changed from the environment: the links
        # the workers write (alerts, error flows' ``run.url``) name the address it listens on.
        env = {
            **os.environ,
            "MAILLON_WORKERS": str(count),
            "MAILLON_HOST": self.settings.host,
            "MAILLON_PORT": str(self.settings.port),
        }
        self.supervisor = Supervisor(command, self.settings.worker_processes, env, fork=fork)
        self.supervisor.start()
        self.wakeup.relays.append(self.supervisor.notify)

    def start_workers(self, count: int | None = None) -> None:
        """Start ``count`` worker loops in the running event loop, the retention sweep and the
        sender of failure alerts; none when :meth:`start_worker_processes` started processes
        that execute the runs."""
        self._stop = asyncio.Event()
        if self.supervisor is not None:
            return
        count = self.settings.workers if count is None else count
        if self.pg_wakeups is not None:
            self.pg_wakeups.start_listening()
        for _ in range(count):
            worker = Worker(
                writer=self.writer,
                executor=self.executor,
                wakeup=self.wakeup,
                concurrency=self.settings.worker_concurrency,
                lease_seconds=self.settings.lease_seconds,
                poll_interval=self.settings.poll_interval,
                max_takeovers=self.settings.max_takeovers,
            )
            self._worker_tasks.append(asyncio.create_task(worker.run(self._stop)))
        if count:
            self._worker_tasks.append(asyncio.create_task(self._sweep_now_and_then(self._stop)))
            self._worker_tasks.append(asyncio.create_task(self.alert_sender.run(self._stop)))

    async def _sweep_now_and_then(self, stop: asyncio.Event) -> None:
        """Retention, in every process with workers; one of them sweeps at a time."""
        interval = self.settings.retention_interval
        # The first sweep comes soon after a start, so that a process restarted more often
        # than the interval still sweeps.
        delay = min(60.0, interval)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            try:
                pruned = await self.services.retention.sweep()
            except Exception:
                log.exception("the retention sweep failed; next try in %.0f s", interval)
            else:
                if pruned and (pruned.runs or pruned.events):
                    log.info("retention: %d runs and %d events deleted", pruned.runs, pruned.events)
            delay = interval

    def start_scheduler(self, clock: Callable[[], float] = time.time) -> None:
        """Start firing the flows' schedules in the running event loop (see
        :mod:`maillon.engine.scheduler`); ``clock`` reckons missed ticks."""
        scheduler = Scheduler(
            engine=self.db,
            writer=self.writer,
            wakeup=self.wakeup,
            changes=self.schedule_changes,
            sync_interval=self.settings.schedule_sync_interval,
            grace=self.settings.schedule_grace,
            clock=clock,
        )
        if self.pg_schedule_changes is not None:
            self.pg_schedule_changes.start_listening()
        self._scheduler_stop = asyncio.Event()
        self._scheduler_task = asyncio.create_task(scheduler.run(self._scheduler_stop))

    async def stop_scheduler(self) -> None:
        """Stop firing ticks (the ticks being stored are stored first)."""
        if self._scheduler_task is not None:
            self._scheduler_stop.set()
            await self._scheduler_task
            self._scheduler_task = None

    async def stop_workers(self) -> None:
        """Ask workers to stop claiming, wait for the runs in progress, close connector pools."""
        self._stop.set()
        if self.supervisor is not None:
            self.wakeup.relays.remove(self.supervisor.notify)
            # In a thread: the children take as long as the steps in progress to stop (their
            # runs go back to the queue before the next one), which a step may make as long as
            # its timeout; a child killed sooner would leave its step to be sent again by
            # whichever process takes its run over.
            grace = self.settings.step_timeout + 15
            await anyio.to_thread.run_sync(self.supervisor.stop, grace)
            self.supervisor = None
        if self._worker_tasks:
            await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        self._worker_tasks.clear()
        await self.registry.aclose()
