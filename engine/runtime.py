"""The engine assembled: database, writer, connections, executor and workers for one process."""

from __future__ import annotations

import asyncio
import logging

from maillon.connectors.registry import Registry, default_registry
from maillon.engine.connections import ConnectionResolver
from maillon.engine.crypto import SecretBox
from maillon.engine.db import create_db_engine, migrate
from maillon.engine.executor import Executor, RetryPolicy
from maillon.engine.intake import Accepted
from maillon.engine.services.accounts import Accounts
from maillon.engine.services.tokens import Tokens
from maillon.engine.settings import Settings
from maillon.engine.sources import Sources
from maillon.engine.store import Store
from maillon.engine.worker import Wakeup, Worker
from maillon.engine.writer import Op, Writer

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Owns the process-wide engine objects. ``open()`` before use, ``close()`` after."""

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or default_registry
        self.db = create_db_engine(settings.resolved_database_url)
        self.box = SecretBox(settings.encryption_key)
        self.writer = Writer(self.db)
        self.wakeup = Wakeup()
        self.connections = ConnectionResolver(self.db, self.box)
        self.sources = Sources(self.db, self.registry, self.connections, settings.base_url)
        self.executor = Executor(
            engine=self.db,
            writer=self.writer,
            registry=self.registry,
            connections=self.connections,
            policy=RetryPolicy(
                base_delay=settings.retry_base_delay,
                max_delay=settings.retry_max_delay,
                default_max_attempts=settings.default_max_attempts,
            ),
            step_timeout=settings.step_timeout,
            lease_seconds=settings.lease_seconds,
        )
        self.tokens = Tokens(self.db)
        self.accounts = Accounts(self.db, self.tokens, session_lifetime=settings.session_lifetime)
        self._stop = asyncio.Event()
        self._worker_tasks: list[asyncio.Task[None]] = []

    def store(self) -> Store:
        """Data access for the API and the CLI, bound to this runtime."""
        return Store(self.db, self.registry, self.box, self.sources)

    def open(self) -> None:
        """Migrate the schema and start the writer."""
        migrate(self.settings.resolved_database_url)
        self.writer.start()

    def close(self) -> None:
        """Stop the writer (after it has committed what it was given) and the pool."""
        self.writer.stop()
        self.db.dispose()

    async def deliver(self, delivery: Op[Accepted]) -> Accepted:
        """Store a delivery and queue its runs; return once committed, and wake the workers."""
        accepted = await self.writer.submit(delivery)
        if accepted.run_ids and not accepted.held and not accepted.duplicate:
            self.wakeup.notify()
        return accepted

    def start_workers(self, count: int | None = None) -> None:
        """Start ``count`` worker loops in the running event loop."""
        self._stop = asyncio.Event()
        for _ in range(self.settings.workers if count is None else count):
            worker = Worker(
                writer=self.writer,
                executor=self.executor,
                wakeup=self.wakeup,
                concurrency=self.settings.worker_concurrency,
                lease_seconds=self.settings.lease_seconds,
                poll_interval=self.settings.poll_interval,
            )
            self._worker_tasks.append(asyncio.create_task(worker.run(self._stop)))

    async def stop_workers(self) -> None:
        """Ask workers to stop claiming, wait for the runs in progress, close connector pools."""
        self._stop.set()
        if self._worker_tasks:
            await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        self._worker_tasks.clear()
        await self.registry.aclose()
