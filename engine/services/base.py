"""What every engine service shares: the database, and running blocking work off the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from maillon.engine.db import for_writes

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
