"""What every engine service shares: the database, and running blocking work off the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from maillon.engine.db import advisory_lock, for_writes, write_turns
from maillon.engine.errors import Conflict, NotFound
from maillon.engine.i18n import gettext as _
from maillon.engine.models import ApiToken, FlowRow, UserRow

__all__ = ["Actor", "Service", "actor_name", "find_flow"]

T = TypeVar("T")

#: Who edits, publishes or replays, for the history: a name (a user's e-mail address, ``cli``),
#: or the API token a request came with (named after its account).
Actor = str | ApiToken | None


#: Who the command line's edits, publishes, replays and runs are recorded as.
COMMAND_LINE = "cli"


def actor_name(s: Session, actor: Actor) -> str | None:
    """``actor`` as the history names them: an API token by its account's e-mail address,
    else (a token made on the command line) by its own name, in the language of the moment."""
    if not isinstance(actor, ApiToken):
        return actor
    user = s.get(UserRow, actor.user_id) if actor.user_id else None
    return user.email if user else _("API token “%(name)s”", name=actor.name)


class Service:
    """Base of the engine services: a database engine and helpers to use it from coroutines."""

    def __init__(self, db: Engine) -> None:
        self.db = db

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        """A new session, as a context manager. ``write=True`` for one that will write."""
        if not write:
            return Session(self.db, expire_on_commit=False)
        return self._writing()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # On SQLite, the writer threads of every process take turns through a file lock; a
        # session that only waited for SQLite's own lock, retried after sleeps, would seldom
        # find it free between two turns while they keep writing (publish, replay, release
        # failing after the busy timeout under load). It takes the same turns.
        with write_turns(self.db), Session(for_writes(self.db), expire_on_commit=False) as s:
            yield s

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


def find_flow(s: Session, ref: str) -> FlowRow:
    """The flow whose id is ``ref``, else the one flow named ``ref``.

    Raises :class:`NotFound`, or :class:`Conflict` when several flows have that name (their
    ids then tell them apart).
    """
    row = s.get(FlowRow, ref)
    if row is not None:
        return row
    named = list(s.exec(select(FlowRow).where(FlowRow.name == ref).order_by(col(FlowRow.id))))
    if not named:
        raise NotFound(_("no flow %(ref)s", ref=ref))
    if len(named) > 1:
        ids = ", ".join(r.id for r in named)
        raise Conflict(
            _(
                "%(count)s flows are named %(name)r (%(ids)s): give the id of one",
                count=len(named),
                name=ref,
                ids=ids,
            )
        )
    return named[0]
