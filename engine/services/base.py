"""What every engine service shares: the database, and running blocking work off the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from maillon.engine.db import advisory_lock, for_writes

__all__ = ["Service"]

T = TypeVar("T")


class Service:
    """Base of the engine services: a database engine and helpers to use it from coroutines."""

    def __init__(self, db: Engine) -> None:
        self.db = db

    def session(self, *, write: bool = False) -> Session:
        """A new session; use as a context manager. ``write=True`` for one that will write."""
        return Session(for_writes(self.db) if write else self.db, expire_on_commit=False)

    @staticmethod
    async def sync(fn: Callable[..., T], *args: object) -> T:
        """Run blocking ``fn(*args)`` (database work) in a worker thread and return its result."""
        return await anyio.to_thread.run_sync(fn, *args)

    @asynccontextmanager
    async def across_processes(self, name: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """Hold the lock ``name`` across processes sharing the database for the ``async with``
        block (see :func:`~maillon.engine.db.advisory_lock`); yields whether it is held."""
        stack = ExitStack()
        # Waiting for the lock in a thread keeps the event loop free meanwhile.
        held = await self.sync(stack.enter_context, advisory_lock(self.db, name, wait=wait))
        try:
            yield held
        finally:
            await self.sync(stack.close)
